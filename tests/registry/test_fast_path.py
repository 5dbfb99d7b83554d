"""The ONNX fast path: converted at registration, kept only where parity holds, recorded
either way; versions registered before are converted the first time a server asks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from tests.conftest import Trained

import podium
from podium.core.errors import ConfigError, ValidationError
from podium.registry import Registry, fastpath
from podium.workspace import Workspace

pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")


def _registry(ws: Workspace) -> Registry:
    return Registry(ws.store, ws.artifacts)


def test_a_model_that_converts_gets_a_ready_fast_path_and_an_onnx_flavor(
    workspace: Workspace, trained: Trained
) -> None:
    mv = podium.register_model(
        trained.model, "cancer", input_example=trained.X, reference_data=trained.X
    )
    fast = mv.fast_path
    assert fast is not None
    assert (fast["flavor"], fast["status"], fast["reason"]) == ("onnx", "ready", None)
    # The example's 100 rows and the 569 reference rows: every label identical.
    assert fast["rows"] == 100 + 569 and fast["label_agreement"] == 1.0
    assert 0 < fast["max_proba_diff"] < 1e-5 and fast["tolerance"] == 1e-5
    assert fast["checked_at"] and fast["seconds"] < 5
    assert [f.flavor for f in mv.flavors] == ["skops", "onnx"]
    onnx = mv.flavor("onnx")
    assert onnx is not None and onnx.meta["max_proba_diff"] == fast["max_proba_diff"]
    assert onnx.meta["classes"] == [0, 1] and onnx.meta["tolerance"] == 1e-5
    assert podium.Client().get_version("cancer/1").fast_path == fast  # as stored

    registry = _registry(workspace)
    auto = registry.load("cancer/1", flavor="auto")
    assert (auto.flavor, auto.runtime) == ("onnx", "onnx")
    assert (registry.load("cancer/1", flavor="sklearn").flavor, auto.runtime) == ("skops", "onnx")
    assert registry.load("cancer/1").flavor == "skops"  # podium.load stays the registered model
    registry.verify(auto)  # a server's check before traffic, at the recorded tolerance
    X = trained.X.iloc[:50]
    assert auto.predict(X).tolist() == trained.model.predict(X).tolist()
    np.testing.assert_allclose(
        auto.predict_proba(X), trained.model.predict_proba(X), rtol=0, atol=1e-5
    )


def test_a_model_skl2onnx_cannot_convert_is_recorded_failed_and_served_by_sklearn(
    sqlite_workspace: Workspace, trained: Trained
) -> None:
    logged = make_pipeline(FunctionTransformer(np.log1p), LogisticRegression(max_iter=2000))
    mv = podium.register_model(logged.fit(trained.X, trained.y), "logged", input_example=trained.X)
    assert mv.fast_path is not None and mv.fast_path["status"] == "failed"
    assert "skl2onnx cannot convert a Pipeline" in mv.fast_path["reason"]
    assert "FunctionTransformer" in mv.fast_path["reason"]
    assert [f.flavor for f in mv.flavors] == ["skops"]
    registry = _registry(sqlite_workspace)
    assert registry.load("logged/1", flavor="auto").runtime == "sklearn"
    with pytest.raises(ValidationError, match="has no ONNX fast path: failed: skl2onnx") as e:
        registry.load("logged/1", flavor="onnx")
    assert e.value.hint is not None and "--flavor sklearn" in e.value.hint


def test_parity_forced_to_fail_is_recorded_with_its_figures(
    sqlite_workspace: Workspace, trained: Trained, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PODIUM_ONNX_TOLERANCE", "0")  # float32 never matches float64 exactly
    mv = podium.register_model(trained.model, "strict", input_example=trained.X)
    fast = mv.fast_path
    assert fast is not None and fast["status"] == "failed" and fast["tolerance"] == 0
    assert fast["rows"] == 100 and fast["label_agreement"] == 1.0 and fast["max_proba_diff"] > 0
    assert fast["reason"].startswith("parity failed on 100 reference rows: probabilities differ")
    assert [f.flavor for f in mv.flavors] == ["skops"]  # nothing kept that is not faithful
    assert _registry(sqlite_workspace).load("strict/1", flavor="auto").flavor == "skops"


def test_a_regressor_whose_float32_answers_drift_fails_parity_and_a_scaled_one_holds(
    sqlite_workspace: Workspace, trained: Trained
) -> None:
    # On raw features (areas in the thousands) float32 sums lose the digits that matter.
    y = trained.y * 100.0
    raw = podium.register_model(
        LinearRegression().fit(trained.X, y), "raw", input_example=trained.X
    )
    assert raw.fast_path is not None and raw.fast_path["status"] == "failed"
    assert raw.fast_path["max_pred_diff"] > 1e-5 and raw.fast_path["max_proba_diff"] is None
    assert "relative" in raw.fast_path["reason"]
    scaled = make_pipeline(StandardScaler(), LinearRegression()).fit(trained.X, trained.y)
    mv = podium.register_model(scaled, "scaled", input_example=trained.X)
    assert mv.fast_path is not None and mv.fast_path["status"] == "ready", mv.fast_path
    assert mv.fast_path["max_pred_diff"] <= 1e-5 and mv.fast_path["label_agreement"] == 1.0
    registry = _registry(sqlite_workspace)
    onnx = registry.load("scaled/1", flavor="auto")
    registry.verify(onnx)
    assert onnx.runtime == "onnx"


def test_what_has_nothing_to_convert_is_unavailable_and_cheap(
    sqlite_workspace: Workspace,
) -> None:
    class Constant:
        def predict(self, X: object) -> object:
            return np.zeros(len(np.asarray(X)))

    X = pd.DataFrame({"a": [1.0, 2.0, 3.0]})
    mv = podium.register_model(Constant(), "const", input_example=X, flavor="python")
    assert mv.fast_path is not None and mv.fast_path["status"] == "unavailable"
    assert "is not a scikit-learn model" in mv.fast_path["reason"]
    text = pd.DataFrame({"plan": ["free", "pro", "pro"], "age": [20, 30, 40]})
    from sklearn.compose import make_column_transformer
    from sklearn.preprocessing import OneHotEncoder

    mixed = make_pipeline(
        make_column_transformer((OneHotEncoder(), ["plan"]), remainder="passthrough"),
        LogisticRegression(),
    ).fit(text, [0, 1, 1])
    mv = podium.register_model(mixed, "mixed", input_example=text)
    assert mv.fast_path is not None and mv.fast_path["status"] == "unavailable"
    assert "non-numeric input column(s) 'plan'" in mv.fast_path["reason"]
    no_example = podium.register_model(LogisticRegression().fit([[0.0], [1.0]], [0, 1]), "bare")
    assert no_example.fast_path is not None
    assert no_example.fast_path["reason"] == "no input example to check the conversion against"
    assert _registry(sqlite_workspace).load("mixed/1", flavor="auto").runtime == "sklearn"


def test_a_version_registered_before_is_converted_the_first_time_a_server_asks(
    workspace: Workspace, trained: Trained
) -> None:
    from sqlalchemy import delete, update

    from podium.store import schema

    podium.register_model(trained.model, "old", input_example=trained.X, alias="champion")
    with workspace.store.db.write() as conn:  # as migration 0014 leaves an earlier version
        conn.execute(update(schema.model_versions).values(fast_path=None))
        conn.execute(delete(schema.model_flavors).where(schema.model_flavors.c.flavor == "onnx"))
    registry = _registry(workspace)
    before = registry.get("old@champion")
    assert before.fast_path is None and [f.flavor for f in before.flavors] == ["skops"]
    assert registry.load("old@champion").flavor == "skops"  # a plain load checks nothing

    served = registry.load("old@champion", flavor="auto")
    assert served.flavor == "onnx"
    after = registry.get("old/1")
    assert after.fast_path is not None and after.fast_path["status"] == "ready"
    assert after.fast_path["rows"] == 100  # the input example: what an old version has
    assert [f.flavor for f in after.flavors] == ["skops", "onnx"]
    again = registry.fast_path("old/1")  # recorded once: asking again changes nothing
    assert again.fast_path == after.fast_path
    actions = [e.action for e in podium.Client().audit(target="models:/old/1")]
    assert actions.count("model_version.fast_path") == 1


def test_a_recorded_outcome_stands_when_another_process_checked_first(
    sqlite_workspace: Workspace, trained: Trained
) -> None:
    podium.register_model(trained.model, "race", input_example=trained.X)
    store = sqlite_workspace.store.models
    mv = store.get_version("race", 1)
    theirs = store.set_fast_path("race", 1, {"status": "failed", "reason": "x"}, expected=None)
    assert theirs.fast_path == mv.fast_path  # expected None, but it was checked: untouched
    ours = store.set_fast_path(
        "race", 1, {"status": "failed", "reason": "x"}, expected=mv.fast_path
    )
    assert ours.fast_path == {"status": "failed", "reason": "x"}


def test_registration_never_fails_because_of_the_fast_path(
    sqlite_workspace: Workspace, trained: Trained, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(model: object, columns: int) -> bytes:
        raise RuntimeError("converter crashed")

    monkeypatch.setattr(fastpath, "convert", explode)
    mv = podium.register_model(trained.model, "safe", input_example=trained.X)
    assert mv.fast_path is not None and mv.fast_path["status"] == "failed"
    assert mv.fast_path["reason"] == "the check failed: RuntimeError: converter crashed"

    def missing(model: object, columns: int) -> bytes:
        raise ConfigError("The ONNX fast path needs skl2onnx and onnxruntime.", hint="pip ...")

    monkeypatch.setattr(fastpath, "convert", missing)
    mv = podium.register_model(trained.model, "safe", input_example=trained.X)
    assert mv.fast_path is not None and mv.fast_path["status"] == "unavailable"
    assert mv.fast_path["cause"] == "extra"
    # Installed meanwhile (it is, here): the first server to ask converts it after all.
    assert fastpath.recheck(mv.fast_path)
    monkeypatch.undo()
    assert _registry(sqlite_workspace).load("safe/2", flavor="auto").runtime == "onnx"


def test_a_bad_tolerance_setting_is_a_config_error_before_anything_is_stored(
    sqlite_workspace: Workspace, trained: Trained, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PODIUM_ONNX_TOLERANCE", "tight")
    with pytest.raises(ConfigError, match="PODIUM_ONNX_TOLERANCE='tight' is not a tolerance"):
        podium.register_model(trained.model, "tol", input_example=trained.X)
    assert podium.Client().list_models() == []
    monkeypatch.setenv("PODIUM_ONNX_TOLERANCE", "1e-3")
    mv = podium.register_model(trained.model, "tol", input_example=trained.X)
    assert mv.fast_path is not None and mv.fast_path["tolerance"] == 1e-3


def test_models_show_names_the_fast_path_with_its_figures_or_reason(
    sqlite_workspace: Workspace, trained: Trained
) -> None:
    import json

    from typer.testing import CliRunner

    from podium.cli.main import app

    podium.register_model(trained.model, "cancer", input_example=trained.X)
    logged = make_pipeline(FunctionTransformer(np.log1p), LogisticRegression(max_iter=2000))
    podium.register_model(logged.fit(trained.X, trained.y), "logged", input_example=trained.X)
    runner = CliRunner()
    text = runner.invoke(app, ["models", "show", "cancer/1"], env={"COLUMNS": "200"}).stdout
    assert "fast path" in text and "ready: onnx flavor, 100 rows, labels 100.00% identical" in text
    text = runner.invoke(app, ["models", "show", "logged/1"], env={"COLUMNS": "200"}).stdout
    assert "failed: skl2onnx cannot convert a Pipeline" in text
    shown = json.loads(runner.invoke(app, ["models", "show", "cancer/1", "--json"]).stdout)
    assert shown["fast_path"]["status"] == "ready" and shown["fast_path"]["rows"] == 100
