"""MLflow's file formats, read and written without mlflow: the signature's schema JSON and
the input example.

A signature in an ``MLmodel`` file holds JSON strings: ``inputs`` is a list of column specs
(``{"type": "double", "name": "age", "required": true}``) or one tensor spec
(``{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1, 30]}}``). The input
example (``input_example.json``) is what ``mlflow.models._Example`` writes: a DataFrame in
pandas' "split" orient (``{"columns": [...], "data": [[...]]}``), an array as nested lists,
a dict of columns or a list of records, optionally wrapped as ``{"inputs": ..., "params": ...}``;
older and serving files use ``dataframe_split`` / ``dataframe_records`` / ``instances``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from podium.core.errors import ValidationError
from podium.core.names import check_member
from podium.core.signature import ColumnSpec, Signature

# MLflow's DataType names and podium's dtypes (binary, array, object and map have no podium
# equivalent: a podium signature holds flat, typed columns).
TO_PODIUM = {
    "double": "float64",
    "float": "float32",
    "long": "int64",
    "integer": "int32",
    "boolean": "bool",
    "string": "string",
    "datetime": "datetime",
}
TO_MLFLOW = {v: k for k, v in TO_PODIUM.items()}
TENSOR_DTYPES = frozenset({"float64", "float32", "int64", "int32"})  # numpy names, as podium's


# -- signature: MLflow -> podium -------------------------------------------------------------
def read_signature(signature: Any, where: str) -> Signature | None:
    """The podium :class:`Signature` of an ``MLmodel`` ``signature`` block, or None."""
    if not signature:
        return None
    if not isinstance(signature, dict):
        raise ValidationError(
            f"{where} must be a mapping with inputs and outputs, got {str(signature)[:60]!r}.",
            field=where,
            hint="Re-save the model with mlflow, or remove the signature from MLmodel.",
        )
    if not signature.get("inputs"):
        return None
    inputs, named = _columns(_specs(signature["inputs"], f"{where}.inputs"), f"{where}.inputs")
    outputs: tuple[ColumnSpec, ...] = ()
    if signature.get("outputs"):
        out_specs = _specs(signature["outputs"], f"{where}.outputs")
        try:
            cols, _ = _columns(out_specs, f"{where}.outputs")
        except ValidationError:
            cols = []  # an output podium cannot type is dropped; it checks inputs only
        if len(cols) == 1:
            outputs = (ColumnSpec("prediction", cols[0].dtype),)
    return Signature(tuple(inputs), outputs, named)


def _specs(raw: Any, where: str) -> list[dict[str, Any]]:
    try:
        specs = json.loads(raw) if isinstance(raw, str) else raw
    except json.JSONDecodeError as exc:
        raise ValidationError(
            f"{where} is not valid JSON: {exc}.",
            field=where,
            hint="MLflow writes it as a JSON list of column specs; re-save the model.",
        ) from None
    if not isinstance(specs, list) or not all(isinstance(s, dict) for s in specs):
        raise ValidationError(
            f"{where} must be a JSON list of column specs, got {str(raw)[:60]!r}.", field=where
        )
    return specs


def _columns(specs: list[dict[str, Any]], where: str) -> tuple[list[ColumnSpec], bool]:
    """Column specs, or one 2-D tensor spec (unnamed columns f0, f1, ...)."""
    if len(specs) == 1 and specs[0].get("type") == "tensor":
        return _tensor_columns(specs[0].get("tensor-spec") or {}, where)
    if any(s.get("type") == "tensor" for s in specs):
        raise ValidationError(
            f"{where} has several tensors; podium takes one table of columns.", field=where
        )
    named = all(s.get("name") is not None for s in specs)
    cols = []
    for i, s in enumerate(specs):
        name = str(s["name"]) if named else f"f{i}"
        dtype = TO_PODIUM.get(str(s.get("type")))
        if dtype is None:
            raise ValidationError(
                f"{where}: column {name!r} has MLflow type {s.get('type')!r}, which podium "
                f"cannot check; it takes {', '.join(TO_PODIUM)}.",
                field=f"{where}.{name}",
                hint="Re-save the model with flat, typed columns in its signature.",
            )
        cols.append(ColumnSpec(name, dtype, nullable=not s.get("required", True)))
    return cols, named


def _tensor_columns(spec: dict[str, Any], where: str) -> tuple[list[ColumnSpec], bool]:
    shape = list(spec.get("shape") or [])
    try:
        dtype: np.dtype[Any] = np.dtype(spec.get("dtype"))
    except TypeError:
        dtype = np.dtype(object)
    kinds = {"f": "float32" if dtype == np.float32 else "float64", "b": "bool"}
    kinds.update({"i": "int32" if dtype == np.int32 else "int64", "u": "int64"})
    name = kinds.get(dtype.kind, "string" if dtype.kind in "OUS" else "")
    if len(shape) not in (1, 2) or not name or (len(shape) == 2 and shape[1] in (None, -1)):
        raise ValidationError(
            f"{where} is a tensor of shape {shape} and dtype {spec.get('dtype')}; podium takes "
            "rows of a fixed number of numbers, strings or booleans.",
            field=where,
        )
    width = 1 if len(shape) == 1 else int(shape[1])
    return [ColumnSpec(f"f{i}", name) for i in range(width)], False


# -- signature: podium -> MLflow -------------------------------------------------------------
def write_signature(sig: Signature, columns: list[str]) -> dict[str, Any]:
    """The ``MLmodel`` ``signature`` block for ``sig``, inputs in the order ``columns``."""
    by_name = {c.name: c for c in sig.inputs}
    specs = [by_name[c] for c in columns]
    if is_tensor(sig):  # fitted on an unnamed array: MLflow then hands the model an array too
        tensor = {"dtype": specs[0].dtype, "shape": [-1, len(specs)]}
        inputs: list[dict[str, Any]] = [{"type": "tensor", "tensor-spec": tensor}]
    else:
        inputs = [
            {"type": TO_MLFLOW[c.dtype], "name": c.name, "required": not c.nullable} for c in specs
        ]
    outputs = [{"type": TO_MLFLOW[c.dtype], "required": True} for c in sig.outputs]
    return {
        "inputs": json.dumps(inputs),
        "outputs": json.dumps(outputs) if outputs else None,
        "params": None,
    }


def is_tensor(sig: Signature) -> bool:
    """Whether ``sig`` is written as one MLflow tensor: unnamed columns of one numeric type."""
    dtypes = {c.dtype for c in sig.inputs}
    return not sig.named_columns and len(dtypes) == 1 and dtypes <= TENSOR_DTYPES


# -- input example ---------------------------------------------------------------------------
def read_example(folder: Path, info: Any, sig: Signature | None) -> Any:
    """The input example named by ``saved_input_example_info`` as a DataFrame, or None."""
    if not info:
        return None
    if not isinstance(info, dict):
        raise ValidationError(
            f"MLmodel: saved_input_example_info must be a mapping, got {str(info)[:60]!r}.",
            field="MLmodel: saved_input_example_info",
            hint="Re-save the model with mlflow, or remove the entry from MLmodel.",
        )
    path = inside(folder, example_name(info), "input example")
    where = path.name
    if not path.is_file():
        raise ValidationError(
            f"MLmodel names the input example {where}, which is not in {folder}.",
            field=where,
            hint="Copy the whole model folder, or remove saved_input_example_info from MLmodel.",
        )
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValidationError(
            f"{where} is not readable JSON: {exc}.",
            field=where,
            hint="Re-save the model with mlflow, or remove the example and its MLmodel entry.",
        ) from None
    if info.get("params") and isinstance(raw, dict) and "inputs" in raw:
        raw = raw["inputs"]  # {"inputs": example, "params": inference params}
    if str(info.get("type", "")).startswith("sparse"):
        raise ValidationError(
            f"{where} is a sparse matrix; podium takes tables of columns.", field=where
        )
    columns = sig.columns if sig is not None else None
    frame = _frame(raw, columns, where)
    return conform(frame, sig, where) if sig is not None else frame


def example_name(info: Any) -> str:
    """The example's file name in an ``MLmodel`` ``saved_input_example_info`` block."""
    name = info.get("artifact_path") if isinstance(info, dict) else None
    return str(name or "input_example.json")


def _frame(raw: Any, columns: list[str] | None, where: str) -> Any:
    import pandas as pd

    if isinstance(raw, dict):
        for key in ("dataframe_split", "dataframe_records", "instances", "inputs"):
            if key in raw and len(raw) == 1:
                return _frame(raw[key], columns, where)
        if isinstance(raw.get("data"), list):  # pandas "split" (or "values") orient
            data = raw["data"]
            return pd.DataFrame(data, columns=raw.get("columns") or _names(data, columns))
        if raw:
            return pd.DataFrame({str(k): v if isinstance(v, list) else [v] for k, v in raw.items()})
    if isinstance(raw, list) and raw and all(isinstance(r, dict) for r in raw):
        return pd.DataFrame.from_records(raw)
    if isinstance(raw, list) and raw:
        rows = [r if isinstance(r, list) else [r] for r in raw]
        return pd.DataFrame(rows, columns=_names(rows, columns))
    raise ValidationError(
        f"{where} holds {type(raw).__name__} {str(raw)[:60]!r}; podium reads a DataFrame "
        "(split or records), a 2-D array or a dict of columns.",
        field=where,
        hint="Re-save the model with an input example of a few rows of X.",
    )


def _names(rows: list[Any], columns: list[str] | None) -> list[str]:
    width = len(rows[0]) if rows and isinstance(rows[0], list) else 0
    if columns is not None and len(columns) == width:
        return columns
    return [f"f{i}" for i in range(width)]


def conform(frame: Any, sig: Signature, where: str) -> Any:
    """``frame`` with the signature's columns, in its order, cast to its dtypes."""
    frame = frame.rename(columns=str)
    missing = [c for c in sig.columns if c not in frame.columns]
    if missing:
        raise ValidationError(
            f"{where} lacks column(s) {', '.join(map(repr, missing[:5]))} of the signature.",
            field=f"{where}.{missing[0]}",
            hint="The input example and the signature in MLmodel must describe the same input.",
        )
    frame = frame[sig.columns].copy()
    for spec in sig.inputs:
        frame[spec.name] = _cast(frame[spec.name], spec, where)
    return frame


def _cast(series: Any, spec: ColumnSpec, where: str) -> Any:
    import pandas as pd

    try:
        if spec.dtype == "datetime":
            return pd.to_datetime(series)
        if spec.dtype == "string":
            return series
        if spec.dtype in ("int64", "int32", "bool") and series.isna().any():
            return series  # no NaN in those dtypes: the signature's validator reports the null
        return series.astype(spec.dtype)
    except (ValueError, TypeError) as exc:
        raise ValidationError(
            f"{where}: column {spec.name!r} does not convert to {spec.dtype}: {exc}.",
            field=f"{where}.{spec.name}",
        ) from None


def write_example(example: dict[str, Any], columns: list[str], tensor: bool) -> dict[str, Any]:
    """``input_example.json``, ``serving_input_example.json`` and the ``MLmodel`` entry for a
    registry example (``{"columns": [...], "data": [[...]]}``) in the order ``columns``."""
    index = [example["columns"].index(c) for c in columns]
    data = [[row[i] for i in index] for row in example["data"]]
    info: dict[str, Any] = {
        "artifact_path": "input_example.json",
        "serving_input_path": "serving_input_example.json",
    }
    if tensor:
        info["type"] = "ndarray"
        return {"example": data, "serving": {"inputs": data}, "info": info}
    info.update({"type": "dataframe", "pandas_orient": "split"})
    split = {"columns": columns, "data": data}
    return {"example": split, "serving": {"dataframe_split": split}, "info": info}


def inside(folder: Path, name: str, what: str) -> Path:
    """``folder / name``, refusing a name that leaves the folder (MLmodel is untrusted):
    ``..``, absolute paths, backslashes, NUL bytes and symbolic links leading out."""
    return check_member(folder, name, what=what, field="MLmodel", source="MLmodel")
