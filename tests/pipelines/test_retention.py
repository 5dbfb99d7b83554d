"""Retention and garbage collection never touch an aliased version or what it references."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from tests.conftest import same_both_ways
from typer.testing import CliRunner

import podium
from podium import pipeline, step
from podium.cli.main import app
from podium.core.clock import utcnow
from podium.core.errors import ValidationError
from podium.pipelines.retention import collect, gc, gc_pipeline, plan_gc
from podium.workspace import Workspace


class Const:
    def __init__(self, value: float) -> None:
        self.value = value

    def predict(self, X: Any) -> Any:
        return np.full(len(X), self.value)


@step(cache=False)
def produce(i: int) -> list[int]:
    return [i] * 100


@step(cache=False)
def register(xs: list[int], i: int) -> int:
    return podium.register_model(Const(float(i)), "const").version


@pipeline
def trainer(i: int = 0) -> Any:
    return register(produce(i), i)


def _versions(name: str) -> list[int]:
    return sorted(v.version for v in podium.Client().list_versions(name))


def test_keep_last_spares_aliased_versions_and_their_runs(workspace: Workspace) -> None:
    runs = [trainer.run(i=i).id for i in range(5)]  # versions 1..5, each from its own run
    client = podium.Client()
    client.set_alias("const", "champion", 1)
    workspace.store.retention.put("model", "const", keep_last=2, max_age_s=None)
    workspace.store.retention.put("pipeline", "trainer", keep_last=1, max_age_s=None)
    dry = gc(workspace, dry_run=True)
    assert dry.versions == {
        "const": [(dry.versions["const"][0][0], 3), (dry.versions["const"][1][0], 2)]
    }
    # runs 2 and 3 made deleted versions; run 1 made the champion, runs 4-5 kept versions
    assert sorted(dry.runs) == sorted([runs[1], runs[2]])
    assert _versions("const") == [1, 2, 3, 4, 5]  # a dry run deletes nothing
    done = gc(workspace)
    assert done.to_dict()["versions"] == {"const": [3, 2]}
    assert _versions("const") == [1, 4, 5]
    assert podium.load("const@champion").predict(np.zeros((1, 1))).tolist() == [0.0]
    remaining = {r.id for r in client.list_runs(limit=100)}
    assert remaining == {runs[0], runs[3], runs[4]}
    actions = [r.action for r in client.audit(limit=200)]
    assert actions.count("model_version.delete") == 2 and actions.count("run.delete") == 2
    assert gc(workspace, dry_run=True).to_dict() == {
        "runs": [],
        "versions": {},
        "blobs": [],
        "bytes": 0,
        "predictions": {},
    }


def test_max_age_and_unreferenced_blobs(workspace: Workspace) -> None:
    for i in range(3):
        trainer.run(i=i)
    workspace.store.retention.put("model", "const", keep_last=None, max_age_s=3600)
    assert plan_gc(workspace).versions == {}
    later = utcnow() + timedelta(hours=2)
    plan = plan_gc(workspace, now=later)
    assert [n for _, n in plan.versions["const"]] == [3, 2, 1]
    orphan = workspace.artifacts.put(b"written, never recorded")
    assert orphan not in [d for d, _ in plan_gc(workspace).blobs]  # too young to collect
    plan = plan_gc(workspace, blob_grace_s=0)
    assert orphan in [d for d, _ in plan.blobs]
    collect(workspace, plan)
    assert not workspace.artifacts.exists(orphan)
    assert _versions("const") == [1, 2, 3]  # blobs only: no policy expired yet at 'now'


def test_bad_policies_are_refused(workspace: Workspace) -> None:
    retention = workspace.store.retention
    with pytest.raises(ValidationError, match="pipeline or model"):
        retention.put("dataset", "x", keep_last=1, max_age_s=None)
    with pytest.raises(ValidationError, match="--keep-last, --max-age or both"):
        retention.put("model", "x", keep_last=None, max_age_s=None)
    with pytest.raises(ValidationError, match="at least 1"):
        retention.put("model", "x", keep_last=0, max_age_s=None)


def test_cli_retention_and_gc(workspace: Workspace, both_ways: str) -> None:
    """Policies are set from anywhere; `podium gc` runs where the store is."""
    for i in range(3):
        trainer.run(i=i)
    runner = CliRunner()
    r = runner.invoke(app, ["retention", "set", "model", "const", "--keep-last", "1"])
    assert r.exit_code == 0, r.output
    local = {"PODIUM_URL": None}  # unset for this command: gc works on the store itself
    r = runner.invoke(app, ["gc", "--dry-run", "--json"], env=local)
    assert json.loads(r.stdout)["versions"] == {"const": [2, 1]}
    r = runner.invoke(app, ["gc"], env=local)
    assert r.exit_code == 0 and "Deleted 0 run(s), 2 model version(s), 0 logged" in r.stdout
    r = same_both_ways(["retention", "set", "model", "const", "--max-age", "forever"])
    assert r.exit_code == 1 and "Invalid duration" in r.stderr


def test_cli_retention_set_list_remove(workspace: Workspace, both_ways: str) -> None:
    runner = CliRunner()
    r = runner.invoke(app, ["retention", "set", "model", "const", "--keep-last", "2"])
    assert r.stdout.strip() == (
        "Retention for model 'const': keep last 2, max age -. "
        "`podium gc --dry-run` shows what would go."
    )
    r = runner.invoke(app, ["retention", "set", "predictions", "churn", "--max-age", "30d"])
    assert r.exit_code == 0 and "keep last -, max age 30d" in r.stdout, r.output
    listed = json.loads(same_both_ways(["retention", "list", "--json"]).stdout)
    assert [(p["kind"], p["name"], p["keep_last"], p["max_age_s"]) for p in listed] == [
        ("model", "const", 2, None),
        ("predictions", "churn", None, 30 * 86400),
    ]
    r = same_both_ways(["retention", "list"], env={"COLUMNS": "120"})
    assert r.exit_code == 0 and "const" in r.stdout and "churn" in r.stdout
    r = runner.invoke(app, ["retention", "remove", "model", "const"])
    assert r.exit_code == 0 and "Retention policy for model 'const' removed." in r.stdout
    listed = json.loads(same_both_ways(["retention", "list", "--json"]).stdout)
    assert [p["name"] for p in listed] == ["churn"]
    r = same_both_ways(["retention", "remove", "model", "const"])
    assert r.exit_code == 1 and "No retention policy for model 'const'" in r.stderr
    assert "podium retention list" in r.stderr
    r = same_both_ways(["retention", "set", "dataset", "x", "--keep-last", "1"])
    assert r.exit_code == 1 and "Retention applies to pipeline or model" in r.stderr
    r = same_both_ways(["retention", "set", "model", "../x", "--keep-last", "1"])
    assert r.exit_code == 1 and "Invalid model name '../x'" in r.stderr


def test_gc_runs_as_a_schedulable_pipeline(workspace: Workspace) -> None:
    trainer.run(i=1)
    trainer.run(i=2)
    workspace.store.retention.put("model", "const", keep_last=1, max_age_s=None)
    result = gc_pipeline.run(dry_run=False)
    assert result.outputs["versions"] == {"const": [1]}
    assert _versions("const") == [2]


def test_prediction_logs_expire_by_age_and_count_with_their_feedback(
    workspace: Workspace,
) -> None:
    now = utcnow()
    log = workspace.store.predictions

    def row(i: int, age_h: float) -> dict[str, Any]:
        return {
            "id": f"p{i}",
            "at": now - timedelta(hours=age_h),
            "deployment": "churn",
            "variant": "main",
            "model_version": "models:/churn/1",
            "inputs": [[i]],
            "outputs": {"predictions": [0]},
            "latency_ms": 1.0,
        }

    rows = [row(i, age_h=i) for i in range(10)]  # p0 newest ... p9 ten hours old
    rows.append({**row(99, 50), "deployment": "other", "id": "q"})
    feedback = [{"prediction_id": f"p{i}", "at": now, "label": 1, "reward": None} for i in (1, 8)]
    log.write(rows, feedback)
    workspace.store.retention.put("predictions", "churn", keep_last=None, max_age_s=5.5 * 3600)
    plan = plan_gc(workspace, now=now)
    assert plan.to_dict()["predictions"] == {"churn": 4}  # p6..p9
    assert len(log.recent("churn")) == 10  # a plan deletes nothing
    collect(workspace, plan)
    left = {r["id"]: r["feedback"] for r in log.recent("churn")}
    assert sorted(left) == ["p0", "p1", "p2", "p3", "p4", "p5"]
    assert left["p1"] is not None and len(log.recent("other")) == 1
    workspace.store.retention.put("predictions", "churn", keep_last=2, max_age_s=None)
    r = CliRunner().invoke(app, ["gc"])
    assert r.exit_code == 0 and "4 logged prediction(s)" in r.stdout
    assert [x["id"] for x in log.recent("churn")] == ["p0", "p1"]
    assert any(a.action == "predictions.delete" for a in podium.Client().audit())


def test_a_blob_stored_again_after_the_plan_is_not_collected(workspace: Workspace) -> None:
    """A registration that reuses an unreferenced blob (same content) makes it young again,
    so a collection planned before cannot delete it under the version about to point at it."""
    import os
    import time

    orphan = workspace.artifacts.put(b"a model registered, deleted, then registered again")
    path = workspace.artifacts.root + f"/sha256/{orphan[:2]}/{orphan[2:]}"  # type: ignore[attr-defined]
    os.utime(path, (time.time() - 7200, time.time() - 7200))
    plan = plan_gc(workspace)
    assert orphan in [d for d, _ in plan.blobs]
    assert workspace.artifacts.put(b"a model registered, deleted, then registered again") == orphan
    collect(workspace, plan)
    assert workspace.artifacts.exists(orphan)
    os.utime(path, (time.time() - 7200, time.time() - 7200))
    collect(workspace, plan_gc(workspace))  # still unreferenced an hour later: it goes
    assert not workspace.artifacts.exists(orphan)
