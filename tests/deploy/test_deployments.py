"""Declarative deployments: validation by field, desired state with revisions and history."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.conftest import Trained, same_both_ways
from typer.testing import CliRunner

import podium
from podium.cli.main import app
from podium.core.errors import NotFoundError, ValidationError
from podium.deploy import apply, deploy_model, parse
from podium.workspace import Workspace

EXAMPLES = sorted((Path(__file__).parents[2] / "examples" / "deployments").glob("*.yaml"))


@pytest.fixture
def churn(workspace: Workspace, trained: Trained) -> Workspace:
    podium.register_model(trained.model, "churn", input_example=trained.X[:5], alias="champion")
    podium.register_model(trained.model, "churn", input_example=trained.X[:5], alias="challenger")
    return workspace


def test_there_is_one_example_per_pattern() -> None:
    assert [p.stem for p in EXAMPLES] == sorted(
        ["shadow", "ab", "bandit", "bluegreen", "canary", "flags", "rolling"]
    )


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_deploys_as_is(churn: Workspace, path: Path) -> None:
    dep = apply(churn, path)
    assert dep.revision == 1 and dep.spec["strategy"] == path.stem
    assert apply(churn, path).revision == 1  # unchanged: no new revision


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        ({"name": "x", "variants": {}}, "variants", "at least 1 item"),
        (
            {"name": "x", "strategy": "magic", "variants": {"a": {"model": "m/1"}}},
            "strategy",
            "Input should be",
        ),
        (
            {"name": "x", "variants": {"a": {"model": "m/1", "extra": 1}}},
            "variants.a.extra",
            "Extra inputs",
        ),
        (
            {"name": "x", "variants": {"a": {"model": "m/zero"}}},
            "variants.a.model",
            "Invalid model version",
        ),
        (
            {"name": "x", "strategy": "canary", "variants": {"a": {"model": "m/1"}}},
            "canary",
            "needs a 'canary' block",
        ),
        (
            {
                "name": "x",
                "strategy": "ab",
                "variants": {"a": {"model": "m/1"}},
                "ab": {"weights": {"a": 1, "z": 1}},
            },
            "ab.weights",
            "no variant named 'z'",
        ),
        ({"name": "../x", "variants": {"a": {"model": "m/1"}}}, "name", "Invalid deployment name"),
        (
            {
                "name": "x",
                "strategy": "canary",
                "variants": {"stable": {"model": "m/1"}, "candidate": {"model": "m/2"}},
                "canary": {"steps": [50, 10]},
            },
            "steps",
            "must rise",
        ),
    ],
)
def test_bad_specs_name_the_field(data: dict[str, object], field: str | None, words: str) -> None:
    with pytest.raises(ValidationError) as info:
        parse(data, "spec.yaml")
    assert words in info.value.message
    if field is not None:
        assert info.value.field == field


def test_a_variant_whose_model_does_not_resolve_is_refused(churn: Workspace) -> None:
    with pytest.raises(NotFoundError, match="variant 'b': Model 'churn' has no alias 'gold'"):
        apply(
            churn,
            {
                "name": "d",
                "strategy": "ab",
                "ab": {"weights": {"a": 1, "b": 1}},
                "variants": {"a": {"model": "churn@champion"}, "b": {"model": "churn@gold"}},
            },
        )


def test_revisions_history_and_audit(churn: Workspace) -> None:
    deploy_model(churn, "models:/churn/1", "churn")
    dep = deploy_model(churn, "models:/churn/2", "churn")
    assert dep.revision == 2 and dep.spec["variants"]["main"]["model"] == "models:/churn/2"
    churn.store.deployments.set_status("churn", "paused")
    kinds = [e.kind for e in churn.store.deployments.history("churn")]
    assert kinds == ["paused", "applied", "applied"]
    audit = [r.action for r in podium.Client().audit(target="deployments:/churn")]
    assert audit == ["deployment.paused", "deployment.apply", "deployment.apply"]


def test_cli_deploy_list_status_history(churn: Workspace, tmp_path: Path, both_ways: str) -> None:
    runner = CliRunner()
    r = runner.invoke(app, ["deploy", "-f", str(EXAMPLES[0]), "--json"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["deploy", "models:/churn@champion", "--name", "one"])
    assert r.exit_code == 0 and "revision 1" in r.stdout
    names = [
        d["name"] for d in json.loads(same_both_ways(["deployments", "list", "--json"]).stdout)
    ]
    assert names == sorted(["one", "churn-ab"])
    status = json.loads(same_both_ways(["deployments", "status", "one", "--json"]).stdout)
    assert status["variants"]["main"]["resolves_to"] == "models:/churn/1"
    assert status["variants"]["main"]["requests"] == 0 and status["workers"] == []
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nvariants: {a: {model: 'm/1', oops: 1}}\n")
    r = same_both_ways(["deploy", "-f", str(bad)])
    assert r.exit_code == 1 and "variants.a.oops: Extra inputs are not permitted" in r.stderr
    r = same_both_ways(["deployments", "history", "ghost"])
    assert r.exit_code == 1 and "Deployment 'ghost' not found" in r.stderr


def test_promote_rollback_and_traffic_are_recorded_and_audited(churn: Workspace) -> None:
    from podium.deploy import promote, rollback, set_traffic

    bluegreen = next(p for p in EXAMPLES if p.stem == "bluegreen")
    name = apply(churn, bluegreen).name
    assert promote(churn, name).state["live"] == "green"
    assert rollback(churn, name).state["live"] == "blue"
    history = churn.store.deployments.history(name)
    assert [e.kind for e in history] == ["rolled_back", "promoted", "applied"]
    assert history[1].detail["before"]["live"] == "blue"
    assert history[1].detail["after"]["live"] == "green"
    actions = [r.action for r in podium.Client().audit(target=f"deployments:/{name}")]
    assert actions[:2] == ["deployment.rolled_back", "deployment.promoted"]
    canary = next(p for p in EXAMPLES if p.stem == "canary")
    cname = apply(churn, canary).name
    assert set_traffic(churn, cname, {"candidate": 25}).state["percent"] == 25
    # a new revision restarts the rollout from its first step
    spec = churn.store.deployments.get(cname).spec
    spec["canary"]["min_requests"] = 50
    assert apply(churn, spec).state == {"step": 0, "percent": 5, "status": "progressing"}


def test_cli_traffic_promote_rollback(churn: Workspace, both_ways: str) -> None:
    runner = CliRunner()
    ab = next(p for p in EXAMPLES if p.stem == "ab")
    runner.invoke(app, ["deploy", "-f", str(ab)])
    r = runner.invoke(app, ["traffic", "churn-ab", "a=50", "b=50"])
    assert r.exit_code == 0, r.output
    status = json.loads(same_both_ways(["deployments", "status", "churn-ab", "--json"]).stdout)
    assert status["state"]["weights"] == {"a": 50.0, "b": 50.0}
    r = same_both_ways(["traffic", "churn-ab", "a:50"])
    assert r.exit_code == 1 and "expected VARIANT=PERCENT" in r.stderr
    r = same_both_ways(["deployments", "promote", "churn-ab"])
    assert r.exit_code == 1 and "Cannot promote a 'ab' deployment" in r.stderr


def test_cli_promote_rollback_pause_resume_and_history(churn: Workspace, both_ways: str) -> None:
    runner = CliRunner()
    bluegreen = next(p for p in EXAMPLES if p.stem == "bluegreen")
    name = apply(churn, bluegreen).name
    r = runner.invoke(app, ["deployments", "promote", name])
    assert r.exit_code == 0 and f"Deployment {name!r} promoted" in r.stdout, r.output
    assert "'live': 'green'" in r.stdout
    r = runner.invoke(app, ["deployments", "rollback", name])
    assert r.exit_code == 0 and "'live': 'blue'" in r.stdout, r.output
    assert runner.invoke(app, ["deployments", "pause", name]).stdout.strip() == (
        f"Deployment {name!r} paused."
    )
    [listed] = json.loads(same_both_ways(["deployments", "list", "--json"]).stdout)
    assert listed["status"] == "paused"
    assert runner.invoke(app, ["deployments", "resume", name]).exit_code == 0
    events = json.loads(same_both_ways(["deployments", "history", name, "--json"]).stdout)
    assert [e["kind"] for e in events] == [
        "resumed",
        "paused",
        "rolled_back",
        "promoted",
        "applied",
    ]
    r = same_both_ways(["deployments", "history", name], env={"COLUMNS": "200"})
    assert r.exit_code == 0 and "rolled_back" in r.stdout and "resumed" in r.stdout
    r = same_both_ways(["deployments", "pause", "ghost"])
    assert r.exit_code == 1 and "Deployment 'ghost' not found" in r.stderr


def test_cli_flags_list_get_set(churn: Workspace, both_ways: str) -> None:
    runner = CliRunner()
    flags = next(p for p in EXAMPLES if p.stem == "flags")
    name = apply(churn, flags).name
    listed = json.loads(same_both_ways(["flags", "list", name, "--json"]).stdout)
    flag = listed[0]["name"]
    r = runner.invoke(app, ["flags", "set", name, flag, "--kill", "--percent", "40"])
    assert r.exit_code == 0 and f"Flag {flag!r} of {name!r}:" in r.stdout, r.output
    got = json.loads(same_both_ways(["flags", "get", name, flag]).stdout)
    assert (got["kill"], got["percent"]) == (True, 40)
    r = same_both_ways(["flags", "list", name], env={"COLUMNS": "200"})
    assert r.exit_code == 0 and flag in r.stdout
    r = same_both_ways(["flags", "get", name, "nope"])
    assert r.exit_code == 1 and f"Deployment {name!r} has no flag 'nope'" in r.stderr
    r = same_both_ways(["flags", "set", name, "nope", "--kill"])
    assert r.exit_code == 1 and "has no flag 'nope'" in r.stderr


def test_the_python_api_mirrors_the_cli(churn: Workspace, both_ways: str) -> None:
    client = podium.Client()
    dep = client.deploy(
        {
            "name": "churn-bg",
            "strategy": "bluegreen",
            "variants": {
                "blue": {"model": "models:/churn@champion"},
                "green": {"model": "models:/churn@challenger"},
            },
            "bluegreen": {"live": "blue", "idle": "green"},
        }
    )
    assert dep.revision == 1 and client.get_deployment("churn-bg").spec == dep.spec
    assert client.promote("churn-bg").state["live"] == "green"
    assert client.rollback("churn-bg").state["live"] == "blue"
    assert client.pause("churn-bg").status == "paused"
    assert client.resume("churn-bg").status == "active"
    client.deploy_model("models:/churn/1", "churn-one")
    assert [d.name for d in client.list_deployments()] == ["churn-bg", "churn-one"]
    kinds = [e.kind for e in client.deployment_history("churn-bg")]
    assert kinds[:4] == ["resumed", "paused", "rolled_back", "promoted"]
    status = client.deployment_status("churn-one")
    assert status["variants"]["main"]["resolves_to"] == "models:/churn/1"
    with pytest.raises(NotFoundError):
        client.set_traffic("nope", {"a": 50})


def test_a_version_that_does_not_reproduce_its_reference_is_refused_at_deploy(
    churn: Workspace, both_ways: str
) -> None:
    """The candidate answers its input example differently from registration (another
    library version, a damaged artifact): `podium deploy` refuses it and shows the rows."""
    from sqlalchemy import update

    from podium.store import schema

    with churn.store.db.write() as conn:
        conn.execute(
            update(schema.model_versions)
            .where(schema.model_versions.c.version == 2)
            .values(reference_output={"predictions": [7, 0, 0, 0, 0]})
        )
    r = same_both_ways(["deploy", "churn@challenger", "--name", "bad"])
    assert r.exit_code != 0 and "Traceback" not in r.output
    assert "'bad' refused" in r.output and "row 0: expected 7, got 0" in r.output
    with pytest.raises(NotFoundError):
        churn.store.deployments.get("bad")
    deploy_model(churn, "churn@champion", "good")  # the sound version deploys
    assert churn.store.deployments.get("good").revision == 1


def test_status_names_the_flavor_each_variant_is_served_with(churn: Workspace) -> None:
    from podium.deploy.report import summary

    spec = {
        "name": "flavors",
        "strategy": "ab",
        "variants": {
            "fast": {"model": "models:/churn@champion"},
            "plain": {"model": "models:/churn@challenger", "flavor": "sklearn"},
        },
        "ab": {"weights": {"fast": 50, "plain": 50}},
    }
    apply(churn, spec)
    variants = summary(churn, "flavors")["variants"]
    assert {v: f["flavor"] for v, f in variants.items()} == {"fast": "onnx", "plain": "sklearn"}
    r = CliRunner().invoke(app, ["deployments", "status", "flavors"])
    assert r.exit_code == 0 and "flavor" in r.stdout and "onnx" in r.stdout, r.output
