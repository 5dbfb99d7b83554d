"""Online learning over HTTP: recovery after a change of concept, snapshots with lineage, and
the revert on a burst of poisoned labels."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

import podium
from podium.core.errors import ValidationError
from podium.deploy import apply
from podium.serving import RunningServer, create_deployment_app, start_in_thread
from podium.workspace import Workspace

COLUMNS = ["a", "b", "c"]


def world(rng: np.random.Generator, n: int, changed: bool) -> tuple[pd.DataFrame, np.ndarray]:
    x = pd.DataFrame(rng.normal(0, 1, (n, 3)), columns=COLUMNS)
    y = (x.a - x.b > 0) if changed else (x.a + x.b > 0)
    return x, y.astype(int).to_numpy()


@pytest.fixture
def servers(workspace: Workspace) -> Iterator[dict[str, RunningServer]]:
    from sklearn.linear_model import SGDClassifier

    x, y = world(np.random.default_rng(0), 2_000, changed=False)
    model = SGDClassifier(loss="log_loss", learning_rate="constant", eta0=0.05, random_state=0)
    model.fit(x, y)
    podium.register_model(model, "sgd", input_example=x.head(50), alias="champion")
    online = {
        "batch": 20,
        "max_wait_s": 0.05,
        "window": 100,
        "min_labels": 100,
        "snapshot_every": 200,
        "revert_margin": 0.5,
    }
    for name, extra in (("learning", {"online": online}), ("static", {})):
        apply(workspace, {"name": name, "variants": {"main": {"model": "sgd@champion"}}, **extra})
    started = {
        n: start_in_thread(create_deployment_app(n, workspace=workspace, poll_s=0.05))
        for n in ("learning", "static")
    }
    yield started
    for srv in started.values():
        srv.stop()


def stream(srv: RunningServer, x: pd.DataFrame, labels: np.ndarray, every: int = 20) -> list[Any]:
    """Predict row by row, sending the labels every ``every`` requests; return predictions."""
    served, pending = [], []
    with httpx.Client(base_url=srv.url, timeout=10) as http:
        for i in range(len(x)):
            r = http.post("/predict", json={"records": [x.iloc[i].to_dict()]}).json()
            served.append(r["predictions"][0])
            pending.append({"prediction_id": r["prediction_id"], "label": int(labels[i])})
            if len(pending) == every:
                http.post("/feedback", json=pending)
                pending = []
                _drained(http)
        if pending:
            http.post("/feedback", json=pending)
            _drained(http)
    return served


def _drained(http: httpx.Client) -> None:
    deadline = time.monotonic() + 10
    while (http.get("/deployment").json().get("online") or {}).get("queued", 0):
        assert time.monotonic() < deadline
        time.sleep(0.01)


@pytest.mark.slow
def test_the_online_model_recovers_from_a_change_of_concept_and_the_static_one_does_not(
    workspace: Workspace, servers: dict[str, RunningServer]
) -> None:
    rng = np.random.default_rng(1)
    before = world(rng, 300, changed=False)
    after = world(rng, 900, changed=True)
    acc = {}
    for name, srv in servers.items():
        stream(srv, *before)
        served = stream(srv, *after)
        acc[name] = float(np.mean(np.asarray(served[-300:]) == after[1][-300:]))
    assert acc["learning"] > 0.85 and acc["static"] < 0.65, acc
    status = httpx.get(f"{servers['learning'].url}/deployment").json()["online"]
    assert status["updates"] == 1_200 and status["reverts"] == 0
    snapshots = [v for v in podium.Client().list_versions("sgd") if v.tags.get("parent")]
    assert len(snapshots) >= 4
    assert snapshots[-1].tags["parent"] == "models:/sgd/1"  # oldest first: lineage from v1
    assert status["snapshot"] == snapshots[0].uri
    kinds = [e.kind for e in workspace.store.deployments.history("learning")]
    assert kinds.count("online_snapshot") == len(snapshots)


@pytest.mark.slow
def test_a_burst_of_poisoned_labels_reverts_to_the_last_snapshot_with_an_alert(
    workspace: Workspace, servers: dict[str, RunningServer]
) -> None:
    rng = np.random.default_rng(2)
    srv = servers["learning"]
    stream(srv, *world(rng, 400, changed=False))
    good = httpx.get(f"{srv.url}/deployment").json()["online"]
    assert good["snapshot"] != "models:/sgd/1" and good["reverts"] == 0
    x, y = world(rng, 200, changed=False)
    stream(srv, x, 1 - y)  # every label wrong
    after = httpx.get(f"{srv.url}/deployment").json()
    assert after["online"]["reverts"] >= 1
    assert after["variants"]["main"] == good["snapshot"]  # serving the snapshot again
    alerts = podium.Client().alerts("learning")  # one per revert: the burst lasted
    assert len(alerts) == after["online"]["reverts"]
    assert {(a["rule"], a["severity"]) for a in alerts} == {("online-revert", "critical")}
    assert "online_reverted" in [e.kind for e in workspace.store.deployments.history("learning")]


def test_online_needs_a_single_variant(workspace: Workspace) -> None:
    with pytest.raises(ValidationError, match="online model serves alone"):
        apply(
            workspace,
            {
                "name": "x",
                "strategy": "ab",
                "variants": {"a": {"model": "m/1"}, "b": {"model": "m/2"}},
                "ab": {"weights": {"a": 50, "b": 50}},
                "online": {},
            },
        )


def test_online_learns_in_one_process(workspace: Workspace) -> None:
    spec = {"name": "x", "variants": {"a": {"model": "m/1"}}, "online": {}, "workers": 2}
    with pytest.raises(ValidationError, match="learns in one process") as info:
        apply(workspace, spec)
    assert info.value.field == "workers"


def test_serving_an_online_deployment_from_several_workers_is_refused(
    workspace: Workspace,
) -> None:
    from sklearn.linear_model import SGDClassifier
    from typer.testing import CliRunner

    from podium.cli.main import app

    x, y = world(np.random.default_rng(1), 200, changed=False)
    podium.register_model(SGDClassifier(loss="log_loss").fit(x, y), "sgd", input_example=x)
    apply(workspace, {"name": "learner", "variants": {"a": {"model": "sgd/1"}}, "online": {}})
    r = CliRunner().invoke(app, ["serve", "learner", "--workers", "2"])
    assert r.exit_code == 2 and "learns online, in one process" in r.output


def test_a_river_model_is_served_and_learns_online(workspace: Workspace) -> None:
    from river import linear_model, preprocessing

    from podium.registry.flavors import RiverModel

    rng = np.random.default_rng(3)
    x, y = world(rng, 500, changed=False)
    model = RiverModel(
        preprocessing.StandardScaler() | linear_model.LogisticRegression(), classes=[0, 1]
    ).fit(x, y)
    mv = podium.register_model(model, "river", input_example=x.head(20))
    assert mv.flavors[0].flavor == "river"
    apply(
        workspace,
        {
            "name": "river",
            "variants": {"main": {"model": "models:/river/1"}},
            "online": {"batch": 10, "max_wait_s": 0.05, "window": 50, "min_labels": 20},
        },
    )
    srv = start_in_thread(create_deployment_app("river", workspace=workspace, poll_s=0.05))
    try:
        xs, ys = world(rng, 60, changed=False)
        served = stream(srv, xs, ys, every=10)
        assert set(served) <= {0, 1} and np.mean(np.asarray(served) == ys) > 0.7
        r = httpx.post(f"{srv.url}/predict", json={"records": [xs.iloc[0].to_dict()]}).json()
        assert len(r["probabilities"][0]) == 2
        assert httpx.get(f"{srv.url}/deployment").json()["online"]["updates"] == 60
    finally:
        srv.stop()
