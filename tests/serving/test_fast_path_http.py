"""`podium serve` answers through the ONNX fast path by default where its parity held, names
the flavor in every answer and in /metrics, and takes --flavor to choose."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from tests.conftest import Trained
from typer.testing import CliRunner

import podium
from podium.cli.main import app
from podium.deploy import apply
from podium.workspace import Workspace

pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")
runner = CliRunner()


def _rows(trained: Trained, n: int = 3) -> dict[str, Any]:
    return {"records": trained.X.iloc[:n].to_dict(orient="records")}


def _logged(trained: Trained) -> Any:
    """A pipeline skl2onnx cannot convert (a FunctionTransformer of a Python function)."""
    model = make_pipeline(FunctionTransformer(np.log1p), LogisticRegression(max_iter=2000))
    return model.fit(trained.X, trained.y)


def _log(tmp_path: Path) -> str:
    return "\n".join(p.read_text() for p in tmp_path.glob("server-*.log"))


def test_podium_serve_answers_through_the_fast_path_by_default_and_sklearn_when_asked(
    sqlite_workspace: Workspace, trained: Trained, cli_server: Any, tmp_path: Path
) -> None:
    podium.register_model(trained.model, "cancer", input_example=trained.X, alias="champion")
    podium.register_model(_logged(trained), "logged", input_example=trained.X)
    fast = cli_server("cancer@champion")
    slow = cli_server("cancer@champion", "--flavor", "sklearn")
    refused = cli_server("logged/1")  # its conversion failed: scikit-learn answers
    expected = trained.model.predict_proba(trained.X.iloc[:3])
    for server, flavor in ((fast, "onnx"), (slow, "sklearn")):
        r = httpx.post(f"{server.url}/predict", json=_rows(trained))
        assert r.status_code == 200 and r.headers["x-podium-flavor"] == flavor
        tol = 1e-5 if flavor == "onnx" else 1e-12
        np.testing.assert_allclose(r.json()["probabilities"], expected, rtol=0, atol=tol)
        metrics = httpx.get(f"{server.url}/metrics").text
        assert f'podium_requests_total{{code="200",flavor="{flavor}",model="cancer"' in metrics
    r = httpx.post(f"{refused.url}/predict", json=_rows(trained))
    assert r.status_code == 200 and r.headers["x-podium-flavor"] == "sklearn"
    log = _log(tmp_path)
    assert "models:/cancer/1 (onnx fast path, parity held: 100 rows" in log
    assert "models:/logged/1 (skops; ONNX fast path failed: skl2onnx cannot convert" in log


def test_flavor_onnx_on_a_version_that_failed_conversion_is_an_error_naming_the_reason(
    sqlite_workspace: Workspace, trained: Trained
) -> None:
    podium.register_model(_logged(trained), "logged", input_example=trained.X)
    r = runner.invoke(app, ["serve", "logged/1", "--flavor", "onnx", "--port", "0"])
    assert r.exit_code == 1
    assert "models:/logged/1 has no ONNX fast path: failed: skl2onnx cannot convert" in r.stderr
    assert "FunctionTransformer" in r.stderr and "--flavor sklearn" in r.stderr
    apply(sqlite_workspace, {"name": "web", "variants": {"main": {"model": "logged/1"}}})
    r = runner.invoke(app, ["serve", "web", "--flavor", "onnx", "--port", "0"])
    assert r.exit_code == 1 and "has no ONNX fast path" in r.stderr
    r = runner.invoke(app, ["serve", "web", "--flavor", "skops", "--port", "0"])
    assert r.exit_code != 0 and "auto, sklearn or onnx" in r.output


def test_an_earlier_version_is_converted_at_first_serve_by_workers_and_deployments(
    sqlite_workspace: Workspace, trained: Trained, cli_server: Any
) -> None:
    from sqlalchemy import update

    from podium.store import schema

    podium.register_model(trained.model, "old", input_example=trained.X)
    podium.register_model(trained.model, "older", input_example=trained.X)
    with sqlite_workspace.store.db.write() as conn:  # as registered before migration 0014
        conn.execute(update(schema.model_versions).values(fast_path=None))
    store = sqlite_workspace.store.models
    workers = cli_server("old/1", "--workers", "2")
    for _ in range(6):
        r = httpx.post(f"{workers.url}/predict", json=_rows(trained, 1))
        assert r.status_code == 200 and r.headers["x-podium-flavor"] == "onnx"
    fast = store.get_version("old", 1).fast_path
    assert fast is not None and fast["status"] == "ready" and fast["rows"] == 100

    apply(
        sqlite_workspace,
        {
            "name": "pair",
            "strategy": "shadow",
            "shadow": {"primary": "main", "shadows": ["copy"]},
            "variants": {
                "main": {"model": "older/1"},
                "copy": {"model": "older/1", "flavor": "sklearn"},
            },
        },
    )
    dep = cli_server("pair")
    r = httpx.post(f"{dep.url}/predict", json=_rows(trained, 1))
    assert r.headers["x-podium-flavor"] == "onnx" and r.json()["variant"] == "main"
    status = httpx.get(f"{dep.url}/deployment").json()
    assert status["flavors"] == {"main": "onnx", "copy": "sklearn"}
    fast = store.get_version("older", 1).fast_path
    assert fast is not None and fast["status"] == "ready"
    forced = cli_server("pair", "--flavor", "sklearn")  # the override wins over the spec
    r = httpx.post(f"{forced.url}/predict", json=_rows(trained, 1))
    assert r.headers["x-podium-flavor"] == "sklearn"
