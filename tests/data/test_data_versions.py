"""Data versions: content-hashed, profiled, verified on load, and part of lineage."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from tests.conftest import same_both_ways
from typer.testing import CliRunner

import podium
from podium import pipeline, step
from podium.cli.main import app
from podium.core.errors import IntegrityError, NotFoundError, ValidationError
from podium.workspace import Workspace


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "amount": rng.normal(100, 15, 500),
            "plan": rng.choice(["free", "pro", "team"], 500),
            "churned": rng.integers(0, 2, 500),
        }
    )


def test_a_csv_file_becomes_a_profiled_version_once(
    workspace: Workspace, frame: pd.DataFrame, tmp_path: Path
) -> None:
    path = tmp_path / "customers.csv"
    frame.to_csv(path, index=False)
    dv = podium.register_data(str(path), "customers")
    assert (dv.uri, dv.rows, dv.format) == ("data:/customers/1", 500, "csv")
    assert [c["name"] for c in dv.schema["columns"]] == ["amount", "plan", "churned"]
    amount = dv.profile["columns"]["amount"]
    assert amount["kind"] == "numeric" and amount["count"] == 500
    assert amount["quantiles"]["p50"] == pytest.approx(float(np.median(frame["amount"])))
    assert sum(amount["histogram"]["counts"]) == 500
    plan = dv.profile["columns"]["plan"]
    assert plan["kind"] == "categorical" and plan["unique"] == 3
    again = podium.register_data(str(path), "customers")
    assert again.version == 1  # same content, same version
    frame.iloc[:10].to_csv(path, index=False)
    assert podium.register_data(str(path), "customers").version == 2


def test_dataframes_parquet_jsonl_and_urls_round_trip(
    workspace: Workspace, frame: pd.DataFrame, tmp_path: Path
) -> None:
    podium.register_data(frame, "f")
    pd.testing.assert_frame_equal(podium.load_data("f"), frame)
    frame.to_parquet(tmp_path / "x.parquet", index=False)
    frame.to_json(tmp_path / "x.jsonl", orient="records", lines=True)
    assert podium.register_data(str(tmp_path / "x.parquet"), "p").format == "parquet"
    assert podium.register_data(str(tmp_path / "x.jsonl"), "j").rows == 500
    import fsspec

    with fsspec.open("memory://bucket/x.csv", "w") as fh:
        frame.to_csv(fh, index=False)
    dv = podium.register_data("memory://bucket/x.csv", "remote")
    assert dv.source == "memory://bucket/x.csv" and dv.rows == 500
    assert podium.load_data("remote/1")["plan"].tolist() == frame["plan"].tolist()


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bad.parquet", b"not parquet at all", "is not readable as parquet"),
        ("data.xlsx", b"x", "Cannot tell the format"),
    ],
)
def test_unreadable_sources_name_the_file(
    workspace: Workspace, tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ValidationError, match=message) as info:
        podium.register_data(str(path), "bad")
    assert info.value.field in ("source", "format")
    with pytest.raises(ValidationError, match="No such file"):
        podium.register_data(str(tmp_path / "missing.csv"), "bad")


def test_a_tampered_data_blob_is_refused(workspace: Workspace, frame: pd.DataFrame) -> None:
    dv = podium.register_data(frame, "f")
    blob = Path(workspace.settings.artifacts_url) / "sha256" / dv.digest[:2] / dv.digest[2:]
    blob.write_bytes(b"tampered")
    with pytest.raises(IntegrityError):
        podium.load_data("f")
    with pytest.raises(NotFoundError, match="Known datasets: f"):
        podium.load_data("g")


class MeanModel:
    def __init__(self, mean: float) -> None:
        self.mean = mean

    def predict(self, X: Any) -> Any:
        return np.full(len(X), self.mean)


@step(cache=False)
def read(ref: str) -> pd.DataFrame:
    return podium.load_data(ref)


@step(cache=False)
def fit_and_register(frame: pd.DataFrame, ref: str) -> int:
    model = MeanModel(float(frame["amount"].mean()))
    return podium.register_model(model, "spend", input_example=frame[["amount"]], data=ref).version


@pipeline
def train_from_data(ref: str = "data:/customers/1") -> Any:
    return fit_and_register(read(ref), ref)


@pytest.fixture
def trained_from_data(workspace: Workspace, frame: pd.DataFrame) -> tuple[str, str]:
    """customers/1, read by a run that registered spend/1: (data uri, run id)."""
    dv = podium.register_data(frame, "customers")
    return dv.uri, train_from_data.run(ref=dv.uri).id


def test_lineage_runs_from_data_through_the_run_to_the_model(
    workspace: Workspace, trained_from_data: tuple[str, str], both_ways: str
) -> None:
    data, run_id = trained_from_data
    client = podium.Client()
    mv = client.get_version("spend/1")
    assert mv.run_id == run_id and mv.data_ref == data
    assert [d.uri for d in client.lineage_of(mv)] == [data]
    assert workspace.store.data.runs_reading(podium.core.names.DataRef("customers", 1)) == [run_id]
    r = same_both_ways(["models", "show", "spend/1", "--json"])
    assert json.loads(r.stdout)["lineage"] == {"data": [data], "run": run_id}


def test_cli_data_add_list_show(
    workspace: Workspace, frame: pd.DataFrame, tmp_path: Path, both_ways: str
) -> None:
    path = tmp_path / "c.csv"
    frame.to_csv(path, index=False)
    runner = CliRunner()
    r = runner.invoke(app, ["data", "add", str(path), "--name", "c", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["rows"] == 500
    [listed] = json.loads(same_both_ways(["data", "list", "--json"]).stdout)
    assert listed["name"] == "c" and listed["source"] == str(path)
    r = same_both_ways(["data", "show", "c/1"])
    assert r.exit_code == 0 and "amount" in r.stdout
    r = same_both_ways(["data", "add", str(tmp_path / "nope.csv"), "--name", "c"])
    assert r.exit_code == 1 and f"No such file: '{tmp_path / 'nope.csv'}'." in r.stderr
    r = same_both_ways(["data", "add", str(tmp_path / "nope.xlsx"), "--name", "c"])
    assert r.exit_code == 1 and f"Cannot tell the format of '{tmp_path / 'nope.xlsx'}'" in r.stderr
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"not parquet at all")
    r = same_both_ways(["data", "add", str(bad), "--name", "c"])
    assert r.exit_code == 1 and f"{bad} is not readable as parquet" in r.stderr
