"""The serving metrics give what prometheus-client's own Counter and Histogram would."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from podium.serving.metrics import LABELS, LATENCY_BUCKETS, ServingMetrics

observations = st.lists(
    st.tuples(
        st.sampled_from(["predict", "v2"]),
        st.sampled_from([200, 422, 500]),
        st.floats(min_value=0, max_value=20, allow_nan=False),
        st.integers(min_value=0, max_value=10_000),
    ),
    max_size=40,
)


def _samples(text: bytes) -> set[str]:
    """Sample lines, without the ``_created`` timestamps only prometheus-client writes."""
    return {
        line
        for line in text.decode().splitlines()
        if line and not line.startswith("#") and "_created" not in line
    }


@settings(max_examples=60, deadline=None)
@given(observations)
def test_scrape_equals_prometheus_client_families(obs: list[tuple[str, int, float, int]]) -> None:
    ours = ServingMetrics()
    registry = CollectorRegistry()
    requests = Counter("podium_requests", "", (*LABELS, "code"), registry=registry)
    latency = Histogram(
        "podium_request_duration_seconds", "", LABELS, buckets=LATENCY_BUCKETS, registry=registry
    )
    rows = Counter("podium_predicted_rows", "", LABELS, registry=registry)
    for protocol, code, seconds, n in obs:
        ours.observe("m", "3", protocol, code, seconds, n, "onnx")
        key = ("m", "3", protocol, "onnx")
        requests.labels(*key, str(code)).inc()
        if code < 400:
            latency.labels(*key).observe(seconds)
            rows.labels(*key).inc(n)
    mine = {s for s in _samples(ours.render()) if "podium_model_ready" not in s}
    assert mine == _samples(generate_latest(registry))
