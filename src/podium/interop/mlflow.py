"""MLflow interop: register a model saved by ``mlflow.sklearn``, export a version as one.

podium never imports mlflow: it reads and writes MLflow's files itself (``MLmodel`` YAML,
the model file, the signature's schema JSON, the input example).

Import. MLflow's sklearn flavor stores the model with pickle or cloudpickle (or skops, its
default since MLflow 3). Unpickling runs whatever code the file holds, so a pickle is
loaded only with ``trust=True`` (``--trust``), and so is a skops file that needs types
beyond skops' safe defaults. The file is read once; its sha256 is computed from those bytes
before they are loaded and recorded in the version's tags and description. The model is
then registered like any other: re-saved with skops when skops can rebuild it exactly, else
with podium's pickle-based flavor, which loads only the blob whose hash it recorded.

Export writes a folder that ``mlflow.pyfunc.load_model`` and ``mlflow.sklearn.load_model``
read: the model pickled with cloudpickle (checked to reproduce the version's recorded
predictions first), ``MLmodel``, pinned environment files and the input example.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import pickle
import platform
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from podium._version import __version__
from podium.core.errors import PodiumError, UnsafeModelError, ValidationError
from podium.core.hashing import sha256_bytes
from podium.core.names import check_name
from podium.core.records import ModelVersion
from podium.core.signature import Signature
from podium.interop import mlflow_format as fmt
from podium.registry import Predictor, Registry
from podium.registry.registry import predict_example
from podium.workspace import Workspace

log = logging.getLogger("podium.interop")
PICKLES = ("pickle", "cloudpickle")
FORMATS = (*PICKLES, "skops")
# What a pickled scikit-learn model needs besides the packages its own classes come from.
BASE_REQUIREMENTS = ("cloudpickle", "numpy", "pandas", "scikit-learn", "scipy")


@dataclass(frozen=True)
class _Source:
    """The parts of an MLflow model folder that podium reads."""

    folder: Path
    mlmodel: dict[str, Any]
    conf: dict[str, Any]  # flavors.sklearn
    model_file: Path
    serialization: str


# -- import ----------------------------------------------------------------------------------
def import_mlflow(
    ws: Workspace,
    path: str | Path,
    name: str,
    *,
    trust: bool = False,
    alias: str | None = None,
) -> ModelVersion:
    """Register the model in the MLflow folder ``path`` (sklearn flavor) as a version of
    ``name``, with its signature and input example.

    Pickled models (MLflow's ``pickle`` and ``cloudpickle`` formats) need ``trust=True``:
    loading them runs any code they contain. The file's sha256 is recorded either way.

    >>> mv = import_mlflow(Workspace.default(), "mlruns/0/abc/artifacts/model", "churn",
    ...                    trust=True, alias="champion")  # doctest: +SKIP
    >>> mv.tags["source"], mv.tags["mlflow.pickle_sha256"][:8]  # doctest: +SKIP
    ('mlflow', '3f1c2a9b')
    """
    check_name(name, "model name")  # fail before reading, let alone loading, anything
    if alias is not None:
        check_name(alias, "alias")
    src = _source(Path(path))
    data = src.model_file.read_bytes()  # read once: the bytes hashed are the bytes loaded
    digest = sha256_bytes(data)
    model, trusted = _load(data, src, digest, trust)
    sig = fmt.read_signature(src.mlmodel.get("signature"), "MLmodel: signature")
    info = src.mlmodel.get("saved_input_example_info")
    example = fmt.read_example(src.folder, info, sig)
    if sig is not None and example is not None:
        sig = _with_outputs(model, sig, example, fmt.example_name(info))
    tags = _tags(src, digest, trusted)
    registry = Registry(ws.store, ws.artifacts)
    kwargs: dict[str, Any] = {
        "signature": sig,
        "input_example": example,
        "description": _description(src, digest, trusted),
        "alias": alias,
    }
    try:
        return registry.register(model, name, tags=tags, **kwargs)
    except ValidationError as exc:
        if exc.field != "flavor":
            raise
        refused = exc.message
    except PodiumError:
        raise
    except Exception as exc:  # skops raises its own errors for an object it cannot rebuild
        refused = f"{type(exc).__name__}: {exc}"
    # cloudpickle keeps what MLflow's cloudpickle kept (classes and functions by value).
    fallback = "python" if src.serialization == "cloudpickle" else "joblib"
    tags["mlflow.skops_refused"] = refused[:500]
    return registry.register(model, name, tags=tags, flavor=fallback, **kwargs)


def _source(path: Path) -> _Source:
    folder = path.parent if path.name == "MLmodel" and path.is_file() else path
    mlmodel_path = folder / "MLmodel"
    if not mlmodel_path.is_file():
        what = "does not exist" if not folder.exists() else "has no MLmodel file"
        raise ValidationError(
            f"{folder} {what}: an MLflow model is a folder with an MLmodel file.",
            field=str(mlmodel_path),
            hint="Pass the folder mlflow.sklearn.save_model wrote (or a run's artifacts/model).",
        )
    mlmodel = _read_yaml(mlmodel_path)
    flavors = mlmodel.get("flavors")
    conf = flavors.get("sklearn") if isinstance(flavors, dict) else None
    if not isinstance(conf, dict):
        have = ", ".join(sorted(map(str, flavors))) if isinstance(flavors, dict) else "none"
        raise ValidationError(
            f"{mlmodel_path} has no sklearn flavor (its flavors: {have}).",
            field=f"{mlmodel_path}: flavors.sklearn",
            hint="podium imports models saved with mlflow.sklearn.",
        )
    serialization = str(conf.get("serialization_format") or "cloudpickle")
    if serialization not in FORMATS:
        raise ValidationError(
            f"{mlmodel_path}: serialization_format {serialization!r} is not one MLflow writes "
            f"for scikit-learn ({', '.join(FORMATS)}).",
            field=f"{mlmodel_path}: flavors.sklearn.serialization_format",
        )
    model_file = fmt.inside(folder, str(conf.get("pickled_model") or "model.pkl"), "model file")
    if not model_file.is_file():
        raise ValidationError(
            f"MLmodel names the model file {model_file.name}, which is not in {folder}.",
            field=str(model_file),
            hint="Copy the whole model folder, including the file MLmodel names.",
        )
    return _Source(folder, mlmodel, conf, model_file, serialization)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ValidationError(
            f"{path} is not readable YAML: {exc}",
            field=str(path),
            hint="MLflow writes MLmodel as YAML; re-save the model with mlflow.",
        ) from None
    if not isinstance(data, dict):
        raise ValidationError(
            f"{path} must be a YAML mapping (flavors, signature, ...), got {type(data).__name__}.",
            field=str(path),
            hint="MLflow writes MLmodel as YAML; re-save the model with mlflow.",
        )
    return data


def _load(data: bytes, src: _Source, digest: str, trust: bool) -> tuple[Any, bool]:
    """The model, and whether loading it needed ``trust``. Refuses before loading anything."""
    where = str(src.model_file)
    if src.serialization == "skops":
        return _load_skops(data, where, digest, trust)
    if not trust:
        raise UnsafeModelError(
            f"{where} is a {src.serialization} file (sha256:{digest}): loading it runs any "
            "code it contains, so podium imports it only from a source you vouch for.",
            hint="If you trust who made it, pass --trust (Python: trust=True); the hash is "
            "recorded with the version.",
        )
    # Logged before the bytes run: if they do harm, what ran is on record.
    log.warning("Unpickling %s (sha256:%s), trusted by the caller.", where, digest)
    try:
        model = pickle.loads(data)  # cloudpickle output is plain pickle data
    except Exception as exc:  # unpickling can raise anything: a missing module, bad bytes
        raise _unloadable(where, exc, src) from None
    return _predictor_or_error(model, where), True


def _load_skops(data: bytes, where: str, digest: str, trust: bool) -> tuple[Any, bool]:
    import skops.io as sio

    try:
        # MLmodel's skops_trusted_types is ignored: it comes from the same untrusted folder.
        extra = sorted(sio.get_untrusted_types(data=data))
    except Exception as exc:
        raise ValidationError(
            f"{where} is not a readable skops file: {type(exc).__name__}: {exc}.", field=where
        ) from None
    if extra and not trust:
        raise UnsafeModelError(
            f"{where} (sha256:{digest}) needs types skops does not trust by default: "
            f"{', '.join(extra[:5])}. Loading them can run code from the file.",
            hint="If you trust who made it, pass --trust (Python: trust=True).",
        )
    try:
        model = sio.loads(data, trusted=extra)
    except Exception as exc:
        raise ValidationError(
            f"skops cannot load {where}: {type(exc).__name__}: {exc}.",
            field=where,
            hint="It may need a module or scikit-learn version that is not installed here.",
        ) from None
    return _predictor_or_error(model, where), bool(extra)


def _unloadable(where: str, exc: Exception, src: _Source) -> ValidationError:
    sklearn = src.conf.get("sklearn_version")
    hint = f"It was saved with scikit-learn {sklearn}" if sklearn else "It may need a module"
    if src.conf.get("code"):  # MLflow's code paths: podium does not put them on sys.path
        hint += f" and its own code in {src.conf['code']}/ (install that as a package)"
    return ValidationError(
        f"{where} could not be unpickled: {type(exc).__name__}: {exc}.",
        field=where,
        hint=hint + ": install what it needs here, then import again.",
    )


def _predictor_or_error(model: Any, where: str) -> Any:
    if not callable(getattr(model, "predict", None)):
        raise ValidationError(
            f"{where} holds a {type(model).__name__}, which has no predict() method.",
            field=where,
            hint="podium imports models that predict (scikit-learn estimators and pipelines).",
        )
    return model


def _with_outputs(model: Any, sig: Signature, example: Any, where: str) -> Signature:
    """MLflow's input columns, with the output type of the model's own predictions (which
    also proves the model predicts on its example before anything is stored)."""
    predictions = predict_example(
        model,
        sig,
        example,
        field=where,
        hint="The example, signature and model in the folder must belong together.",
    )
    outputs = Signature.infer(example.head(1), output=predictions).outputs
    return Signature(sig.inputs, outputs, sig.named_columns)


def _tags(src: _Source, digest: str, trusted: bool) -> dict[str, str]:
    kind = "pickle" if src.serialization in PICKLES else "skops"
    tags = {
        "source": "mlflow",
        f"mlflow.{kind}_sha256": digest,
        "mlflow.serialization_format": src.serialization,
        "mlflow.trusted": str(trusted).lower(),
    }
    found = {
        "mlflow.model_uuid": src.mlmodel.get("model_uuid"),
        "mlflow.run_id": src.mlmodel.get("run_id"),
        "mlflow.model_id": src.mlmodel.get("model_id"),
        "mlflow.artifact_path": src.mlmodel.get("artifact_path"),
        "mlflow.mlflow_version": src.mlmodel.get("mlflow_version"),
        "mlflow.sklearn_version": src.conf.get("sklearn_version"),
    }
    tags.update({k: str(v) for k, v in found.items() if v not in (None, "")})
    return tags


def _description(src: _Source, digest: str, trusted: bool) -> str:
    ids = [
        f"{label} {src.mlmodel[key]}"
        for key, label in (("model_uuid", "model_uuid"), ("run_id", "run"))
        if src.mlmodel.get(key)
    ]
    where = f"{src.folder.resolve()}" + (f" ({', '.join(ids)})" if ids else "")
    vouched = ", loaded with --trust" if trusted else ""
    return (
        f"Imported from the MLflow model at {where}; its {src.serialization} file "
        f"{src.model_file.name} had sha256:{digest}{vouched}."
    )


# -- export ----------------------------------------------------------------------------------
def export_mlflow(ws: Workspace, uri: str, out: str | Path, *, force: bool = False) -> Path:
    """Write version ``uri`` as an MLflow model folder ``out`` (python_function and sklearn
    flavors, cloudpickle) and return its path. A non-empty ``out`` is replaced only with
    ``force=True``, and only when it is an MLflow model folder itself.

    >>> export_mlflow(Workspace.default(), "churn@champion", "churn-mlflow")  # doctest: +SKIP
    PosixPath('churn-mlflow')
    >>> mlflow.pyfunc.load_model("churn-mlflow").predict(X)  # doctest: +SKIP
    """
    out = Path(out)
    _check_out(out, force)
    registry = Registry(ws.store, ws.artifacts)
    predictor = registry.load(uri)
    mv = predictor.version
    if mv is None:  # pragma: no cover - Registry.load always attaches the version
        raise ValidationError(f"{uri} is not a registered version.", field="model")
    blob = _pickled(registry, predictor)
    files = _files(mv, predictor, blob)
    _write(out, files)
    return out


def _check_out(out: Path, force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise ValidationError(f"{out} is a file; --out takes a folder.", field="out")
    if not out.is_dir() or not any(out.iterdir()):
        return
    if not force:
        raise ValidationError(
            f"{out} is not empty; podium will not write an MLflow model over its files.",
            field="out",
            hint="Pick a new or empty folder, or pass --force (force=True) to replace the "
            "MLflow model in it.",
        )
    if not (out / "MLmodel").is_file():
        raise ValidationError(
            f"{out} holds files but no MLmodel: --force replaces an MLflow model folder, "
            "never other files.",
            field="out",
            hint="Pick a new or empty folder.",
        )


def _pickled(registry: Registry, predictor: Predictor) -> bytes:
    """The model with cloudpickle, proven to reproduce the version's recorded predictions."""
    import cloudpickle

    blob: bytes = cloudpickle.dumps(predictor.model)
    # Our own bytes, made a line above: safe to load, and the only way to test the copy.
    copy = Predictor(pickle.loads(blob), predictor.signature, predictor.version)
    registry.verify(copy)
    return blob


def _files(mv: ModelVersion, predictor: Predictor, blob: bytes) -> dict[str, bytes]:
    import sklearn

    python = platform.python_version()
    mlmodel: dict[str, Any] = {
        "flavors": {
            "python_function": {
                "env": {"conda": "conda.yaml", "virtualenv": "python_env.yaml"},
                "loader_module": "mlflow.sklearn",
                "model_path": "model.pkl",
                "predict_fn": "predict",
                "python_version": python,
            },
            "sklearn": {
                "code": None,
                "pickled_model": "model.pkl",
                "serialization_format": "cloudpickle",
                "sklearn_version": sklearn.__version__,
            },
        },
        "metadata": {"source": "podium", "podium_model": mv.uri, "podium_version": __version__},
        "model_size_bytes": len(blob),
        "model_uuid": uuid.uuid4().hex,
        "utc_time_created": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f"),
    }
    mlflow_version = _installed("mlflow") or _installed("mlflow-skinny")
    if mlflow_version:
        mlmodel["mlflow_version"] = mlflow_version
    files = {"model.pkl": blob}
    sig = predictor.signature
    if sig is not None:
        columns = _fitted_order(predictor.model, sig)
        mlmodel["signature"] = fmt.write_signature(sig, columns)
        if mv.input_example is not None:
            ex = fmt.write_example(mv.input_example, columns, fmt.is_tensor(sig))
            mlmodel["saved_input_example_info"] = ex["info"]
            files["input_example.json"] = _json(ex["example"])
            files["serving_input_example.json"] = _json(ex["serving"])
    requirements = _requirements(predictor.model, mlflow_version)
    files["MLmodel"] = _yaml(mlmodel)
    files["requirements.txt"] = ("\n".join(requirements) + "\n").encode()
    files["conda.yaml"] = _yaml(_conda(python, requirements))
    files["python_env.yaml"] = _yaml(_python_env(python))
    return files


def _fitted_order(model: Any, sig: Signature) -> list[str]:
    """The signature's columns in the order the model was fitted on: MLflow hands the model
    a DataFrame in signature order, and scikit-learn refuses names in another order."""
    fitted = getattr(model, "feature_names_in_", None)
    names = [str(n) for n in fitted] if fitted is not None else []
    return names if sorted(names) == sorted(sig.columns) else sig.columns


def _requirements(model: Any, mlflow_version: str | None) -> list[str]:
    dists = set(BASE_REQUIREMENTS) | _model_distributions(model)
    pins = [_pin(d) for d in sorted(dists, key=str.lower)]
    return [f"mlflow=={mlflow_version}" if mlflow_version else "mlflow", *pins]


def _model_distributions(model: Any) -> set[str]:
    """Installed distributions providing the modules of the model and its nested estimators
    (an XGBoost step in a scikit-learn pipeline needs xgboost)."""
    objects = [model, *getattr(model, "__dict__", {}).values()]  # a wrapper's estimator too
    with contextlib.suppress(Exception):  # not a scikit-learn estimator
        objects += list(model.get_params(deep=True).values())
    modules = {type(o).__module__.partition(".")[0] for o in objects}
    modules |= {str(getattr(o, "__module__", "")).partition(".")[0] for o in objects}
    by_module = metadata.packages_distributions()
    return {d for m in modules for d in by_module.get(m, []) if d != "mlflow"}


def _installed(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _pin(dist: str) -> str:
    version = _installed(dist)
    return f"{dist}=={version}" if version else dist


def _conda(python: str, requirements: list[str]) -> dict[str, Any]:
    return {
        "channels": ["conda-forge"],
        "dependencies": [f"python={python}", _pin("pip"), {"pip": requirements}],
        "name": "mlflow-env",
    }


def _python_env(python: str) -> dict[str, Any]:
    return {
        "python": python,
        "build_dependencies": [_pin("pip"), _pin("setuptools"), "wheel"],
        "dependencies": ["-r requirements.txt"],
    }


def _json(data: Any) -> bytes:
    return json.dumps(data).encode()


def _yaml(data: Any) -> bytes:
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False).encode()


def _write(out: Path, files: dict[str, bytes]) -> None:
    """Write every file into a fresh folder beside ``out``, then swap it in: a failed export
    leaves ``out`` as it was."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        for name, data in files.items():
            (tmp / name).write_bytes(data)
        os.chmod(tmp, 0o755)  # mkdtemp makes it private; a model folder is not
        if out.exists():
            shutil.rmtree(out)  # _check_out allowed it: empty, or an MLflow model with --force
        tmp.replace(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
