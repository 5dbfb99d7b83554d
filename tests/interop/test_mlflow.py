"""MLflow interop against folders written by the real ``mlflow.sklearn.save_model``: import
(a pickle only with --trust, its hash recorded first), podium predicting exactly like the
original with MLflow's signature, and export read back by mlflow.pyfunc and mlflow.sklearn.

Tests needing mlflow skip when it is not installed, and fail under PODIUM_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import ast
import hashlib
import json
import pickle
import shutil
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import typer
import yaml
from tests.conftest import Trained
from typer.testing import CliRunner

import podium
from podium.cli.interop import import_app
from podium.cli.main import PodiumGroup, app
from podium.core.errors import UnsafeModelError, ValidationError
from podium.interop import export_mlflow, import_mlflow
from podium.testing import require_module
from podium.workspace import Workspace

runner = CliRunner()
MLFLOW_EXTRA = 'pip install "podium[mlflow]" (mlflow-skinny)'
# podium's own CLI app does not hold the import group yet (main.py registers it).
import_cli = typer.Typer(cls=PodiumGroup, pretty_exceptions_enable=False)
import_cli.add_typer(import_app, name="import")


@contextmanager
def quiet() -> Iterator[None]:
    """mlflow warns about its own matters (pickle formats, deprecations in its imports), and
    this suite turns every warning into an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@pytest.fixture(scope="session")
def mlflow() -> ModuleType:
    with quiet():
        require_module("mlflow.sklearn", MLFLOW_EXTRA)
        require_module("mlflow.pyfunc", MLFLOW_EXTRA)
        return require_module("mlflow", MLFLOW_EXTRA)


@pytest.fixture(autouse=True)
def _mlflow_may_load_models(monkeypatch: pytest.MonkeyPatch) -> None:
    # mlflow refuses to load any scikit-learn model when this is set to false.
    monkeypatch.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "true")


@pytest.fixture(scope="session")
def saved(mlflow: ModuleType, trained: Trained, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """MLflow model folders, saved once: ``saved(kind)`` is the path of one."""
    from mlflow.models import infer_signature

    root = tmp_path_factory.mktemp("mlflow")
    made: dict[str, Path] = {}

    def save(kind: str) -> Path:
        if kind in made:
            return made[kind]
        model, X = trained.model, trained.X
        options: dict[str, Any] = {"pip_requirements": ["scikit-learn"]}  # skips inference
        if kind in ("cloudpickle", "skops", "signature-only", "lambda"):
            options["signature"] = infer_signature(X, model.predict(X))
        if kind in ("cloudpickle", "skops", "lambda"):
            options["input_example"] = X.head(5)
        if kind == "lambda":
            model = _lambda_pipeline(trained)
        if kind == "array":  # fitted on an unnamed array: MLflow writes a tensor signature
            model, X = _array_model(trained), trained.X.to_numpy()
            options.update(signature=infer_signature(X, model.predict(X)), input_example=X[:5])
        fmt = {"skops": "skops", "array": "skops", "bare-pickle": "pickle"}.get(kind, "cloudpickle")
        with quiet():
            mlflow.sklearn.save_model(model, root / kind, serialization_format=fmt, **options)
        made[kind] = root / kind
        return made[kind]

    return save


def _lambda_pipeline(trained: Trained) -> Any:
    """A pipeline skops cannot rebuild (a lambda has no importable name)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    steps = [("f", FunctionTransformer(lambda x: x / 100.0)), ("c", LogisticRegression())]
    return Pipeline(steps).fit(trained.X, trained.y)


def _array_model(trained: Trained) -> Any:
    from sklearn.base import clone

    return clone(trained.model).fit(trained.X.to_numpy(), trained.y)


def _mlmodel(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((path / "MLmodel").read_text())
    return data


def _mlflow_columns(path: Path) -> list[str]:
    return [c["name"] for c in json.loads(_mlmodel(path)["signature"]["inputs"])]


# -- import --------------------------------------------------------------------------------
def test_mlflow_round_trip_import_then_export_predicts_like_the_original(
    sqlite_workspace: Workspace, trained: Trained, saved: Any, mlflow: ModuleType, tmp_path: Path
) -> None:
    folder = saved("cloudpickle")
    mv = import_mlflow(sqlite_workspace, folder, "cancer", trust=True, alias="champion")

    digest = hashlib.sha256((folder / "model.pkl").read_bytes()).hexdigest()
    assert mv.tags["source"] == "mlflow" and mv.tags["mlflow.pickle_sha256"] == digest
    assert mv.tags["mlflow.model_uuid"] == _mlmodel(folder)["model_uuid"]
    assert mv.tags["mlflow.trusted"] == "true" and digest in mv.description
    # Re-saved in the safe format, and converted to its ONNX fast path like any version.
    assert [f.flavor for f in mv.flavors] == ["skops", "onnx"]
    sig = podium.load("cancer@champion").signature
    assert sig is not None and sig.columns == _mlflow_columns(folder) == list(trained.X.columns)
    assert {c.dtype for c in sig.inputs} == {"float64"} and sig.outputs[0].dtype == "int64"
    assert mv.input_example is not None and len(mv.input_example["data"]) == 5
    ours = podium.load("cancer@champion").predict(trained.X)
    assert ours.tolist() == trained.model.predict(trained.X).tolist()

    out = export_mlflow(sqlite_workspace, "cancer@champion", tmp_path / "back")
    with quiet():
        pyfunc = mlflow.pyfunc.load_model(str(out))
        assert np.asarray(pyfunc.predict(trained.X)).tolist() == ours.tolist()
        sk = mlflow.sklearn.load_model(str(out))
    assert sk.predict_proba(trained.X) == pytest.approx(trained.model.predict_proba(trained.X))
    assert pyfunc.metadata.signature.inputs.input_names() == sig.columns


def test_a_pickle_is_refused_without_trust_and_never_unpickled(
    sqlite_workspace: Workspace, saved: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = saved("cloudpickle")

    def boom(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("unpickled without --trust")

    monkeypatch.setattr(pickle, "loads", boom)
    with pytest.raises(UnsafeModelError, match="--trust") as info:
        import_mlflow(sqlite_workspace, folder, "cancer")
    digest = hashlib.sha256((folder / "model.pkl").read_bytes()).hexdigest()
    assert "runs any code" in info.value.message and digest in info.value.message
    assert podium.Client().list_models() == []


def test_a_skops_mlflow_model_imports_without_trust(
    sqlite_workspace: Workspace, trained: Trained, saved: Any
) -> None:
    folder = saved("skops")
    mv = import_mlflow(sqlite_workspace, folder, "cancer")
    digest = hashlib.sha256((folder / "model.skops").read_bytes()).hexdigest()
    assert mv.tags["mlflow.skops_sha256"] == digest and mv.tags["mlflow.trusted"] == "false"
    got = podium.load("cancer/1").predict(trained.X)
    assert got.tolist() == trained.model.predict(trained.X).tolist()


def test_a_signature_without_an_example_becomes_the_podium_signature(
    sqlite_workspace: Workspace, trained: Trained, saved: Any
) -> None:
    folder = saved("signature-only")
    mv = import_mlflow(sqlite_workspace, folder, "cancer", trust=True)
    assert mv.input_example is None and mv.signature is not None
    assert [c["name"] for c in mv.signature["inputs"]] == _mlflow_columns(folder)
    assert mv.signature["outputs"] == [{"name": "prediction", "dtype": "int64", "nullable": False}]
    with pytest.raises(ValidationError, match="mean radius"):  # the signature is enforced
        podium.load("cancer/1").predict(trained.X.drop(columns=["mean radius"]))


def test_a_bare_pickle_imports_with_no_signature(
    sqlite_workspace: Workspace, trained: Trained, saved: Any
) -> None:
    mv = import_mlflow(sqlite_workspace, saved("bare-pickle"), "cancer", trust=True)
    assert mv.signature is None and mv.tags["mlflow.serialization_format"] == "pickle"
    got = podium.load("cancer/1").predict(trained.X)
    assert got.tolist() == trained.model.predict(trained.X).tolist()


def test_a_model_skops_cannot_rebuild_keeps_a_hash_checked_pickle(
    sqlite_workspace: Workspace, trained: Trained, saved: Any
) -> None:
    mv = import_mlflow(sqlite_workspace, saved("lambda"), "scaled", trust=True)
    assert [f.flavor for f in mv.flavors] == ["python"]  # cloudpickle, like MLflow's file
    assert "lambda" in mv.tags["mlflow.skops_refused"]
    want = _lambda_pipeline(trained).predict(trained.X)
    assert podium.load("scaled/1").predict(trained.X).tolist() == want.tolist()


def test_a_tensor_signature_round_trips_as_unnamed_columns(
    sqlite_workspace: Workspace, trained: Trained, saved: Any, mlflow: ModuleType, tmp_path: Path
) -> None:
    mv = import_mlflow(sqlite_workspace, saved("array"), "plain")
    sig = podium.load("plain/1").signature
    assert sig is not None and not sig.named_columns and sig.columns[:2] == ["f0", "f1"]
    X = trained.X.to_numpy()
    want = _array_model(trained).predict(X)
    assert podium.load(mv.uri).predict(X).tolist() == want.tolist()

    out = export_mlflow(sqlite_workspace, mv.uri, tmp_path / "plain")
    assert json.loads(_mlmodel(out)["signature"]["inputs"])[0]["type"] == "tensor"
    with quiet():
        assert np.asarray(mlflow.pyfunc.load_model(str(out)).predict(X)).tolist() == want.tolist()


def test_run_id_and_model_uuid_are_recorded(
    sqlite_workspace: Workspace, saved: Any, tmp_path: Path
) -> None:
    folder = shutil.copytree(saved("skops"), tmp_path / "logged")
    mlmodel = _mlmodel(folder) | {"run_id": "5f0c1e2d", "artifact_path": "model"}
    (folder / "MLmodel").write_text(yaml.safe_dump(mlmodel))
    mv = import_mlflow(sqlite_workspace, folder / "MLmodel", "cancer")  # the file works too
    assert mv.tags["mlflow.run_id"] == "5f0c1e2d" and mv.tags["mlflow.artifact_path"] == "model"
    assert "run 5f0c1e2d" in mv.description and mlmodel["model_uuid"] in mv.description


def test_an_example_in_records_form_is_read_in_signature_order(
    sqlite_workspace: Workspace, trained: Trained, saved: Any, tmp_path: Path
) -> None:
    folder = shutil.copytree(saved("skops"), tmp_path / "records")
    columns = list(reversed(trained.X.columns))  # records carry names, not order
    rows = trained.X.head(3)[columns].to_dict("records")
    (folder / "input_example.json").write_text(json.dumps({"dataframe_records": rows}))
    mv = import_mlflow(sqlite_workspace, folder, "cancer")
    assert mv.input_example is not None and mv.input_example["columns"] == list(trained.X.columns)
    assert len(mv.input_example["data"]) == 3


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"signature": "nonsense"}, "MLmodel: signature", "must be a mapping"),
        (
            {"signature": {"inputs": '[{"type": "binary", "name": "b"}]'}},
            "MLmodel: signature.inputs.b",
            "MLflow type 'binary'",
        ),
        (
            {"saved_input_example_info": {"artifact_path": "gone.json", "type": "dataframe"}},
            "gone.json",
            "names the input example gone.json",
        ),
    ],
)
def test_a_bad_signature_or_example_fails_naming_it(
    sqlite_workspace: Workspace,
    saved: Any,
    tmp_path: Path,
    change: dict[str, Any],
    field: str,
    message: str,
) -> None:
    folder = shutil.copytree(saved("skops"), tmp_path / "edited")
    (folder / "MLmodel").write_text(yaml.safe_dump(_mlmodel(folder) | change))
    with pytest.raises(ValidationError, match=message) as e:
        import_mlflow(sqlite_workspace, folder, "cancer")
    assert e.value.field == field and e.value.hint
    assert podium.Client().list_models() == []


def _mlmodel_text(flavors: str) -> str:
    return f"flavors:\n{flavors}"


SKLEARN = "  sklearn:\n    pickled_model: {file}\n    serialization_format: cloudpickle\n"


@pytest.mark.parametrize(
    ("files", "field_end", "message"),
    [
        ({}, "MLmodel", "has no MLmodel file"),
        ({"MLmodel": "flavors: [unclosed\n"}, "MLmodel", "not readable YAML"),
        ({"MLmodel": "- a list\n"}, "MLmodel", "must be a YAML mapping"),
        (
            {"MLmodel": _mlmodel_text("  python_function:\n    loader_module: x\n")},
            "flavors.sklearn",
            "has no sklearn flavor (its flavors: python_function)",
        ),
        ({"MLmodel": "flavors: [sklearn]\n"}, "flavors.sklearn", "(its flavors: none)"),
        ({"MLmodel": _mlmodel_text(SKLEARN.format(file="model.pkl"))}, "model.pkl", "not in"),
        ({"MLmodel": _mlmodel_text(SKLEARN.format(file="../x.pkl"))}, "MLmodel", "outside"),
    ],
)
def test_a_bad_folder_fails_naming_the_file(
    sqlite_workspace: Workspace,
    tmp_path: Path,
    files: dict[str, str],
    field_end: str,
    message: str,
) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text)
    (tmp_path / "x.pkl").write_bytes(b"not a pickle")
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")) as e:
        import_mlflow(sqlite_workspace, folder, "cancer", trust=True)
    assert e.value.field is not None and e.value.field.endswith(field_end)
    assert e.value.hint
    r = runner.invoke(import_cli, ["import", "mlflow", str(folder), "--name", "m", "--trust"])
    assert r.exit_code == 1 and message in r.stderr and "Traceback" not in r.output


def test_an_unreadable_pickle_is_a_validation_error(
    sqlite_workspace: Workspace, tmp_path: Path
) -> None:
    (tmp_path / "MLmodel").write_text(_mlmodel_text(SKLEARN.format(file="model.pkl")))
    (tmp_path / "model.pkl").write_bytes(b"\x80\x05garbage")
    with pytest.raises(ValidationError, match="could not be unpickled") as e:
        import_mlflow(sqlite_workspace, tmp_path, "cancer", trust=True)
    assert e.value.field is not None and e.value.field.endswith("model.pkl")


# -- export --------------------------------------------------------------------------------
@pytest.fixture
def cancer(sqlite_workspace: Workspace, trained: Trained) -> Workspace:
    podium.register_model(trained.model, "cancer", input_example=trained.X, alias="champion")
    return sqlite_workspace


def test_export_writes_a_folder_mlflow_loads(
    cancer: Workspace, trained: Trained, mlflow: ModuleType, tmp_path: Path
) -> None:
    out = tmp_path / "cancer-mlflow"
    r = runner.invoke(app, ["export", "cancer@champion", "--format", "mlflow", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "Wrote" in r.output and "mlflow.pyfunc.load_model" in r.output
    ours = podium.load("cancer@champion").predict(trained.X)
    with quiet():
        pyfunc = mlflow.pyfunc.load_model(str(out))
        assert np.asarray(pyfunc.predict(trained.X)).tolist() == ours.tolist()
        assert mlflow.sklearn.load_model(str(out)).predict(trained.X).tolist() == ours.tolist()
        model = mlflow.models.Model.load(str(out))
        example = model.load_input_example(str(out))
    assert model.signature.inputs.input_names() == list(trained.X.columns)
    assert example.shape == (100, 30) and model.metadata["podium_model"] == "models:/cancer/1"
    import sklearn

    assert f"scikit-learn=={sklearn.__version__}" in (out / "requirements.txt").read_text()


def test_export_alias_form_and_force(cancer: Workspace, tmp_path: Path) -> None:
    out = tmp_path / "m"
    r = runner.invoke(app, ["export", "mlflow", "cancer/1", "--out", str(out), "--json"])
    assert r.exit_code == 0, r.output
    assert "MLmodel" in json.loads(r.stdout)["files"]
    first = _mlmodel(out)["model_uuid"]
    assert _mlmodel(out)["flavors"]["sklearn"]["serialization_format"] == "cloudpickle"

    r = runner.invoke(app, ["export", "mlflow", "cancer/1", "--out", str(out)])
    assert r.exit_code == 1 and "is not empty" in r.stderr and "--force" in r.stderr
    r = runner.invoke(
        app, ["export", "cancer/1", "--format", "mlflow", "--out", str(out), "--force"]
    )
    assert r.exit_code == 0, r.output
    assert _mlmodel(out)["model_uuid"] != first

    other = tmp_path / "notes"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    with pytest.raises(ValidationError, match="never other files"):
        export_mlflow(cancer, "cancer/1", other, force=True)
    assert (other / "keep.txt").read_text() == "mine"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp left


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["export", "cancer/1", "--out", "d"], "--out and --force apply to --format mlflow"),
        (["export", "cancer/1", "--format", "mlflow"], "--format mlflow needs --out DIR"),
        (["export", "mlflow", "cancer/1", "--format", "onnx"], "not --format onnx"),
        (["export", "mlflow", "--out", "d"], "needs the model to export"),
        (["export", "cancer/1", "cancer/2"], "takes one model"),
        (["export", "cancer/1", "--format", "mlflow", "--quantize", "int8", "--out", "d"], "onnx"),
    ],
)
def test_export_options_that_do_not_go_together_are_refused(
    cancer: Workspace, args: list[str], message: str
) -> None:
    r = runner.invoke(app, args)
    assert r.exit_code == 1 and message in r.stderr, r.output


# -- CLI: podium import mlflow -----------------------------------------------------------------
def test_import_cli_needs_trust_for_a_pickle(sqlite_workspace: Workspace, saved: Any) -> None:
    folder = str(saved("cloudpickle"))
    r = runner.invoke(import_cli, ["import", "mlflow", folder, "--name", "cancer"])
    assert r.exit_code == 1 and "--trust" in r.stderr and "Traceback" not in r.output
    r = runner.invoke(
        import_cli, ["import", "mlflow", folder, "--name", "cancer", "--trust", "--alias", "prod"]
    )
    assert r.exit_code == 0, r.output
    assert "Registered models:/cancer/1" in r.stdout
    r = runner.invoke(
        import_cli, ["import", "mlflow", folder, "--name", "cancer", "--trust", "--json"]
    )
    assert r.exit_code == 0 and json.loads(r.stdout)["tags"]["source"] == "mlflow"
    assert podium.load("cancer@prod").version_number == 1


def test_podium_never_imports_mlflow() -> None:
    src = Path(podium.__file__).parent
    found = []
    for path in src.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            found += [f"{path.name}: {n}" for n in names if n.split(".")[0] == "mlflow"]
    assert found == []


@pytest.mark.parametrize(
    "name",
    ["../x.pkl", "sub/../../x.pkl", "..\\x.pkl", "/etc/passwd", "model.pkl\x00.txt", "link.pkl"],
)
@pytest.mark.parametrize("entry", ["model", "example"])
def test_mlmodel_names_leading_outside_the_folder_are_refused_before_reading(
    sqlite_workspace: Workspace, tmp_path: Path, name: str, entry: str
) -> None:
    """MLmodel comes with the folder: a model file or input example it names outside the
    folder (by '..', an absolute path, a backslash, a NUL byte or a link) is never read."""
    folder = tmp_path / "model"
    folder.mkdir()
    outside = tmp_path / "x.pkl"
    outside.write_bytes(pickle.dumps({"never": "read"}))
    (folder / "link.pkl").symlink_to(outside)
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    (folder / "model.pkl").write_bytes(pickle.dumps(model))  # ours: safe to load with trust
    mlmodel: dict[str, Any] = {
        "flavors": {"sklearn": {"pickled_model": "model.pkl", "serialization_format": "pickle"}}
    }
    if entry == "model":
        mlmodel["flavors"]["sklearn"]["pickled_model"] = name
    else:
        mlmodel["saved_input_example_info"] = {"artifact_path": name, "type": "dataframe"}
    (folder / "MLmodel").write_text(yaml.safe_dump(mlmodel))
    with pytest.raises(ValidationError, match="outside the folder") as info:
        import_mlflow(sqlite_workspace, folder, "m", trust=entry == "example")
    assert info.value.field == "MLmodel"
    assert podium.Client().list_models() == []
