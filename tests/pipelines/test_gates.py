"""Validation gates and `podium check`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.dummy import DummyClassifier
from tests.conftest import Trained
from typer.testing import CliRunner

import podium
from podium import pipeline, step
from podium.cli.main import app
from podium.core.errors import GateFailed, PipelineError, ValidationError
from podium.pipelines import beat_champion, check_data, check_metrics, check_serialization
from podium.workspace import Workspace

FRAME = pd.DataFrame({"age": [20, 35, None, 150], "income": [1.0, 2.0, 3.0, 4.0]})


def test_check_data_reports_every_failure_at_once() -> None:
    with pytest.raises(GateFailed) as info:
        check_data(
            FRAME,
            columns={"age": "float64", "plan": "string", "income": "int64"},
            not_null=["age"],
            ranges={"age": (0, 120), "income": (None, 3.5)},
            min_rows=10,
        )
    assert info.value.failures == [
        "column 'plan' is missing",
        "column 'income' is float64, expected int64",
        "column 'age' has 1 null(s)",
        "column 'age' has 1 value(s) above 120 (max 150.0)",
        "column 'income' has 1 value(s) above 3.5 (max 4.0)",
        "4 rows, fewer than the minimum 10",
    ]
    assert check_data(FRAME, not_null=["income"], max_rows=4) is FRAME


def test_check_metrics_rules() -> None:
    metrics = {"accuracy": 0.91, "rmse": 2.0}
    assert check_metrics(metrics, {"accuracy": ">= 0.9", "rmse": "< 2.5"}) == metrics
    with pytest.raises(GateFailed, match=r"accuracy = 0\.91, required > 0\.95"):
        check_metrics(metrics, {"accuracy": "> 0.95"})
    with pytest.raises(GateFailed, match="metric 'f1' is missing"):
        check_metrics(metrics, {"f1": ">= 0.5"})
    with pytest.raises(ValidationError, match="not a comparison"):
        check_metrics(metrics, {"accuracy": "high"})


def test_beat_champion_compares_on_the_same_holdout(workspace: Workspace, trained: Trained) -> None:
    X, y = trained.X, trained.y
    weak = DummyClassifier(strategy="most_frequent").fit(X, y)
    assert beat_champion(weak, X, y, name="cancer") is weak  # no champion yet: passes
    podium.register_model(trained.model, "cancer", input_example=X, alias="champion")
    with pytest.raises(GateFailed, match="does not beat cancer@champion"):
        beat_champion(weak, X, y, name="cancer")
    assert beat_champion(trained.model, X, y, name="cancer") is trained.model
    with pytest.raises(GateFailed):
        beat_champion(trained.model, X, y, name="cancer", margin=0.01)


class Forgetful:
    """Predicts from state that does not survive pickling: serialization changes it."""

    def __init__(self) -> None:
        self.offset = 1

    def __getstate__(self) -> dict[str, Any]:
        return {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.offset = 0

    def predict(self, X: Any) -> Any:
        return np.zeros(len(X)) + self.offset


def test_check_serialization_catches_a_model_that_changes_when_saved(trained: Trained) -> None:
    assert check_serialization(trained.model, trained.X) is trained.model
    with pytest.raises(GateFailed, match="predicts differently on 569 of 569 rows"):
        check_serialization(Forgetful(), trained.X)


SIDE_EFFECTS: list[str] = []


@step(cache=False)
def make() -> pd.DataFrame:
    return FRAME.dropna()


@step(cache=False)
def publish(frame: pd.DataFrame) -> int:
    SIDE_EFFECTS.append("published")
    return len(frame)


@pipeline
def gated(max_age: float = 200.0) -> Any:
    data = check_data(make(), ranges={"age": (0, max_age)})
    return publish(data)


def test_check_runs_gates_and_their_inputs_never_the_steps_after(workspace: Workspace) -> None:
    SIDE_EFFECTS.clear()
    result = gated.check()
    assert result.passed and [g.name for g in result.gates] == ["check_data"]
    assert {s.name for s in result.run.steps} == {"make", "check_data"}
    failed = gated.check(max_age=100.0)
    assert not failed.passed
    assert failed.gates[0].message == (
        "Gate 'check_data' failed: column 'age' has 1 value(s) above 100.0 (max 150.0)."
    )
    assert SIDE_EFFECTS == []
    with pytest.raises(PipelineError, match="failed in step 'check_data'"):
        gated.run(max_age=100.0)
    assert SIDE_EFFECTS == []


def test_podium_check_exits_1_on_a_failed_gate(workspace: Workspace, tmp_path: Path) -> None:
    runner = CliRunner()
    ref = "tests.pipelines.test_gates:gated"
    r = runner.invoke(app, ["check", ref, "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["passed"] is True
    r = runner.invoke(app, ["check", ref, "-p", "max_age=100"])
    assert r.exit_code == 1
    assert "FAIL check_data" in r.stdout and "1 of 1 gate(s) failed" in r.stdout
    r = runner.invoke(app, ["check", "tests.pipelines.test_engine:two_naps"])
    assert r.exit_code == 1 and "has no validation gate" in r.stderr


def test_using_a_step_output_as_a_value_while_building_is_explained() -> None:
    @pipeline
    def misuse() -> Any:
        return make().dropna()

    with pytest.raises(PipelineError, match=r"`\.dropna` cannot be used on it there"):
        misuse.build()

    @pipeline
    def misuse_item() -> Any:
        return make()["age"]

    with pytest.raises(PipelineError, match=r"`\['age'\]` cannot be used"):
        misuse_item.build()

    @pipeline
    def broken() -> Any:
        return 1 / 0

    with pytest.raises(PipelineError, match="Building pipeline 'broken' failed: ZeroDivision"):
        broken.build()
