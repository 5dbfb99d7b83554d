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
