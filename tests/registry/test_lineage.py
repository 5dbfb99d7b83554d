"""`podium lineage`: data version -> run -> model version -> deployment, from every node,
both ways, through the CLI on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest
from tests.conftest import same_both_ways
from typer.testing import CliRunner

import podium
from podium import pipeline, step
from podium.workspace import Workspace

runner = CliRunner()


@step(cache=False)
def read(ref: str) -> pd.DataFrame:
    return podium.load_data(ref)


@step(cache=False)
def fit_and_register(frame: pd.DataFrame, ref: str) -> int:
    from sklearn.linear_model import LogisticRegression

    x = frame[["amount"]]
    model = LogisticRegression().fit(x, frame["churned"])
    return podium.register_model(model, "churn", input_example=x[:5], data=ref).version


@pipeline
def train(ref: str = "data:/customers/1") -> Any:
    return fit_and_register(read(ref), ref)


def lineage(*args: str) -> dict[str, Any]:
    r = same_both_ways(["lineage", *args, "--json"])
    assert r.exit_code == 0, r.output
    out: dict[str, Any] = json.loads(r.stdout)
    return out


def edges(graph: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {(e["from"], e["to"], e["kind"]) for e in graph["edges"]}


@pytest.fixture
def built(workspace: Workspace) -> dict[str, str]:
    """customers/1 -> run -> churn/1 -> deployment churn; churn/2 an online snapshot of 1."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"amount": rng.normal(100, 15, 200), "churned": [0, 1] * 100})
    dv = podium.register_data(frame, "customers")
    podium.register_data(frame[:50], "unrelated")
    run = train.run(ref=dv.uri)
    client = podium.Client()
    client.deploy_model("models:/churn/1", "churn")
    snapshot = client.register_model(
        client.load("churn/1").model,
        "churn",
        input_example=frame[["amount"]][:5],
        tags={"parent": "models:/churn/1"},
    )
    workspace.store.deployments.record("churn", "online_snapshot", {"version": snapshot.uri})
    return {
        "data": dv.uri,
        "run": f"run:{run.id}",
        "run_id": run.id,
        "model": "models:/churn/1",
        "snapshot": snapshot.uri,
        "deployment": "deployment:churn",
    }


def test_lineage_from_each_node_both_ways(built: dict[str, str], both_ways: str) -> None:
    data, run, model, dep, snap = (
        built["data"],
        built["run"],
        built["model"],
        built["deployment"],
        built["snapshot"],
    )
    chain = {
        (data, run, "input"),
        (run, model, "registered"),
        (data, model, "data_ref"),
        (model, dep, "deployed"),
        (model, snap, "parent"),
        (dep, snap, "snapshot"),
    }
    down = lineage(data, "--downstream")
    assert down["root"] == data and edges(down) == chain
    assert {n["id"]: n["kind"] for n in down["nodes"]} == {
        data: "data",
        run: "run",
        model: "model",
        dep: "deployment",
        snap: "model",
    }
    assert lineage(data, "--upstream")["edges"] == []

    assert edges(lineage(built["run_id"], "--upstream")) == {(data, run, "input")}
    assert edges(lineage(built["run_id"], "--downstream")) == chain - {
        (data, run, "input"),
        (data, model, "data_ref"),
    }

    both = lineage("churn/1")  # the version, by its short form
    assert both["root"] == model and both["direction"] == "both"
    assert edges(both) == chain
    up = lineage(model, "--upstream")
    assert edges(up) == {
        (data, run, "input"),
        (run, model, "registered"),
        (data, model, "data_ref"),
    }

    # a bare name that is a deployment is the deployment (not the model of the same name)
    assert lineage("churn", "--upstream")["root"] == dep
    assert edges(lineage("churn", "--upstream")) == {
        (model, dep, "deployed"),
        (run, model, "registered"),
        (data, model, "data_ref"),
        (data, run, "input"),
    }
    assert edges(lineage("deployment:churn", "--downstream")) == {(dep, snap, "snapshot")}
    assert edges(lineage(snap, "--upstream", "--depth", "1")) == {
        (model, snap, "parent"),
        (dep, snap, "snapshot"),
    }
    variant = next(e for e in both["edges"] if e["kind"] == "deployed")
    assert variant["variant"] == "main"


def test_depth_limits_the_hops(built: dict[str, str], both_ways: str) -> None:
    one = lineage(built["data"], "--downstream", "--depth", "1")
    assert edges(one) == {
        (built["data"], built["run"], "input"),
        (built["data"], built["model"], "data_ref"),
    }
    two = lineage(built["data"], "--downstream", "--depth", "2")
    assert (built["model"], built["deployment"], "deployed") in edges(two)
    assert (built["deployment"], built["snapshot"], "snapshot") not in edges(two)


def test_the_tree_names_each_node_and_edge(built: dict[str, str], both_ways: str) -> None:
    r = same_both_ways(["lineage", built["model"]], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    text = r.stdout
    assert text.splitlines()[0] == "models:/churn/1"
    assert "made from (upstream)" in text and "used by (downstream)" in text
    assert f"registered: run {built['run_id']} (train, succeeded)" in text
    assert "input: data:/customers/1 (200 rows, parquet)" in text
    assert "deployed as main: deployment churn (single, revision 1, active)" in text
    assert "(shown above)" in text  # customers/1 is reached twice, expanded once
    r = same_both_ways(["lineage", built["data"], "--upstream"])
    assert "nothing recorded" in r.stdout


@pytest.mark.parametrize(
    ("ref", "message", "hint"),
    [
        ("nothing-here", "Nothing called 'nothing-here'", "a run id (`podium runs list`)"),
        ("data:/customers/9", "Dataset 'customers' has no version 9", "podium data show"),
        ("models:/churn/7", "has no version 7", None),
        ("run:01a2000000000000000000000f", "Run '01a2000000000000000000000f' not found", None),
    ],
)
def test_unknown_refs_are_one_error_line_with_a_hint(
    built: dict[str, str], ref: str, message: str, hint: str | None, both_ways: str
) -> None:
    r = same_both_ways(["lineage", ref])
    assert r.exit_code == 1
    assert "Traceback" not in r.output
    assert message in r.output and "Hint:" in r.output
    if hint:
        assert hint in r.output


def test_upstream_and_downstream_together_are_refused(
    built: dict[str, str], both_ways: str
) -> None:
    r = same_both_ways(["lineage", built["model"], "--upstream", "--downstream"])
    assert r.exit_code == 2 and "--upstream or --downstream" in r.output


def test_the_python_api_mirrors_the_command(built: dict[str, str], both_ways: str) -> None:
    graph = podium.Client().lineage(built["model"], direction="upstream", depth=1)
    assert graph.root == built["model"]
    assert {n.kind for n in graph.nodes.values()} == {"model", "run", "data"}
    assert graph.to_dict()["depth"] == 1
    with pytest.raises(podium.PodiumError, match="Unknown lineage direction 'sideways'"):
        podium.Client().lineage(built["model"], direction="sideways")
