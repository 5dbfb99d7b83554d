"""The closed loop over real HTTP: an accuracy alert retrains the model, the candidate is
shadowed, then canaried, and promoted when better or rolled back when worse."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

import podium
from podium.deploy import apply
from podium.serving import RunningServer, create_deployment_app, start_in_thread
from podium.watch import Monitor
from podium.workspace import Workspace

COLUMNS = ["age", "income", "visits"]
HERE = Path(__file__).parent


def concept(rng: np.random.Generator, n: int, new: bool) -> tuple[pd.DataFrame, np.ndarray]:
    """Inputs never move; what they mean does: age + income before, age - income after."""
    x = pd.DataFrame(rng.normal(0, 1, (n, 3)), columns=COLUMNS)
    y = ((x.age - x.income) > 0) if new else ((x.age + x.income) > 0)
    return x, y.astype(int).to_numpy()


def spec(pipeline: str, params: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": "loop",
        "variants": {"main": {"model": "models:/gen@champion"}},
        "monitoring": {
            "window": {"rows": 150},
            "alerts": [
                {
                    "name": "accuracy",
                    "figure": "performance.accuracy",
                    "op": "<",
                    "threshold": 0.8,
                    "retrain": True,
                }
            ],
        },
        "retrain": {
            "pipeline": pipeline,
            "params": params,
            "shadow": {"requests": 40},
            "canary": {
                "steps": [50, 100],
                "min_duration_s": 0,
                "min_requests": 40,
                # A retrained model is meant to predict differently after concept drift.
                "gates": {"max_prediction_drift": 1.0, "p99_slack_ms": 1000},
            },
        },
    }


@pytest.fixture
def loop_server(workspace: Workspace) -> Iterator[Callable[[dict[str, Any]], RunningServer]]:
    from sklearn.linear_model import LogisticRegression

    x, y = concept(np.random.default_rng(0), 2_000, new=False)
    model = LogisticRegression().fit(x, y)
    podium.register_model(model, "gen", input_example=x[:50], reference_data=x, alias="champion")
    started: list[RunningServer] = []

    def start(s: dict[str, Any]) -> RunningServer:
        apply(workspace, s)
        srv = start_in_thread(create_deployment_app("loop", workspace=workspace, poll_s=0.05))
        started.append(srv)
        return srv

    yield start
    for srv in started:
        srv.stop()


def traffic(srv: RunningServer, ws: Workspace, rng: np.random.Generator, n: int) -> None:
    """``n`` single-row predictions of the new concept, each labelled at once."""
    x, y = concept(rng, n, new=True)
    with httpx.Client(base_url=srv.url, timeout=10) as http:
        fb = []
        for i in range(n):
            r = http.post("/predict", json={"records": [x.iloc[i].to_dict()]})
            assert r.status_code == 200, r.text
            fb.append({"prediction_id": r.json()["prediction_id"], "label": int(y[i])})
        assert http.post("/feedback", json=fb).status_code == 202
    time.sleep(0.5)  # the log's flush: predictions, then their labels


def converged(srv: RunningServer, ws: Workspace) -> None:
    deadline = time.monotonic() + 10
    want = ws.store.deployments.get("loop").revision
    while httpx.get(f"{srv.url}/deployment").json()["revision"] != want:
        assert time.monotonic() < deadline, "the server did not follow the loop"
        time.sleep(0.05)


def run_loop(srv: RunningServer, ws: Workspace, monitor: Monitor, until: set[str]) -> str:
    rng = np.random.default_rng(7)
    phase = None
    for _ in range(12):
        result = monitor.once()["loop"]
        assert "error" not in result, result
        phase = result["loop"]
        if phase in until:
            return str(phase)
        converged(srv, ws)
        traffic(srv, ws, rng, 60)
    raise AssertionError(f"the loop stopped at {phase}")


def test_a_better_retrained_model_is_shadowed_canaried_and_promoted(
    workspace: Workspace, loop_server: Callable[[dict[str, Any]], RunningServer]
) -> None:
    srv = loop_server(spec("podium.watch.retrain:from_log", {"rows": 500}))
    traffic(srv, workspace, np.random.default_rng(1), 150)  # the concept has changed
    monitor = Monitor(workspace)
    assert run_loop(srv, workspace, monitor, {"promoted", "rolled_back", "failed"}) == "promoted"

    loop = workspace.store.loops.get("loop")
    assert loop is not None and loop["detail"]["candidate"] == "models:/gen/2"
    assert loop["detail"]["shadow"]["mirrored"] >= 40
    assert podium.Client().get_version("gen@champion").version == 2
    dep = workspace.store.deployments.get("loop")
    assert dep.spec["strategy"] == "single"  # its own spec again, now serving version 2
    kinds = [e.kind for e in workspace.store.deployments.history("loop")]
    for kind in ("retrain_training", "retrain_shadow", "retrain_canary", "promote"):
        assert kind in kinds, kinds
    assert kinds[0] == "retrain_promoted"
    actions = {a.action for a in podium.Client().audit(limit=500)}
    assert {"alert.fired", "retrain.training", "retrain.shadow", "retrain.promoted"} <= actions
    converged(srv, workspace)
    r = httpx.post(f"{srv.url}/predict", json={"records": [{"age": 1, "income": 0, "visits": 0}]})
    assert r.headers["x-podium-model-version"] == "models:/gen/2"


def test_a_worse_retrained_model_is_rolled_back(
    workspace: Workspace, loop_server: Callable[[dict[str, Any]], RunningServer]
) -> None:
    srv = loop_server(spec(f"{HERE / 'flipped_pipeline.py'}:retrain", {}))
    traffic(srv, workspace, np.random.default_rng(2), 150)
    monitor = Monitor(workspace)
    assert run_loop(srv, workspace, monitor, {"promoted", "rolled_back", "failed"}) == (
        "rolled_back"
    )
    loop = workspace.store.loops.get("loop")
    assert loop is not None and "feedback" in loop["detail"]["reason"]
    assert podium.Client().get_version("gen@champion").version == 1
    assert podium.Client().get_version("gen@challenger").version == 2
    assert workspace.store.deployments.get("loop").spec["strategy"] == "single"


def test_a_failing_pipeline_ends_the_loop_as_failed(
    workspace: Workspace, loop_server: Callable[[dict[str, Any]], RunningServer]
) -> None:
    srv = loop_server(spec("podium.watch.retrain:from_log", {"rows": 500, "holdout": 7}))
    traffic(srv, workspace, np.random.default_rng(3), 150)
    assert Monitor(workspace).once()["loop"]["loop"] == "failed"
    assert workspace.store.deployments.get("loop").spec["strategy"] == "single"
