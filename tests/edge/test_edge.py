"""ONNX export checked against the original, served and batch-scored as a flavor, and the
standalone bundle run in a virtual environment with nothing but onnxruntime and numpy."""

from __future__ import annotations

import json
import subprocess
import venv
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from tests.conftest import Trained
from typer.testing import CliRunner

import podium
from podium.batch import score
from podium.cli.main import app
from podium.core.errors import ValidationError
from podium.edge import export_onnx
from podium.serving import start_in_thread
from podium.serving.workers import app_for
from podium.workspace import Workspace

pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")
runner = CliRunner()


@pytest.fixture
def cancer(sqlite_workspace: Workspace, trained: Trained) -> Workspace:
    podium.register_model(trained.model, "cancer", input_example=trained.X, alias="champion")
    return sqlite_workspace


def test_export_checks_parity_and_adds_the_onnx_flavor(cancer: Workspace, trained: Trained) -> None:
    r = runner.invoke(app, ["export", "cancer@champion", "--format", "onnx", "--json"])
    assert r.exit_code == 0, r.output
    e = json.loads(r.stdout)
    assert e["flavor"] == "onnx" and e["label_agreement"] == 1.0 and e["rows_checked"] == 100
    assert e["max_proba_diff"] < 1e-5 and e["bytes"] < 5_000
    mv = podium.Client().get_version("cancer@champion")
    assert [f.flavor for f in mv.flavors] == ["skops", "onnx"]
    onnx = podium.load("cancer@champion", flavor="onnx")
    assert onnx.predict(trained.X).tolist() == trained.model.predict(trained.X).tolist()
    np.testing.assert_allclose(
        onnx.predict_proba(trained.X), trained.model.predict_proba(trained.X), atol=1e-5
    )
    r = runner.invoke(app, ["export", "cancer@champion", "--quantize", "int8"])
    assert r.exit_code == 0 and "nothing to quantize" in r.output


def test_int8_quantizes_a_network_and_reports_the_change(
    sqlite_workspace: Workspace, trained: Trained
) -> None:
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    mlp = make_pipeline(
        StandardScaler(), MLPClassifier((256, 128), max_iter=300, random_state=0)
    ).fit(trained.X, trained.y)
    podium.register_model(mlp, "mlp", input_example=trained.X)
    full = export_onnx(sqlite_workspace, "mlp/1")
    small = export_onnx(sqlite_workspace, "mlp/1", quantize="int8")
    assert small.flavor == "onnx-int8" and small.quantized and small.bytes < full.bytes / 2
    assert small.label_agreement >= 0.95 and small.max_proba_diff is not None


def test_what_cannot_be_exported_faithfully_is_refused(
    sqlite_workspace: Workspace, trained: Trained, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    x = pd.DataFrame({"plan": ["free", "pro"] * 10, "age": range(20)})
    mixed = make_pipeline(
        make_column_transformer((OneHotEncoder(), ["plan"]), remainder="passthrough"),
        LogisticRegression(),
    ).fit(x, [0, 1] * 10)
    podium.register_model(mixed, "mixed", input_example=x)
    with pytest.raises(ValidationError, match="non-numeric columns") as err:
        export_onnx(sqlite_workspace, "mixed/1")
    assert err.value.field == "signature"
    monkeypatch.setenv("PODIUM_ONNX_TOLERANCE", "0")  # no fast path at registration either
    podium.register_model(trained.model, "cancer", input_example=trained.X)
    with pytest.raises(ValidationError, match="differs from it") as err:
        export_onnx(sqlite_workspace, "cancer/1", max_proba_diff=1e-12)
    assert [f.flavor for f in podium.Client().get_version("cancer/1").flavors] == ["skops"]


def test_the_onnx_flavor_serves_and_batch_scores_like_the_original(
    cancer: Workspace, trained: Trained, tmp_path: Path
) -> None:
    export_onnx(cancer, "cancer@champion")
    app_, what = app_for("models:/cancer@champion", cancer, "onnx")
    assert "(onnx)" in what
    srv = start_in_thread(app_)
    try:
        rows = trained.X.head(20).to_dict("records")
        got = httpx.post(f"{srv.url}/predict", json={"records": rows}).json()
        assert got["predictions"] == trained.model.predict(trained.X.head(20)).tolist()
    finally:
        srv.stop()
    trained.X.to_parquet(tmp_path / "in.parquet")
    original = score("cancer@champion", str(tmp_path / "in.parquet"), str(tmp_path / "sk"))
    assert original.rows == len(trained.X)
    r = runner.invoke(
        app,
        [
            "batch",
            "cancer@champion",
            str(tmp_path / "in.parquet"),
            str(tmp_path / "onnx"),
            "--flavor",
            "onnx",
        ],
    )
    assert r.exit_code == 0, r.output
    a = pd.read_parquet(tmp_path / "sk")
    b = pd.read_parquet(tmp_path / "onnx")
    assert a["prediction"].tolist() == b["prediction"].tolist()
    np.testing.assert_allclose(a["proba_1"], b["proba_1"], atol=1e-5)


@pytest.mark.slow
@pytest.mark.xdist_group("processes")
def test_the_bundle_runs_with_only_onnxruntime_and_numpy(cancer: Workspace, tmp_path: Path) -> None:
    export_onnx(cancer, "cancer@champion")
    out = tmp_path / "bundle"
    r = runner.invoke(app, ["edge", "bundle", "cancer@champion", "--out", str(out)])
    assert r.exit_code == 0, r.output
    check = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=out, capture_output=True)
    assert check.returncode == 0, check.stdout
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    pins = [f"onnxruntime=={_version('onnxruntime')}", f"numpy=={_version('numpy')}"]
    subprocess.run([python, "-m", "pip", "install", "-q", *pins], check=True, timeout=600)
    listed = subprocess.run(
        [python, "-m", "pip", "list", "--format=json"], capture_output=True, text=True, check=True
    )
    installed = {p["name"].lower() for p in json.loads(listed.stdout)}
    assert "podium" not in installed and "scikit-learn" not in installed
    got = subprocess.run(
        [python, str(out / "predict.py"), str(out / "example.json")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert got.returncode == 0, got.stderr
    result = json.loads(got.stdout)
    expected = json.loads((out / "expected.json").read_text())
    assert result["predictions"] == expected["predictions"]
    np.testing.assert_allclose(result["probabilities"], expected["probabilities"], atol=1e-5)


def _version(package: str) -> Any:
    from importlib.metadata import version

    return version(package)


def test_edge_mistakes_are_clear(cancer: Workspace, trained: Trained, tmp_path: Path) -> None:
    from sklearn.dummy import DummyClassifier

    dummy = DummyClassifier().fit(trained.X, trained.y)  # skl2onnx has no converter for it
    podium.register_model(dummy, "dummy", input_example=trained.X)
    r = runner.invoke(app, ["edge", "bundle", "dummy/1", "--out", str(tmp_path / "b")])
    assert r.exit_code == 1 and "has no 'onnx' flavor yet" in r.output
    assert "skl2onnx cannot convert a DummyClassifier" in r.output
    r = runner.invoke(app, ["export", "cancer@champion", "--format", "tflite"])
    assert r.exit_code == 1 and "--format takes onnx" in r.output
