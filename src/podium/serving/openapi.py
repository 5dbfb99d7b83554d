"""OpenAPI request-body documentation for the predict routes.

The handlers parse bodies themselves (faster than building pydantic models per request),
so the schemas are declared here for the docs and for schema-driven fuzzers.
"""

from __future__ import annotations

from typing import Any

_TENSOR = {
    "type": "object",
    "required": ["name", "shape", "datatype", "data"],
    "properties": {
        "name": {"type": "string"},
        "shape": {"type": "array", "items": {"type": "integer", "minimum": 0}},
        "datatype": {
            "type": "string",
            "enum": [
                "BOOL",
                "UINT8",
                "UINT16",
                "UINT32",
                "UINT64",
                "INT8",
                "INT16",
                "INT32",
                "INT64",
                "FP16",
                "FP32",
                "FP64",
                "BYTES",
            ],
        },
        "data": {"type": "array"},
        "parameters": {"type": "object"},
    },
}


def _json_body(schema: dict[str, Any], example: Any) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": schema, "example": example}},
        }
    }


_INFER = _json_body(
    {
        "type": "object",
        "required": ["inputs"],
        "properties": {
            "id": {"type": "string"},
            "parameters": {"type": "object"},
            "inputs": {"type": "array", "items": _TENSOR, "minItems": 1},
            "outputs": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["name"],
                    "properties": {"name": {"type": "string"}},
                },
            },
        },
    },
    {"inputs": [{"name": "input-0", "shape": [1, 2], "datatype": "FP64", "data": [0.1, 0.2]}]},
)


def _path(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def oip_infer(*, versioned: bool) -> dict[str, Any]:
    """The infer request body, and the path parameters the handler reads itself."""
    params = [_path("name")] + ([_path("version")] if versioned else [])
    return {**_INFER, "parameters": params}


PREDICT = _json_body(
    {
        "oneOf": [
            {
                "type": "object",
                "required": ["records"],
                "properties": {"records": {"type": "array", "items": {"type": "object"}}},
            },
            {"type": "object", "description": "a single record"},
            {"type": "array", "items": {"type": "object"}},
        ]
    },
    {"records": [{"feature_a": 1.0, "feature_b": 2.0}]},
)

INVOCATIONS: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "description": "One of dataframe_split, dataframe_records, instances, inputs.",
                    "properties": {
                        "dataframe_split": {"type": "object"},
                        "dataframe_records": {"type": "array"},
                        "instances": {"type": "array"},
                        "inputs": {},
                    },
                },
                "example": {"dataframe_split": {"columns": ["a", "b"], "data": [[1.0, 2.0]]}},
            },
            "text/csv": {"schema": {"type": "string"}},
        },
    }
}


# -- the finished document --------------------------------------------------------------------
ERROR = {
    "type": "object",
    "required": ["error", "type"],
    "properties": {
        "error": {"type": "string"},
        "type": {"type": "string"},
        "field": {"type": "string"},
        "hint": {"type": "string"},
        "request_id": {"type": "string"},
        "limit": {"type": "object"},
        "needed_role": {"type": "string"},
    },
}
REFUSED = {
    "description": (
        "Refused, with the field or the limit named and a hint: 400 malformed or invalid "
        "input, 401/403 token or role, 404 unknown model or route, 413/431 too large, "
        "429 too many requests."
    ),
    "content": {"application/json": {"schema": ERROR}},
}
FEEDBACK_ITEM = {
    "type": "object",
    "required": ["prediction_id"],
    "properties": {
        "prediction_id": {"type": "string", "minLength": 1, "maxLength": 128},
        "reward": {"type": ["number", "null"]},  # null: no reward, as when absent
        "label": {},
    },
    "additionalProperties": False,
}
FEEDBACK = _json_body(
    {
        "oneOf": [
            FEEDBACK_ITEM,
            {"type": "array", "items": FEEDBACK_ITEM, "minItems": 1},
            {
                "type": "object",
                "required": ["feedback"],
                "properties": {"feedback": {"type": "array", "items": FEEDBACK_ITEM}},
            },
        ]
    },
    {"prediction_id": "3f2a9c1e0b7d-42", "label": 1},
)
# Routes whose answer is not JSON.
PLAIN = {
    "/ping": {"description": "Healthy (an empty body, as SageMaker expects).", "content": {}},
    "/metrics": {
        "description": "Prometheus text exposition.",
        "content": {"text/plain": {"schema": {"type": "string"}}},
    },
}


def finish(schema: dict[str, Any]) -> dict[str, Any]:
    """Complete FastAPI's document with what the hand-parsed routes do: every operation can
    be refused with a JSON error (4XX), ``/feedback`` documents its body, and ``/ping`` and
    ``/metrics`` say they answer in no JSON. Schema-driven fuzzers check answers against it."""
    for path, item in schema.get("paths", {}).items():
        for method, op in item.items():
            responses = op.setdefault("responses", {})
            responses.pop("422", None)  # FastAPI's own validation never runs on these routes
            responses.setdefault("4XX", REFUSED)
            if path in PLAIN and method == "get":
                responses["200"] = PLAIN[path]
            if path == "/feedback" and method == "post":
                op.update(FEEDBACK)
    return schema
