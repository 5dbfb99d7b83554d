"""Rolling updates across `podium serve NAME --workers N`, under a steady load."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sqlalchemy import update
from tests.conftest import Trained

import podium
from podium.deploy import apply
from podium.store import schema
from podium.testing.load import SteadyLoad
from podium.workspace import Workspace

WORKERS = 2


def _spec(version: int) -> dict[str, Any]:
    return {
        "name": "rolling",
        "strategy": "rolling",
        "workers": WORKERS,  # `podium serve rolling` starts this many
        "variants": {"main": {"model": f"models:/churn/{version}"}},
    }


def _row(trained: Trained) -> dict[str, Any]:
    return {"records": [{k: float(v) for k, v in trained.X.iloc[0].items()}]}


class Watch:
    """Poll the workers table while a rollout runs; remember every snapshot."""

    def __init__(self, ws: Workspace) -> None:
        self.ws, self.snapshots = ws, []  # type: ignore[var-annotated]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            rows = self.ws.store.deployments.workers("rolling", 10)
            self.snapshots.append({w.worker: (w.revision, w.status) for w in rows})
            time.sleep(0.02)

    def __enter__(self) -> Watch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _kinds(ws: Workspace) -> list[str]:
    return [e.kind for e in ws.store.deployments.history("rolling")]


def _ready_at(ws: Workspace, revision: int) -> bool:
    workers = ws.store.deployments.workers("rolling", 10)
    return len(workers) == WORKERS and all(
        w.revision == revision and w.status == "ready" for w in workers
    )


@pytest.mark.xdist_group("processes")
def test_a_rolling_update_replaces_workers_one_at_a_time_and_reverts_a_bad_version(
    workspace: Workspace, trained: Trained, cli_server: Any
) -> None:
    podium.register_model(trained.model, "churn", input_example=trained.X)
    other = make_pipeline(StandardScaler(), LogisticRegression(C=0.001)).fit(trained.X, trained.y)
    podium.register_model(other, "churn", input_example=trained.X)
    podium.register_model(other, "churn", input_example=trained.X)
    apply(workspace, _spec(1))
    srv = cli_server("rolling")
    with SteadyLoad(f"{srv.url}/predict", _row(trained), connections=16) as load:
        load.wait_for(lambda: _ready_at(workspace, 1))

        # A good version: each worker in turn, then the whole deployment is on it.
        with Watch(workspace) as watch:
            apply(workspace, _spec(2))
            load.wait_for(lambda: _kinds(workspace)[0] == "rolled_out")
        assert _ready_at(workspace, 2)
        for snap in watch.snapshots:
            assert sum(status == "upgrading" for _, status in snap.values()) <= 1, snap
        assert any(sorted(r for r, _ in s.values()) == [1, 2] for s in watch.snapshots)
        assert _kinds(workspace)[:3] == ["rolled_out", "worker_upgraded", "worker_upgraded"]
        mark = load.mark()
        load.wait_for(lambda: load.requests > mark + 200)
        assert load.seen("x-podium-model-version")["models:/churn/2"] > 0

        # A version that predicts differently here than at registration: refused, reverted.
        with workspace.store.db.write() as conn:
            conn.execute(
                update(schema.model_versions)
                .where(schema.model_versions.c.version == 3)
                .values(reference_output={"predictions": [9] * 5})
            )
        # Deployed from an environment where it checks out (apply validates there); the
        # servers check again in theirs, and refuse it.
        apply(workspace, _spec(3), validate=False)
        load.wait_for(lambda: workspace.store.deployments.get("rolling").revision == 4)
        load.wait_for(lambda: _ready_at(workspace, 4))
        dep = workspace.store.deployments.get("rolling")
        assert dep.spec["variants"]["main"]["model"] == "models:/churn/2"
        history = workspace.store.deployments.history("rolling")
        reverted = next(e for e in history if e.kind == "rolled_back")
        assert "predicts differently" in reverted.detail["reason"]
        mark = load.mark()
        load.wait_for(lambda: load.requests > mark + 200)
    assert load.failures == []
    assert load.seen("x-podium-model-version")["models:/churn/3"] == 0
    workers = {w.versions["main"] for w in workspace.store.deployments.workers("rolling", 10)}
    assert workers == {"models:/churn/2"}
