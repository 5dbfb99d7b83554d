"""Pipelines through the public API: the DAG from data, records, artifacts, failures."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

import podium
from podium import pipeline, step
from podium.core.errors import PipelineError
from podium.workspace import Workspace


@step
def make_frame(n: int) -> pd.DataFrame:
    return pd.DataFrame({"x": np.arange(n, dtype=float), "y": np.arange(n) % 2})


@step(outputs=["left", "right"])
def halve(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    mid = len(frame) // 2
    return frame.iloc[:mid], frame.iloc[mid:]


@step
def total(frame: pd.DataFrame) -> float:
    return float(frame["x"].sum())


@step
def summary(a: float, b: float) -> dict[str, float]:
    return {"left": a, "right": b}


@pipeline
def sums(n: int = 10) -> Any:
    left, right = halve(make_frame(n))
    return summary(total(left), total(right))


def test_the_dag_follows_the_data_passed_between_steps() -> None:
    graph = sums.build(n=4)
    assert list(graph.nodes) == ["make_frame", "halve", "total", "total_2", "summary"]
    assert graph.nodes["halve"].upstream == ["make_frame"]
    assert graph.nodes["summary"].upstream == ["total", "total_2"]


def test_a_run_returns_values_and_records_every_step(workspace: Workspace) -> None:
    result = sums.run(n=10)
    assert result.outputs == {"left": 10.0, "right": 35.0}
    run = podium.Client().get_run(result.id)
    assert (run.status, run.pipeline, run.params) == ("succeeded", "sums", {"n": 10})
    assert [s.name for s in run.steps] == ["make_frame", "halve", "total", "total_2", "summary"]
    assert all(s.status == "succeeded" and s.duration_s is not None for s in run.steps)
    assert run.steps[1].inputs == {"frame": {"step": "make_frame", "output": None}}
    assert run.steps[0].inputs == {"n": 10}


def test_outputs_are_stored_as_typed_verified_artifacts(workspace: Workspace) -> None:
    result = sums.run(n=6)
    client = podium.Client()
    run = client.get_run(result.id)
    (frame_id,) = run.steps[0].outputs
    left_id, right_id = run.steps[1].outputs
    pd.testing.assert_frame_equal(client.load_artifact(frame_id), result.step_outputs["make_frame"])
    assert client.load_artifact(right_id)["x"].tolist() == [3.0, 4.0, 5.0]
    assert client.load_artifact(run.steps[-1].outputs[0]) == {"left": 3.0, "right": 12.0}
    assert workspace.store.runs.get_artifact(left_id).materializer == "parquet"


@step
def explode(x: float) -> float:
    raise RuntimeError(f"bad value {x}")


@step
def after(x: float) -> float:
    return x


@step
def independent() -> int:
    return 1


@pipeline
def broken() -> Any:
    a = explode(total(make_frame(3)))
    return after(a), independent()


def test_a_failed_step_fails_the_run_and_skips_only_its_dependants(workspace: Workspace) -> None:
    with pytest.raises(
        PipelineError, match=r"failed in step 'explode': RuntimeError: bad value 3\.0"
    ):
        broken.run()
    client = podium.Client()
    run = client.get_run(client.list_runs(pipeline="broken")[0].id)
    status = {s.name: s.status for s in run.steps}
    assert status == {
        "make_frame": "succeeded",
        "total": "succeeded",
        "explode": "failed",
        "after": "skipped",
        "independent": "succeeded",
    }
    failed = next(s for s in run.steps if s.name == "explode")
    assert failed.error is not None and "Traceback" in failed.error
    assert run.status == "failed" and "explode" in (run.error or "")


def test_a_failed_run_can_be_returned_instead_of_raised(workspace: Workspace) -> None:
    result = broken.run(raise_on_failure=False)
    assert result.status == "failed" and result.outputs is None


def test_unknown_parameters_are_refused_with_the_known_ones(workspace: Workspace) -> None:
    with pytest.raises(PipelineError, match="unexpected keyword") as info:
        sums.run(m=3)
    assert info.value.hint == "Its parameters are: n."


@step
def opaque() -> object:
    return object()


@pipeline
def unstorable() -> Any:
    return opaque()


def test_an_output_without_a_materializer_fails_clearly(workspace: Workspace) -> None:
    with pytest.raises(PipelineError, match="does not know how to store"):
        unstorable.run()


def test_a_step_outside_a_pipeline_is_the_plain_function() -> None:
    assert total(pd.DataFrame({"x": [1.0, 2.0]})) == 3.0


def test_branching_on_an_output_while_building_is_explained() -> None:
    @pipeline
    def branchy() -> Any:
        if total(make_frame(2)):
            pass

    with pytest.raises(PipelineError, match="cannot be used in an `if`"):
        branchy.build()


class Mean:
    def __init__(self, value: float) -> None:
        self.value = value

    def predict(self, X: Any) -> Any:
        return np.full(len(X), self.value)


@step
def fit_mean(frame: pd.DataFrame) -> dict[str, float]:
    return {"mean": float(frame["x"].mean())}


@step
def register(stats: dict[str, float], frame: pd.DataFrame) -> int:
    mv = podium.register_model(
        Mean(stats["mean"]), "mean-model", input_example=frame[["x"]], alias="champion"
    )
    return mv.version


@pipeline
def train_mean(n: int = 8) -> Any:
    frame = make_frame(n)
    return register(fit_mean(frame), frame)


def test_a_model_registered_in_a_step_links_to_its_run(workspace: Workspace) -> None:
    result = train_mean.run()
    mv = podium.Client().get_version("mean-model@champion")
    assert mv.run_id == result.id
    assert podium.load("mean-model@champion").predict(pd.DataFrame({"x": [1.0]})).tolist() == [3.5]


def test_a_run_writes_into_the_workspace_it_was_given(tmp_path: Any, sqlite_workspace: Any) -> None:
    from podium.core.settings import Settings

    other = Workspace(Settings.at(tmp_path / "elsewhere"))
    result = train_mean.run(workspace=other)
    assert other.store.models.get_model("mean-model").latest_version == 1
    assert other.store.runs.get(result.id).status == "succeeded"
    assert sqlite_workspace.store.models.list_models() == []
    other.close()
