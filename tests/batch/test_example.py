"""examples/batch_retraining.py: retraining on the newest data versions, then scoring."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

import podium
from podium.pipelines import load_pipeline
from podium.pipelines.schedules import add_schedule
from podium.workspace import Workspace

EXAMPLE = Path(__file__).parents[2] / "examples" / "batch_retraining.py"


def test_the_example_retrains_deploys_and_scores_on_schedule(
    workspace: Workspace, tmp_path: Path
) -> None:
    retrain = load_pipeline(f"{EXAMPLE}:retrain")
    score = load_pipeline(f"{EXAMPLE}:score")
    module = __import__("sys").modules[retrain.fn.__module__]
    for day in range(4):
        podium.register_data(module.generated_day(day), "customers")
    first = retrain.run()
    assert first.outputs == {"deployment": "churn", "revision": 1, "model": "models:/churn/1"}
    out = tmp_path / "scores"
    result = score.run(output=str(out), staging=str(tmp_path / "staging")).outputs
    assert result["rows"] == 2_000 and result["model_version"] == "models:/churn/1"
    assert len(pd.read_parquet(out)) == 2_000
    # It can be scheduled on each new data version, as its docstring says.
    s = add_schedule(workspace, f"{EXAMPLE}:retrain", on_event="data:customers")
    podium.register_data(module.generated_day(4), "customers")
    assert len(workspace.store.schedules.pending_events(s)) == 1
