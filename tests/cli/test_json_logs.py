"""`PODIUM_LOG_FORMAT=json` on real processes: every stderr line of `podium serve` and
`podium run` is a JSON object, carrying the request id the response returned and the run id
the run printed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
from tests.conftest import Trained

import podium
from podium.demos.quickstart import _stop, _wait_ready, free_port
from podium.workspace import Workspace


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PODIUM_")}
    return {**env, "PODIUM_HOME": str(home), "PODIUM_LOG_FORMAT": "json"}


def _json_lines(text: str) -> list[dict[str, Any]]:
    lines = [line for line in text.splitlines() if line.strip()]
    assert lines, "no log line at all"
    return [json.loads(line) for line in lines]  # every line: one JSON object


def test_serve_with_access_log_writes_json_lines_with_the_request_id(
    sqlite_workspace: Workspace, trained: Trained, tmp_path: Path
) -> None:
    podium.register_model(trained.model, "cancer", input_example=trained.X[:5])
    port = free_port()
    log = tmp_path / "serve.log"
    args = ["serve", "cancer/1", "--access-log", "--port", str(port)]
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "podium", *args],
            stdout=subprocess.DEVNULL,
            stderr=err,
            env=_env(Path(sqlite_workspace.settings.home)),
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, proc, log)
        row = {k: float(v) for k, v in trained.X.iloc[0].items()}
        given = httpx.post(f"{url}/predict", json=row, headers={"x-request-id": "mine-1"})
        made = httpx.post(f"{url}/predict", json={"records": [{"x": 1}]})  # a 422
        assert (given.status_code, made.status_code) == (200, 422)
    finally:
        _stop(proc)
    lines = _json_lines(log.read_text())
    assert all({"time", "level", "logger", "message"} <= set(x) for x in lines)
    serving = next(x for x in lines if x["message"].startswith("Serving models:/cancer/1"))
    assert serving["logger"] == "podium.cli" and serving["level"] == "INFO"
    access = [x for x in lines if x["logger"] == "uvicorn.access" and x["path"] == "/predict"]
    assert [(x["request_id"], x["status"], x["method"]) for x in access] == [
        ("mine-1", 200, "POST"),
        (made.headers["x-request-id"], 422, "POST"),
    ]
    assert given.headers["x-request-id"] == "mine-1"


PIPELINE = """
import logging
from podium import pipeline, step

log = logging.getLogger("my.pipeline")


@step
def load() -> int:
    log.warning("loading %d rows", 3)
    return 3


@step(process=True)
def double(n: int) -> int:
    import logging

    logging.getLogger("my.pipeline").warning("doubling in a process of its own")
    return 2 * n


@pipeline
def tiny():
    return double(load())
"""


def test_run_writes_json_lines_carrying_the_run_id_and_step(tmp_path: Path) -> None:
    (tmp_path / "tiny.py").write_text(PIPELINE)
    done = subprocess.run(
        [sys.executable, "-m", "podium", "run", str(tmp_path / "tiny.py") + ":tiny", "--json"],
        capture_output=True,
        text=True,
        env=_env(tmp_path / ".podium"),
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    run_id = json.loads(done.stdout)["id"]
    lines = _json_lines(done.stderr)
    assert {x.get("run_id") for x in lines} == {run_id}  # every line knows its run
    mine = {x["message"]: x.get("step") for x in lines if x["logger"] == "my.pipeline"}
    assert mine == {"loading 3 rows": "load", "doubling in a process of its own": "double"}
    steps = [x["message"] for x in lines if x["logger"] == "podium.pipelines.runs"]
    assert steps[0] == f"Run {run_id} of pipeline 'tiny' started (2 steps)."
    assert any(m.startswith("Step 'double' succeeded") for m in steps)
    assert steps[-1].startswith(f"Run {run_id} of pipeline 'tiny' succeeded")


def test_a_command_error_is_a_json_line_too(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "podium", "lineage", "nowhere"],
        capture_output=True,
        text=True,
        env=_env(tmp_path),
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    [line] = _json_lines(done.stderr)
    assert line["level"] == "ERROR" and line["message"].startswith("Nothing called 'nowhere'")
    assert "podium runs list" in line["hint"] and line["error_type"] == "NotFoundError"
