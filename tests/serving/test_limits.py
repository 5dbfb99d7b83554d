"""Request limits over real HTTP: body, rows and headers (413/431) and per-client rates (429)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.conftest import Trained
from tests.serving.conftest import Served, record

from podium.client import Client
from podium.core.errors import ConfigError, RateLimitedError
from podium.serving import Limits, create_app, start_in_thread
from podium.serving.limits import RateLimit, RateLimiter


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory, trained: Trained) -> Iterator[str]:
    """A server with small limits and a rate of 2 requests per second, bursts of 3."""
    client = Client(home=tmp_path_factory.mktemp("limits"))
    client.register_model(trained.model, "cancer", input_example=trained.X[:5])
    limits = Limits(
        max_body_bytes=16 * 1024,
        max_rows=20,
        max_header_bytes=2048,
        rate_limit=RateLimit.parse("120/min", burst=3),
    )
    server = start_in_thread(create_app(client.load("cancer/1"), limits=limits))
    yield server.url
    server.stop()
    client.workspace.close()


def _limit(r: httpx.Response) -> dict[str, Any]:
    body: dict[str, Any] = r.json()
    return body["limit"]


def test_a_body_over_the_limit_is_a_413_naming_the_limit_and_its_value(
    limited: str, trained: Trained
) -> None:
    big = {"records": [record(trained)] * 30}  # ~25 KiB
    r = httpx.post(f"{limited}/predict", content=json.dumps(big), headers={"x-podium-key": "a"})
    assert r.status_code == 413, r.text
    assert _limit(r) == {"name": "max_body_bytes", "value": 16 * 1024}
    assert r.json()["field"] == "body" and "PODIUM_MAX_BODY_BYTES" in r.json()["hint"]
    assert r.headers["x-request-id"] == r.json()["request_id"]


def test_a_batch_over_max_rows_is_a_413_on_every_protocol(limited: str, trained: Trained) -> None:
    rows = [record(trained, i) for i in range(21)]
    auth = {"authorization": "Bearer rows"}  # a bucket of its own (burst 3): rate is not the point
    r = httpx.post(f"{limited}/predict", json={"records": rows}, headers=auth)
    assert r.status_code == 413 and _limit(r) == {"name": "max_rows", "value": 20}
    split = {
        "dataframe_split": {"columns": list(rows[0]), "data": [list(x.values()) for x in rows]}
    }
    r = httpx.post(f"{limited}/invocations", json=split, headers=auth)
    assert r.status_code == 413 and r.json()["field"] == "rows"


@pytest.mark.parametrize("path", ["/v2/health/ready", "/predict"])
def test_headers_over_the_limit_are_a_431_before_the_app(limited: str, path: str) -> None:
    r = httpx.request(
        "GET" if "health" in path else "POST",
        f"{limited}{path}",
        headers={"cookie": "x" * 3000},
        content=b"{}" if path == "/predict" else None,
    )
    assert r.status_code == 431, r.text
    assert r.json()["type"] == "HeadersTooLargeError"
    assert _limit(r) == {"name": "max_header_bytes", "value": 2048}
    assert r.headers["connection"] == "close"
    # headers just under the limit pass, and the server keeps serving
    assert httpx.get(f"{limited}/v2/health/ready", headers={"x-a": "y" * 1500}).status_code == 200


def test_a_client_over_its_rate_gets_429_with_retry_after(limited: str, trained: Trained) -> None:
    body = {"records": [record(trained)]}
    with httpx.Client(base_url=limited, headers={"authorization": "Bearer one"}) as one:
        codes = [one.post("/predict", json=body).status_code for _ in range(5)]
        assert codes[:3] == [200, 200, 200] and 429 in codes[3:], codes
        r = one.post("/predict", json=body)
        assert r.status_code == 429
        assert r.headers["retry-after"] == "1"
        assert r.json()["type"] == "RateLimitedError" and r.json()["retry_after"] == 1
        assert _limit(r) == {"name": "rate_limit", "value": "120/min"}
        # Another token is another client; health checks and metadata are never limited.
        other = httpx.post(f"{limited}/predict", json=body, headers={"authorization": "Bearer two"})
        assert other.status_code == 200
        assert all(one.get("/v2/health/ready").status_code == 200 for _ in range(10))
        time.sleep(1.1)  # 2 requests a second: a token is back
        assert one.post("/predict", json=body).status_code == 200
        metrics = one.get("/metrics").text
    assert 'code="429"' in metrics  # limited requests are counted like any other answer


def test_the_rate_is_off_by_default(served: Served) -> None:
    body = {"records": [record(served.trained)]}
    assert {served.client.post("/predict", json=body).status_code for _ in range(30)} == {200}


def test_limits_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PODIUM_MAX_BODY_BYTES", "PODIUM_MAX_ROWS", "PODIUM_MAX_HEADER_BYTES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("PODIUM_RATE_LIMIT", raising=False)
    default = Limits.from_env()
    assert (default.max_body_bytes, default.max_rows, default.max_header_bytes) == (
        10 * 1024 * 1024,
        10_000,
        16 * 1024,
    )
    assert default.rate_limit is None
    monkeypatch.setenv("PODIUM_MAX_HEADER_BYTES", "4096")
    monkeypatch.setenv("PODIUM_RATE_LIMIT", "600/min")
    monkeypatch.setenv("PODIUM_RATE_BURST", "5")
    limits = Limits.from_env()
    assert limits.max_header_bytes == 4096
    assert limits.rate_limit == RateLimit(600, 60, 5, "600/min")
    assert limits.rate_limit.per_second == 10
    monkeypatch.setenv("PODIUM_RATE_LIMIT", "off")
    assert Limits.from_env().rate_limit is None
    monkeypatch.setenv("PODIUM_RATE_LIMIT", "lots")
    with pytest.raises(ConfigError, match=r"Rate limit 'lots' is not a rate") as info:
        Limits.from_env()
    assert "100/s" in (info.value.hint or "")


@pytest.mark.parametrize(
    ("text", "per_second", "burst"),
    [("100/s", 100, 100), ("10/5s", 2, 10), ("3600/hour", 1, 3600), ("2.5/second", 2.5, 2.5)],
)
def test_rates_parse(text: str, per_second: float, burst: float) -> None:
    rate = RateLimit.parse(text)
    assert rate.per_second == pytest.approx(per_second) and rate.burst == burst


@pytest.mark.parametrize("text", ["0/s", "10/0s", "10/fortnight", "ten/s"])
def test_bad_rates_are_config_errors(text: str) -> None:
    with pytest.raises(ConfigError):
        RateLimit.parse(text)


def test_a_token_bucket_refills_at_the_rate_and_caps_at_the_burst() -> None:
    now = [0.0]
    limiter = RateLimiter(RateLimit.parse("2/s", burst=2), clock=lambda: now[0])
    assert [limiter.wait_s("a") for _ in range(3)] == [0.0, 0.0, 0.5]
    now[0] = 0.5
    assert limiter.wait_s("a") == 0.0  # one token back after half a second
    assert limiter.wait_s("b") == 0.0  # every client has its own bucket
    now[0] = 100.0
    assert [limiter.wait_s("a") for _ in range(3)] == [0.0, 0.0, 0.5]  # capped at the burst


def test_an_authorization_header_names_the_client_else_its_address() -> None:
    limiter = RateLimiter(RateLimit.parse("1/h", burst=1), clock=lambda: 0.0)
    scope = {"client": ("10.0.0.1", 5000)}
    limiter.admit(scope, {})
    with pytest.raises(RateLimitedError) as info:
        limiter.admit({"client": ("10.0.0.1", 6000)}, {})  # same address, another port
    assert info.value.retry_after == 3600
    limiter.admit(scope, {"authorization": "Bearer x"})  # a token is a client of its own
    limiter.admit({"client": ("10.0.0.2", 5000)}, {})


def test_the_h11_protocol_answers_the_same_431(tmp_path: Path, trained: Trained) -> None:
    import uvicorn

    from podium.serving.protocols import H11WithLimits, uvicorn_options

    client = Client(home=tmp_path)
    client.register_model(trained.model, "cancer", input_example=trained.X[:5])
    options = {**uvicorn_options(1024, access_log=False), "http": H11WithLimits}
    config = uvicorn.Config(create_app(client.load("cancer/1")), port=0, **options)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        port = server.servers[0].sockets[0].getsockname()[1]
        url = f"http://127.0.0.1:{port}/v2/health/ready"
        # h11 bounds a head that is still incomplete after a read: one larger than a read
        r = httpx.get(url, headers={"cookie": "x" * 1_000_000})
        assert r.status_code == 431 and _limit(r) == {"name": "max_header_bytes", "value": 1024}
        assert httpx.get(url).status_code == 200
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        client.workspace.close()
