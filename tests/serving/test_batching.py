"""Adaptive micro-batching: concurrent requests share model calls, each gets its own answer."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pandas as pd
import pytest
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from tests.conftest import Trained

import podium
from podium.core.errors import ConfigError
from podium.deploy import apply
from podium.serving import RunningServer, create_deployment_app, start_in_thread
from podium.serving.batching import Batching
from podium.workspace import Workspace


def _deploy(
    ws: Workspace, model: str, flavor: str | None = None, **batching: float
) -> RunningServer:
    apply(
        ws,
        {
            "name": "batched",
            "variants": {"main": {"model": model}},
            "batching": batching,
        },
    )
    return start_in_thread(create_deployment_app("batched", workspace=ws, flavor=flavor))


@pytest.fixture(params=["sklearn", "onnx"])
def flavor(request: pytest.FixtureRequest) -> str:
    """What answers: scikit-learn, or the ONNX fast path (what auto, the default, picks)."""
    return str(request.param)


@pytest.fixture
def server(workspace: Workspace, trained: Trained, flavor: str) -> Iterator[RunningServer]:
    podium.register_model(trained.model, "churn", input_example=trained.X)
    asked = "auto" if flavor == "onnx" else flavor
    srv = _deploy(workspace, "churn/1", asked, max_batch=8, max_wait_ms=200)
    yield srv
    srv.stop()


def _metric(url: str, name: str) -> float:
    text = httpx.get(f"{url}/metrics").text
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name))


def test_concurrent_rows_are_batched_and_each_gets_its_own_answer(
    server: RunningServer, trained: Trained, flavor: str
) -> None:
    rows = [{k: float(v) for k, v in trained.X.iloc[i].items()} for i in range(32)]
    expected = trained.model.predict_proba(trained.X.iloc[:32]).tolist()

    def ask(i: int) -> Any:
        with httpx.Client(timeout=10) as c:
            r = c.post(f"{server.url}/predict", json={"records": [rows[i]]})
            return r.json(), r.headers["x-podium-flavor"]

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(ask, range(32)))
    tol = 1e-5 if flavor == "onnx" else 1e-12  # ONNX computes in float32
    for i, (a, answered_by) in enumerate(answers):
        assert a["probabilities"][0] == pytest.approx(expected[i], abs=tol)
        assert answered_by == flavor  # batched answers name their flavor too
    calls = _metric(server.url, "podium_batch_rows_count")
    assert _metric(server.url, "podium_batch_rows_sum") == 32
    assert calls < 32  # some requests shared a model call
    assert _metric(server.url, "podium_batch_queue_seconds_count") == 32


def test_a_lone_request_does_not_wait_for_a_batch(server: RunningServer, trained: Trained) -> None:
    row = {"records": [{k: float(v) for k, v in trained.X.iloc[0].items()}]}
    with httpx.Client(timeout=10) as c:
        c.post(f"{server.url}/predict", json=row)
        t0 = time.perf_counter()
        for _ in range(5):
            assert c.post(f"{server.url}/predict", json=row).status_code == 200
    # max_wait_ms is 200: five sequential requests that waited for company would take 1 s.
    assert time.perf_counter() - t0 < 0.5


def test_a_bad_request_in_a_batch_fails_alone(workspace: Workspace) -> None:
    X = pd.DataFrame({"age": [20.0, 35.0, 50.0, 65.0] * 5, "plan": ["free", "pro"] * 10})
    model = make_pipeline(
        make_column_transformer(
            (StandardScaler(), ["age"]), (OneHotEncoder(handle_unknown="error"), ["plan"])
        ),
        LogisticRegression(),
    ).fit(X, [0, 0, 1, 1] * 5)
    podium.register_model(model, "plans", input_example=X)
    srv = _deploy(workspace, "plans/1", max_batch=16, max_wait_ms=100)  # no fast path: text
    plans = ["free", "pro"] * 6 + ["enterprise"]  # unseen by the encoder

    def ask(plan: str) -> int:
        with httpx.Client(timeout=10) as c:
            body = {"records": [{"age": 40.0, "plan": plan}]}
            return c.post(f"{srv.url}/predict", json=body).status_code

    try:
        with ThreadPoolExecutor(13) as pool:
            codes = list(pool.map(ask, plans))
        assert _metric(srv.url, "podium_batch_rows_count") < 13  # the bad row had company
    finally:
        srv.stop()
    assert codes == [200] * 12 + [422]


def test_batching_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PODIUM_MAX_BATCH", raising=False)
    assert Batching.from_env() is None  # off by default
    monkeypatch.setenv("PODIUM_MAX_BATCH", "64")
    monkeypatch.setenv("PODIUM_MAX_WAIT_MS", "5")
    assert Batching.from_env() == Batching(64, 5.0)
    monkeypatch.setenv("PODIUM_MAX_BATCH", "lots")
    with pytest.raises(ConfigError, match="PODIUM_MAX_BATCH='lots'"):
        Batching.from_env()
