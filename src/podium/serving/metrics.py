"""Prometheus metrics of one server, in its own registry (several apps can share a process)."""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.utils import floatToGoString

LABELS = ("model", "version", "protocol", "flavor")
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)
# The ``le`` labels as prometheus-client writes them ("1.0", "+Inf").
_BOUNDS = tuple(floatToGoString(b) for b in (*LATENCY_BUCKETS, math.inf))  # type: ignore[no-untyped-call]


class _Requests:
    """Request counts, latencies and rows, kept as plain numbers on the hot path and turned
    into Prometheus families only when scraped (prometheus-client's custom collector API).

    A labelled Counter and Histogram cost a lock, a value object and a bucket scan per
    observation: about a tenth of a single-row prediction on the ONNX fast path. Here an
    observation is a dictionary lookup, a bisection and three additions. Only the event
    loop observes (the model may run in a thread, the bookkeeping does not).
    """

    def __init__(self) -> None:
        self.counts: dict[tuple[str, ...], int] = {}  # (model, version, protocol, flavor, code)
        # (model, version, protocol, flavor) -> [bucket counts..., +Inf count, sum, rows]
        self.timing: dict[tuple[str, ...], list[float]] = {}

    def observe(self, key: tuple[str, ...], code: int, seconds: float, rows: int) -> None:
        ckey = (*key, str(code))
        self.counts[ckey] = self.counts.get(ckey, 0) + 1
        if code >= 400:
            return
        t = self.timing.get(key)
        if t is None:
            t = self.timing[key] = [0.0] * (len(LATENCY_BUCKETS) + 3)
        t[bisect_left(LATENCY_BUCKETS, seconds)] += 1
        t[-2] += seconds
        t[-1] += rows

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "podium_requests", "Prediction requests by outcome.", labels=(*LABELS, "code")
        )
        for ckey, n in list(self.counts.items()):
            requests.add_metric(ckey, n)
        latency = HistogramMetricFamily(
            "podium_request_duration_seconds",
            "Time to answer a prediction request.",
            labels=LABELS,
        )
        rows = CounterMetricFamily("podium_predicted_rows", "Rows predicted.", labels=LABELS)
        for key, t in list(self.timing.items()):
            cumulative, buckets = 0.0, []
            for bound, hits in zip(_BOUNDS, t[:-2], strict=True):
                cumulative += hits
                buckets.append((bound, cumulative))
            latency.add_metric(key, buckets, t[-2])
            rows.add_metric(key, t[-1])
        yield requests
        yield latency
        yield rows


class ServingMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        # flavor: what answered (onnx for the fast path, sklearn, ...; X-Podium-Flavor).
        self.requests = _Requests()
        self.registry.register(self.requests)
        self.ready = Gauge(
            "podium_model_ready",
            "1 when the model is loaded and answering.",
            ("model", "version"),
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "podium_batch_rows",
            "Rows per model call when micro-batching is on.",
            ("model", "version"),
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024),
            registry=self.registry,
        )
        self.batch_wait = Histogram(
            "podium_batch_queue_seconds",
            "Time a request waited for its batch to start when micro-batching is on.",
            ("model", "version"),
            buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1),
            registry=self.registry,
        )

    def observe(
        self,
        model: str,
        version: str,
        protocol: str,
        code: int,
        seconds: float,
        rows: int,
        flavor: str = "",
    ) -> None:
        self.requests.observe((model, version, protocol, flavor), code, seconds, rows)

    def render(self) -> bytes:
        return generate_latest(self.registry)
