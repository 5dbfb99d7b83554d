"""The same pipeline on Ray: identical outputs and records, by configuration alone."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest

import podium
from podium import pipeline, step
from podium.core.errors import PipelineError
from podium.workspace import Workspace

ray = pytest.importorskip("ray", reason="Ray is an optional extra: pip install 'podium[ray]'")
pytestmark = [pytest.mark.xdist_group("ray"), pytest.mark.slow]


@pytest.fixture(scope="session")
def ray_instance() -> Iterator[None]:
    """One local Ray instance for the session (this xdist worker)."""
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        ignore_reinit_error=True,
        configure_logging=False,
    )
    yield
    ray.shutdown()


@step(cache=False)
def numbers(n: int) -> pd.DataFrame:
    return pd.DataFrame({"x": range(n), "pid": [os.getpid()] * n})


@step(cache=False)
def total(frame: pd.DataFrame) -> dict[str, Any]:
    return {"sum": int(frame["x"].sum()), "pid": os.getpid()}


@step(cache=False)
def boom(frame: pd.DataFrame) -> int:
    raise KeyError("missing column")


@pipeline
def summing(n: int = 10) -> Any:
    return total(numbers(n))


@pipeline
def failing() -> Any:
    return boom(numbers(3))


def _shape(run_id: str) -> list[tuple[str, str, int]]:
    run = podium.Client().get_run(run_id)
    return [(s.name, s.status, len(s.outputs)) for s in run.steps]


def test_a_ray_run_equals_a_local_run(workspace: Workspace, ray_instance: None) -> None:
    local = summing.run(n=100)
    remote = summing.run(n=100, executor="ray")
    assert remote.outputs["sum"] == local.outputs["sum"] == 4950
    assert remote.outputs["pid"] != os.getpid()  # it really ran in a Ray worker
    assert _shape(remote.id) == _shape(local.id)
    client = podium.Client()
    frames = [
        client.load_artifact(client.get_run(r.id).steps[0].outputs[0]) for r in (local, remote)
    ]
    pd.testing.assert_frame_equal(frames[0][["x"]], frames[1][["x"]])


def test_configuration_alone_selects_ray(
    workspace: Workspace, ray_instance: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PODIUM_EXECUTOR", "ray")
    assert summing.run(n=3).outputs["pid"] != os.getpid()


def test_a_step_error_on_ray_keeps_its_type_and_message(
    workspace: Workspace, ray_instance: None
) -> None:
    with pytest.raises(PipelineError, match="KeyError: 'missing column'"):
        failing.run(executor="ray")


def test_an_unknown_executor_is_a_config_error(workspace: Workspace) -> None:
    from podium.core.errors import ConfigError

    with pytest.raises(ConfigError, match="Unknown executor 'spark'"):
        summing.run(executor="spark")


def test_podium_run_with_the_ray_executor(workspace: Workspace, ray_instance: None) -> None:
    import json

    from typer.testing import CliRunner

    from podium.cli.main import app

    r = CliRunner().invoke(
        app,
        ["run", "tests.pipelines.test_ray:summing", "-p", "n=4", "--executor", "ray", "--json"],
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["status"] == "succeeded"
