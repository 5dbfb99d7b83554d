"""Batch scoring picks the faster of the model and its ONNX fast path on the job's own rows,
and says which in its result, its manifest and its summary."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from tests.conftest import Trained
from typer.testing import CliRunner

import podium
from podium.batch import score
from podium.batch.choice import choose
from podium.batch.sources import list_inputs
from podium.cli.main import app
from podium.core.errors import ValidationError
from podium.registry import Predictor, Registry
from podium.workspace import Workspace

pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")


@pytest.fixture
def data(sqlite_workspace: Workspace, trained: Trained, tmp_path: Path) -> Path:
    podium.register_model(trained.model, "cancer", input_example=trained.X, alias="champion")
    path = tmp_path / "in.parquet"
    pd.concat([trained.X] * 4, ignore_index=True).to_parquet(path)
    return path


def _manifest(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (folder / "_manifest.jsonl").read_text().splitlines()]


def test_without_a_flavor_the_faster_one_on_the_input_scores_the_job(
    data: Path, trained: Trained, tmp_path: Path
) -> None:
    result = score("cancer@champion", str(data), str(tmp_path / "out"), chunk_size=1_000)
    choice = result.flavor_choice
    assert choice is not None and choice["how"] == "measured" and choice["rows"] == 1_000
    rates = choice["rows_per_s"]
    assert set(rates) == {"onnx", "sklearn"} and result.flavor == max(rates, key=rates.get)
    assert "x the rows/s of" in choice["reason"]
    assert {m["flavor"] for m in _manifest(tmp_path / "out")} == {result.flavor}
    out = pd.read_parquet(tmp_path / "out").sort_values("row")
    X = pd.concat([trained.X] * 4, ignore_index=True)
    assert out["prediction"].tolist() == trained.model.predict(X).tolist()
    np.testing.assert_allclose(out["proba_1"], trained.model.predict_proba(X)[:, 1], atol=1e-5)


def test_a_named_flavor_or_a_model_without_fast_path_is_not_measured(
    data: Path, trained: Trained, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked = score("cancer/1", str(data), str(tmp_path / "a"), flavor="sklearn")
    assert asked.flavor == "sklearn" and asked.flavor_choice is not None
    assert asked.flavor_choice["how"] == "asked" and asked.flavor_choice["rows_per_s"] == {}
    monkeypatch.setenv("PODIUM_ONNX_TOLERANCE", "0")  # parity fails: no fast path
    podium.register_model(trained.model, "strict", input_example=trained.X)
    only = score("strict/1", str(data), str(tmp_path / "b"))
    assert only.flavor == "sklearn" and only.flavor_choice is not None
    assert only.flavor_choice["how"] == "only"
    assert only.flavor_choice["reason"].startswith("the ONNX fast path is failed: parity failed")
    with pytest.raises(ValidationError, match="flavor applies to a model URI"):
        score(podium.load("cancer/1"), str(data), str(tmp_path / "c"), flavor="onnx")


class Slowed(Predictor):
    """A predictor that takes ``delay`` seconds longer per call (to make the choice clear)."""

    def __init__(self, inner: Predictor, delay: float) -> None:
        super().__init__(inner.model, inner.signature, inner.version, inner.flavor)
        self.delay = delay

    def infer_arrays(self, model_input: Any) -> tuple[Any, Any]:
        time.sleep(self.delay)
        return super().infer_arrays(model_input)


def test_the_measurement_picks_whichever_flavor_is_faster(
    sqlite_workspace: Workspace, data: Path
) -> None:
    registry = Registry(sqlite_workspace.store, sqlite_workspace.artifacts)
    sk, onnx = registry.load("cancer/1", flavor="sklearn"), registry.load("cancer/1", flavor="onnx")
    inputs = list_inputs(str(data), None)
    picked, choice = choose([sk, Slowed(onnx, 0.05)], inputs, 100_000, None)
    assert picked.runtime == "sklearn" and choice.rows == 2_276  # the whole (small) input
    assert choice.rows_per_s["sklearn"] > choice.rows_per_s["onnx"]
    picked, choice = choose([Slowed(sk, 0.05), onnx], inputs, 500, None)
    assert picked.runtime == "onnx" and choice.rows == 500  # at most a chunk


def test_the_cli_says_which_flavor_scored_and_why(data: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    r = runner.invoke(app, ["batch", "cancer@champion", str(data), str(tmp_path / "o")])
    assert r.exit_code == 0, r.output
    assert "rows with models:/cancer/1 (" in r.stdout and "x the rows/s of" in r.stdout
    r = runner.invoke(
        app,
        ["batch", "cancer/1", str(data), str(tmp_path / "j"), "--flavor", "onnx", "--json"],
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["flavor"] == "onnx" and out["flavor_choice"]["how"] == "asked"
