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
