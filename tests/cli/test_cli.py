"""The podium command: tables, --json, and one-line errors with a hint, never a traceback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from tests.conftest import Trained
from typer.testing import CliRunner

import podium
from podium.cli.main import app
from podium.demos.quickstart import free_port
from podium.workspace import Workspace

runner = CliRunner()


@pytest.fixture
def registered(workspace: Workspace, trained: Trained) -> Workspace:
    podium.register_model(trained.model, "cancer", input_example=trained.X[:5], alias="champion")
    podium.register_model(
        trained.model, "cancer", input_example=trained.X[:5], metrics={"accuracy": 0.9}
    )
    return workspace


def test_models_list_and_show_as_json(registered: Workspace, both_ways: str) -> None:
    r = runner.invoke(app, ["models", "list", "--json"])
    assert r.exit_code == 0, r.output
    [model] = json.loads(r.stdout)
    assert (model["name"], model["latest_version"], model["aliases"]) == (
        "cancer",
        2,
        {"champion": 1},
    )
    r = runner.invoke(app, ["models", "show", "cancer", "--json"])
    assert [v["version"] for v in json.loads(r.stdout)["versions"]] == [2, 1]
    r = runner.invoke(app, ["models", "show", "cancer@champion", "--json"])
    assert json.loads(r.stdout)["version"] == 1


def test_models_show_renders_a_table(registered: Workspace, both_ways: str) -> None:
    r = runner.invoke(app, ["models", "show", "models:/cancer/2"], env={"COLUMNS": "160"})
    assert r.exit_code == 0
    assert "models:/cancer/2" in r.stdout and "accuracy=0.9" in r.stdout


def test_alias_set_move_and_delete(registered: Workspace, both_ways: str) -> None:
    r = runner.invoke(app, ["models", "alias", "cancer", "champion", "2"])
    assert r.exit_code == 0 and "version 2" in r.stdout
    assert podium.Client().get_model("cancer").aliases == {"champion": 2}
    r = runner.invoke(app, ["models", "alias", "cancer", "champion", "--delete", "--json"])
    assert json.loads(r.stdout) == {"model": "cancer", "alias": "champion", "deleted": True}
    assert podium.Client().get_model("cancer").aliases == {}


@pytest.mark.parametrize(
    ("args", "message", "hint"),
    [
        (
            ["models", "show", "nope"],
            "Model 'nope' not found. Known models: cancer.",
            "podium models list",
        ),
        (
            ["models", "show", "cancer@gold"],
            "Model 'cancer' has no alias 'gold'",
            "podium models alias cancer gold VERSION",
        ),
        (
            ["models", "alias", "cancer", "champion", "7"],
            "has no version 7; the latest is 2",
            "podium models show cancer",
        ),
        (["models", "show", "../etc"], "Invalid model name '..'", "Pick a model name"),
        (["runs", "show", "r123"], "Run 'r123' not found.", "podium runs list"),
    ],
)
def test_user_mistakes_print_an_error_and_a_hint_and_exit_1(
    registered: Workspace, args: list[str], message: str, hint: str, both_ways: str
) -> None:
    r = runner.invoke(app, args)
    assert r.exit_code == 1
    assert message in r.stderr and hint in r.stderr
    assert ("Traceback" not in r.output and r.exception is None) or isinstance(
        r.exception, SystemExit
    )


def test_runs_list_and_show(workspace: Workspace, both_ways: str) -> None:
    from tests.pipelines.test_pipelines import sums

    result = sums.run(n=4)
    r = runner.invoke(app, ["runs", "list", "--json"])
    [run] = json.loads(r.stdout)
    assert run["id"] == result.id and run["status"] == "succeeded"
    r = runner.invoke(app, ["runs", "show", result.id, "--json"])
    assert [s["name"] for s in json.loads(r.stdout)["steps"]][:2] == ["make_frame", "halve"]
    r = runner.invoke(app, ["runs", "show", result.id], env={"COLUMNS": "160"})
    assert "succeeded" in r.stdout and "make_frame" in r.stdout


def test_empty_workspace_says_what_to_do(sqlite_workspace: Workspace, both_ways: str) -> None:
    r = runner.invoke(app, ["models", "list"])
    assert "podium quickstart" in r.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["serve", "cancer@champion"],
        ["run", "tests/pipelines/test_pipelines.py:sums"],
        ["gc"],
        ["scheduler", "--once"],
        ["monitor", "--once"],
        ["server"],
    ],
    ids=lambda args: args[0],
)
def test_store_only_commands_refuse_when_podium_url_is_set(
    sqlite_workspace: Workspace, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    url = "http://127.0.0.1:9"  # never reached: the refusal comes first
    monkeypatch.setenv("PODIUM_URL", url)
    r = runner.invoke(app, args)
    assert r.exit_code == 1 and r.stdout == ""
    assert r.stderr.splitlines() == [
        f"Error: `podium {args[0]}` works on a store it opens itself, and PODIUM_URL points "
        f"this shell at the podium server at {url}.",
        f"Hint: Run it where the store is, or without the server: `env -u PODIUM_URL podium "
        f"{args[0]} ...`.",
    ]


def test_podium_server_refuses_a_public_host_without_auth(
    sqlite_workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PODIUM_AUTH", raising=False)
    r = runner.invoke(app, ["server", "--host", "0.0.0.0", "--port", "9"])
    assert r.exit_code == 1 and r.stdout == ""
    error, hint = r.stderr.splitlines()
    assert error == (
        "Error: Refusing to bind '0.0.0.0' without auth: anyone who can reach it could move "
        "aliases, change deployments and traffic, create tokens and read it all."
    )
    assert "--auth" in hint and "--insecure" in hint


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PODIUM_")}
    return {**env, "PODIUM_HOME": str(home), **extra}


@pytest.mark.slow
def test_serve_binds_loopback_on_port_from_env_and_answers(
    tmp_path: Path, trained: Trained
) -> None:
    podium.Client(home=tmp_path).register_model(
        trained.model, "cancer", input_example=trained.X, alias="champion"
    )
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "podium", "serve", "cancer@champion"],
        env=_env(tmp_path, PORT=str(port)),
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/v2/health/ready").status_code == 200:
                    break
            except httpx.HTTPError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.05)
        row = {k: float(v) for k, v in trained.X.iloc[0].items()}
        r = httpx.post(f"{url}/predict", json={"records": [row]})
        assert r.json()["predictions"] == [int(trained.model.predict(trained.X[:1])[0])]
        bad = httpx.post(f"{url}/predict", json={"records": [{"x": 1}]})
        assert bad.status_code == 422
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=15)
    # uvicorn shuts down gracefully, then re-raises the signal so the exit status shows it.
    assert proc.returncode in (0, -signal.SIGTERM), err
    assert f"http://127.0.0.1:{port}" in err and "Traceback" not in err


def test_serve_of_a_missing_model_exits_1_with_a_hint(tmp_path: Path) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "podium", "serve", "models:/ghost@champion"],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 1
    assert "Model 'ghost' not found" in r.stderr and "Hint:" in r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.slow
def test_quickstart_trains_registers_serves_and_reports(tmp_path: Path) -> None:
    r = subprocess.run(
        ["podium", "quickstart", "--dir", str(tmp_path), "--requests", "50", "--json"],
        env=_env(tmp_path / "unused"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["model_uri"] == "models:/breast-cancer/1" and out["version"] == 1
    assert out["metrics"]["accuracy"] > 0.9 and out["served_accuracy"] > 0.9
    assert out["matches_in_process"] is True and out["requests"] == 100
    assert out["latency_ms"]["/predict"]["p99"] > 0
    client = podium.Client(home=tmp_path / ".podium")
    assert client.get_model("breast-cancer").aliases == {"champion": 1}
    [run] = client.list_runs()
    assert run.status == "succeeded" and run.pipeline == "quickstart-training"
    assert client.get_version("breast-cancer@champion").run_id == run.id
    client.workspace.close()


@pytest.mark.slow
def test_demo_drift_detects_retrains_and_promotes(tmp_path: Path) -> None:
    r = subprocess.run(
        ["podium", "demo", "drift", "--dir", str(tmp_path), "--json"],
        env=_env(tmp_path / "unused"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["outcome"] == "promoted", out["timeline"]
    assert out["accuracy_before"] > 0.95 and out["accuracy_after"] > 0.95
    assert out["accuracy_drifted"] < 0.9
    assert out["champion_before"] != out["champion_after"]
    stages = [e["stage"] for e in out["timeline"] if e["alerts"]]
    assert stages and set(stages) == {"changed"}  # no alarm before the change
    page = Path(out["report"]).read_text()
    assert "drift-demo" in page and "<script" not in page
    # A second run starts afresh in its own folder; a folder it did not make is refused.
    (tmp_path / "mine" / "drift-demo").mkdir(parents=True)
    r = subprocess.run(
        ["podium", "demo", "drift", "--dir", str(tmp_path / "mine")],
        env=_env(tmp_path / "unused"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 1 and "was not made by `podium demo drift`" in r.stderr
