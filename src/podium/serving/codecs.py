"""Payload codecs of the three protocols: decode to model input, encode the answer.

Pure functions over parsed JSON (or CSV text) and a :class:`Predictor`; no HTTP here.
Every bad payload raises :class:`ValidationError` naming the field.
"""

from __future__ import annotations

import io
import math
from typing import Any

import numpy as np

from podium.core.errors import ValidationError
from podium.core.signature import OIP_DATATYPE, ModelInput, all_finite
from podium.registry import Predictor

_FEW_VALUES = 256  # values of a v2 tensor checked finite in Python at most
# Open Inference Protocol v2 datatypes -> numpy dtypes.
OIP_NUMPY = {
    "BOOL": np.bool_,
    "UINT8": np.uint8,
    "UINT16": np.uint16,
    "UINT32": np.uint32,
    "UINT64": np.uint64,
    "INT8": np.int8,
    "INT16": np.int16,
    "INT32": np.int32,
    "INT64": np.int64,
    "FP16": np.float16,
    "FP32": np.float32,
    "FP64": np.float64,
    "BYTES": object,
}


def _require(predictor: Predictor) -> Any:
    if predictor.validator is None:
        raise ValidationError(
            "This model was registered without a signature, so its inputs cannot be checked.",
            hint="Re-register it with input_example=... or signature=...",
        )
    return predictor.validator


def _object(body: Any, what: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ValidationError(f"The request body must be a JSON object ({what}).", field="body")
    return body


def first_record(body: Any) -> dict[str, Any] | None:
    """The first record of a /predict body, for routing by a request field."""
    records = body.get("records", body) if isinstance(body, dict) else body
    if isinstance(records, list):
        records = records[0] if records else None
    return records if isinstance(records, dict) else None


# -- /predict ----------------------------------------------------------------------------------
def decode_records(predictor: Predictor, body: Any) -> ModelInput:
    """``{"records": [{col: value}, ...]}``, a single record, or a bare list of records."""
    v = _require(predictor)
    if isinstance(body, list):
        return v.from_records(body, "records")
    body = _object(body, '{"records": [...]}')
    if "records" in body:
        if len(body) > 1:
            extra = next(k for k in body if k != "records")
            raise ValidationError(f"Unknown field {extra!r} beside 'records'.", field=extra)
        return v.from_records(body["records"], "records")
    return v.from_records([body], "record")


def encode_predict(
    predictor: Predictor, labels: list[Any], proba: list[list[float]] | None, request_id: str
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "model": predictor.name,
        "version": predictor.version_number,
        "request_id": request_id,
        "predictions": labels,
    }
    if proba is not None:
        out["probabilities"] = proba
        out["classes"] = predictor.classes
    return out


# -- Open Inference Protocol v2 ----------------------------------------------------------------
def oip_metadata(predictor: Predictor) -> dict[str, Any]:
    sig = predictor.signature
    inputs: list[dict[str, Any]] = []
    if sig is not None:
        if sig.all_numeric:
            dt = "FP32" if all(c.dtype == "float32" for c in sig.inputs) else "FP64"
            inputs = [{"name": "input-0", "datatype": dt, "shape": [-1, len(sig.inputs)]}]
        else:
            inputs = [
                {"name": c.name, "datatype": OIP_DATATYPE[c.dtype], "shape": [-1]}
                for c in sig.inputs
            ]
    outputs = [{"name": "predict", "datatype": _label_datatype(predictor), "shape": [-1]}]
    if predictor.has_proba and predictor.classes is not None:
        outputs.append(
            {"name": "predict_proba", "datatype": "FP64", "shape": [-1, len(predictor.classes)]}
        )
    return {
        "name": predictor.name,
        "versions": [str(predictor.version_number)] if predictor.version_number else [],
        "platform": f"podium_{predictor.flavor or 'python'}",
        "inputs": inputs,
        "outputs": outputs,
        "parameters": {"columns": sig.columns if sig else []},
    }


def _label_datatype(predictor: Predictor) -> str:
    classes = predictor.classes
    if classes:
        first = classes[0]
        if isinstance(first, bool):
            return "BOOL"
        if isinstance(first, int):
            return "INT64"
        if isinstance(first, float):
            return "FP64"
        return "BYTES"
    sig = predictor.signature
    if sig is not None and sig.outputs:
        return OIP_DATATYPE.get(sig.outputs[0].dtype, "FP64")
    return "FP64"


def decode_oip(predictor: Predictor, body: Any) -> tuple[ModelInput, list[str] | None, Any]:
    """Decode an OIP v2 inference request: (model input, requested outputs, request id)."""
    v = _require(predictor)
    body = _object(body, 'an inference request {"inputs": [...]}')
    inputs = body.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise ValidationError(
            "'inputs' must be a non-empty list of tensors.",
            field="inputs",
            hint='Send {"inputs": [{"name": "input-0", "shape": [1, N], "datatype": "FP64", '
            '"data": [...]}]}.',
        )
    tensors = [_tensor(t, i) for i, t in enumerate(inputs)]
    wanted = _requested_outputs(body.get("outputs"))
    names = [name for name, _ in tensors]
    if len(tensors) == 1 and (names[0] not in v.index or len(v.columns) == 1):
        arr = tensors[0][1]
        data = inputs[0]["data"]
        # A few rows of flat numbers: checked finite by a Python sum (see all_finite).
        finite = arr.dtype.kind == "f" and len(data) <= _FEW_VALUES and all_finite([data])
        return v.from_array(arr, "inputs[0]", finite=finite), wanted, body.get("id")
    unknown = [n for n in names if n not in v.index]
    if unknown:
        raise ValidationError(
            f"Unknown input tensor {unknown[0]!r}: with several inputs, each must be named after "
            "a column of the model.",
            field=f"inputs.{unknown[0]}",
            hint=f"Columns: {', '.join(v.columns[:10])}"
            + (" ..." if len(v.columns) > 10 else "")
            + ". Or send one [N, columns] tensor.",
        )
    cols = {}
    for name, arr in tensors:
        if arr.ndim == 2 and arr.shape[1] == 1:
            arr = arr[:, 0]
        if arr.ndim != 1:
            raise ValidationError(
                f"Input tensor {name!r} has shape {list(arr.shape)}; a column tensor must be "
                "[N] or [N, 1].",
                field=f"inputs.{name}",
            )
        cols[name] = arr.tolist()
    return v.from_columns(cols, "inputs"), wanted, body.get("id")


def _tensor(t: Any, i: int) -> tuple[str, np.ndarray[Any, Any]]:
    where = f"inputs[{i}]"
    if not isinstance(t, dict):
        raise ValidationError(f"{where} must be a tensor object.", field=where)
    try:
        name, shape, datatype, data = t["name"], t["shape"], t["datatype"], t["data"]
    except KeyError:
        key = next(k for k in ("name", "shape", "datatype", "data") if k not in t)
        raise ValidationError(f"{where} is missing {key!r}.", field=f"{where}.{key}") from None
    if not isinstance(name, str):
        raise ValidationError(f"{where}.name must be a string.", field=f"{where}.name")
    if (
        not isinstance(shape, list)
        or not shape
        or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)
    ):
        raise ValidationError(
            f"{where}.shape must be a list of non-negative integers, got {shape!r}.",
            field=f"{where}.shape",
        )
    dtype = OIP_NUMPY.get(datatype) if isinstance(datatype, str) else None
    if dtype is None:
        raise ValidationError(
            f"{where}.datatype {datatype!r} is not an OIP v2 datatype; expected one of "
            f"{', '.join(OIP_NUMPY)}.",
            field=f"{where}.datatype",
        )
    if not isinstance(data, list):
        raise ValidationError(f"{where}.data must be a list.", field=f"{where}.data")
    try:
        arr: np.ndarray[Any, Any] = np.asarray(data, dtype=dtype)
    except (ValueError, TypeError, OverflowError):
        raise ValidationError(
            f"{where}.data does not hold {datatype} values.", field=f"{where}.data"
        ) from None
    if arr.dtype.kind == "O" and any(not isinstance(x, str) for x in arr.ravel().tolist()):
        raise ValidationError(f"{where}.data must hold strings for BYTES.", field=f"{where}.data")
    expected = math.prod(shape)
    if arr.size != expected:
        raise ValidationError(
            f"{where}.data has {arr.size} elements but shape {shape} needs {expected}.",
            field=f"{where}.data",
        )
    return name, arr.reshape(shape)


def _requested_outputs(outputs: Any) -> list[str] | None:
    if outputs is None:
        return None
    if not isinstance(outputs, list) or not all(
        isinstance(o, dict) and isinstance(o.get("name"), str) for o in outputs
    ):
        raise ValidationError(
            "'outputs' must be a list of {\"name\": ...} objects.", field="outputs"
        )
    return [o["name"] for o in outputs]


_LABELS = ["predict"]
_BOTH = ["predict", "predict_proba"]  # the outputs a model has, in the order answered


def encode_oip(
    predictor: Predictor,
    labels: list[Any],
    proba: list[list[float]] | None,
    wanted: list[str] | None,
    request_id: Any,
) -> dict[str, Any]:
    available = _BOTH if proba is not None else _LABELS
    names = wanted or available
    unknown = [n for n in names if n not in available]
    if unknown:
        raise ValidationError(
            f"Unknown output {unknown[0]!r}; this model has: {', '.join(available)}.",
            field="outputs",
        )
    outputs = []
    n = len(labels)
    for name in names:
        if name == "predict":
            outputs.append(
                {
                    "name": "predict",
                    "datatype": _label_datatype(predictor),
                    "shape": [n],
                    "data": labels,
                }
            )
        else:
            assert proba is not None  # guarded by `available`
            k = len(proba[0]) if proba else 0
            flat = [p for row in proba for p in row]
            outputs.append(
                {"name": "predict_proba", "datatype": "FP64", "shape": [n, k], "data": flat}
            )
    out: dict[str, Any] = {
        "model_name": predictor.name,
        "model_version": str(predictor.version_number or ""),
        "outputs": outputs,
    }
    if request_id is not None:
        out["id"] = str(request_id)
    return out


# -- SageMaker /invocations, with MLflow's payloads ----------------------------------------------
def decode_invocations(predictor: Predictor, body: Any) -> ModelInput:
    """MLflow's JSON payloads: dataframe_split, dataframe_records, instances, inputs."""
    v = _require(predictor)
    body = _object(body, "dataframe_split, dataframe_records, instances or inputs")
    keys = [k for k in ("dataframe_split", "dataframe_records", "instances", "inputs") if k in body]
    if len(keys) != 1:
        raise ValidationError(
            "The body must have exactly one of 'dataframe_split', 'dataframe_records', "
            f"'instances' or 'inputs'; got {sorted(body) or 'none'}.",
            field="body",
            hint='E.g. {"dataframe_split": {"columns": [...], "data": [[...]]}}.',
        )
    key = keys[0]
    payload = body[key]
    if key == "dataframe_split":
        if not isinstance(payload, dict) or not isinstance(payload.get("data"), list):
            raise ValidationError(
                '\'dataframe_split\' must be {"columns": [...], "data": [[...], ...]}.',
                field="dataframe_split",
            )
        columns = payload.get("columns")
        rows = payload["data"]
        if columns is None:
            return v.from_records(rows, "dataframe_split.data")
        if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
            raise ValidationError(
                "'dataframe_split.columns' must be a list of strings.",
                field="dataframe_split.columns",
            )
        records = []
        for i, row in enumerate(rows):
            if not isinstance(row, list) or len(row) != len(columns):
                raise ValidationError(
                    f"dataframe_split.data[{i}] must be a list of {len(columns)} values.",
                    field=f"dataframe_split.data[{i}]",
                )
            records.append(dict(zip(columns, row, strict=True)))
        return v.from_records(records, "dataframe_split.data")
    if key == "inputs" and isinstance(payload, dict):
        return v.from_columns(dict(payload), "inputs")
    return v.from_records(payload, key)


def decode_csv(predictor: Predictor, text: str) -> ModelInput:
    """CSV with a header row naming the columns."""
    import pandas as pd

    v = _require(predictor)
    # Text columns are read as text: a zip code '02139' must not become the number 2139.
    text_columns = {c.name: str for c in v.specs if c.dtype in ("string", "datetime")}
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=text_columns)
    except (ValueError, OverflowError, pd.errors.ParserError) as exc:
        raise ValidationError(f"The CSV body could not be parsed: {exc}.", field="body") from None
    if frame.empty:
        raise ValidationError("The CSV body has no rows.", field="body")
    return v.from_frame(frame, "csv")
