"""`podium run` and `podium runs resume` on a pipeline file, as a user would."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from podium.cli.main import app
from podium.workspace import Workspace

runner = CliRunner()

PIPELINE_FILE = textwrap.dedent(
    """
    from pathlib import Path
    from podium import pipeline, step

    @step
    def numbers(n: int) -> list:
        return list(range(n))

    @step(cache=False)
    def total(xs: list, flag: str) -> int:
        if flag and Path(flag).exists():
            raise RuntimeError("flag file present")
        return sum(xs)

    @pipeline
    def summing(n: int = 3, flag: str = ""):
        return total(numbers(n), flag)
    """
)


@pytest.fixture
def pipeline_file(tmp_path: Path) -> Path:
    path = tmp_path / "my_pipeline.py"
    path.write_text(PIPELINE_FILE)
    return path


def test_run_a_pipeline_file_with_params(workspace: Workspace, pipeline_file: Path) -> None:
    r = runner.invoke(app, ["run", f"{pipeline_file}:summing", "--param", "n=5", "--json"])
    assert r.exit_code == 0, r.output
    run = json.loads(r.stdout)
    assert run["status"] == "succeeded" and run["params"] == {"n": 5, "flag": ""}
    assert run["pipeline_ref"] == f"{pipeline_file.resolve()}:summing"
    r = runner.invoke(app, ["run", f"{pipeline_file}:summing", "-p", "n=5"])
    assert r.exit_code == 0 and "1 from cache" in r.stdout


def test_resume_a_failed_run_from_the_cli(
    workspace: Workspace, pipeline_file: Path, tmp_path: Path
) -> None:
    flag = tmp_path / "flag"
    flag.write_text("x")
    r = runner.invoke(app, ["run", f"{pipeline_file}:summing", "-p", f"flag={flag}"])
    assert r.exit_code == 1
    assert "failed in step 'total': RuntimeError: flag file present" in r.stderr
    assert "podium runs resume" in r.stderr
    run_id = json.loads(runner.invoke(app, ["runs", "list", "--json"]).stdout)[0]["id"]
    flag.unlink()
    r = runner.invoke(app, ["runs", "resume", run_id, "--json"])
    assert r.exit_code == 0, r.output
    resumed = json.loads(r.stdout)
    assert resumed["id"] == run_id and resumed["status"] == "succeeded"
    steps = json.loads(runner.invoke(app, ["runs", "show", run_id, "--json"]).stdout)["steps"]
    assert [s["status"] for s in steps] == ["succeeded", "succeeded"]
    assert steps[0]["cache_info"]["reason"] == "first run of this step"


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("nope.py:x", "No such file"),
        ("summing", "Invalid pipeline reference"),
        ("json:dumps", "is a function, not a pipeline"),
        ("no_such_module_xyz:p", "Cannot import 'no_such_module_xyz'"),
    ],
)
def test_bad_pipeline_references_are_explained(
    sqlite_workspace: Workspace, ref: str, message: str
) -> None:
    r = runner.invoke(app, ["run", ref])
    assert r.exit_code == 1
    assert message in r.stderr and "Hint:" in r.stderr


def test_bad_params_are_explained(sqlite_workspace: Workspace, pipeline_file: Path) -> None:
    r = runner.invoke(app, ["run", f"{pipeline_file}:summing", "-p", "n"])
    assert r.exit_code == 1 and "expected NAME=VALUE" in r.stderr
    r = runner.invoke(app, ["run", f"{pipeline_file}:summing", "-p", "m=1"])
    assert r.exit_code == 1 and "Its parameters are: n, flag." in r.stderr


TRAINING_FILE = textwrap.dedent(
    """
    import podium
    from podium import pipeline, step
    from podium.pipelines import check_metrics, deploy

    def data():
        from sklearn.datasets import load_breast_cancer

        return load_breast_cancer(return_X_y=True, as_frame=True)

    @step(cache=False)
    def train(c: float):
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        x, y = data()
        return make_pipeline(StandardScaler(), LogisticRegression(C=c)).fit(x, y)

    @step(cache=False)
    def register(model, metrics):
        x, _ = data()
        return podium.register_model(model, "cancer", input_example=x.head(20), metrics=metrics).uri

    @step(cache=False)
    def metrics(model) -> dict:
        x, y = data()
        return {"accuracy": float(model.score(x, y))}

    @pipeline
    def training(c: float = 1.0, floor: float = 0.9):
        trained = train(c)
        checked = check_metrics(metrics(trained), {"accuracy": f">= {floor}"})
        return register(trained, checked)

    @pipeline
    def training_and_deploy(c: float = 1.0):
        trained = train(c)
        return deploy(register(trained, metrics(trained)), "cancer-step")
    """
)


def test_run_with_deploy_serves_what_the_run_registered(
    workspace: Workspace, tmp_path: Path
) -> None:
    path = tmp_path / "training.py"
    path.write_text(TRAINING_FILE)
    r = runner.invoke(app, ["run", f"{path}:training", "--deploy", "cancer", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["deployed"] == {
        "deployment": "cancer",
        "revision": 1,
        "model": "models:/cancer/1",
    }
    r = runner.invoke(app, ["run", f"{path}:training", "--deploy", "cancer"])
    assert r.exit_code == 0 and "Deployed models:/cancer/2 as 'cancer' (revision 2)" in r.output
    # A failed gate: nothing registered, nothing deployed, the served version unchanged.
    r = runner.invoke(app, ["run", f"{path}:training", "-p", "floor=1.5", "--deploy", "cancer"])
    assert r.exit_code == 1
    assert workspace.store.deployments.get("cancer").spec["variants"]["main"]["model"] == (
        "models:/cancer/2"
    )
    r = runner.invoke(app, ["run", f"{path}:training", "--deploy", "../x"])
    assert r.exit_code == 1 and "deployment name" in r.output
    # The built-in step does the same inside the pipeline.
    r = runner.invoke(app, ["run", f"{path}:training_and_deploy", "--json"])
    assert r.exit_code == 0, r.output
    dep = workspace.store.deployments.get("cancer-step")
    assert dep.spec["variants"]["main"]["model"] == "models:/cancer/3"
