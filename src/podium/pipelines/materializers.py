"""Materializers: how a step's output becomes a versioned artifact, chosen by type.

DataFrames are Parquet, arrays are ``.npy`` (no pickle), scikit-learn estimators are
skops, JSON-able values are JSON. Any other type is refused rather than pickled
silently; :func:`register` adds a materializer for it.
"""

from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass
from typing import Any, Protocol

from podium.core.errors import PipelineError


class Materializer(Protocol):
    @property
    def name(self) -> str: ...

    def accepts(self, obj: Any) -> bool: ...
    def dumps(self, obj: Any) -> tuple[bytes, dict[str, Any]]: ...
    def loads(self, data: bytes, meta: dict[str, Any], digest: str) -> Any: ...


@dataclass(frozen=True)
class _Json:
    name: str = "json"

    def accepts(self, obj: Any) -> bool:
        return _jsonable(obj)

    def dumps(self, obj: Any) -> tuple[bytes, dict[str, Any]]:
        return json.dumps(obj, sort_keys=True, allow_nan=False).encode(), {}

    def loads(self, data: bytes, meta: dict[str, Any], digest: str) -> Any:
        return json.loads(data)


def _jsonable(obj: Any, depth: int = 0) -> bool:
    if depth > 50:
        return False
    if obj is None or isinstance(obj, bool | int | str):
        return True
    if isinstance(obj, float):
        return math.isfinite(obj)
    if isinstance(obj, list):
        return all(_jsonable(v, depth + 1) for v in obj)
    if isinstance(obj, dict):
        return all(isinstance(k, str) and _jsonable(v, depth + 1) for k, v in obj.items())
    return False


@dataclass(frozen=True)
class _Parquet:
    name: str = "parquet"

    def accepts(self, obj: Any) -> bool:
        import pandas as pd

        return isinstance(obj, pd.DataFrame | pd.Series)

    def dumps(self, obj: Any) -> tuple[bytes, dict[str, Any]]:
        import pandas as pd

        series = isinstance(obj, pd.Series)
        frame = obj.to_frame() if series else obj
        buf = io.BytesIO()
        frame.to_parquet(buf, index=True)
        return buf.getvalue(), {"series": series, "rows": len(frame)}

    def loads(self, data: bytes, meta: dict[str, Any], digest: str) -> Any:
        import pandas as pd

        frame = pd.read_parquet(io.BytesIO(data))
        return frame.iloc[:, 0] if meta.get("series") else frame


@dataclass(frozen=True)
class _Numpy:
    name: str = "npy"

    def accepts(self, obj: Any) -> bool:
        import numpy as np

        return isinstance(obj, np.ndarray) and obj.dtype != object

    def dumps(self, obj: Any) -> tuple[bytes, dict[str, Any]]:
        import numpy as np

        buf = io.BytesIO()
        np.save(buf, obj, allow_pickle=False)
        return buf.getvalue(), {"shape": list(obj.shape), "dtype": str(obj.dtype)}

    def loads(self, data: bytes, meta: dict[str, Any], digest: str) -> Any:
        import numpy as np

        return np.load(io.BytesIO(data), allow_pickle=False)


@dataclass(frozen=True)
class _Skops:
    name: str = "skops"

    def accepts(self, obj: Any) -> bool:
        from podium.registry.flavors import SkopsFlavor

        return SkopsFlavor().accepts(obj)

    def dumps(self, obj: Any) -> tuple[bytes, dict[str, Any]]:
        from podium.registry.flavors import SkopsFlavor

        return SkopsFlavor().save(obj)

    def loads(self, data: bytes, meta: dict[str, Any], digest: str) -> Any:
        from podium.registry.flavors import SkopsFlavor

        return SkopsFlavor().load(data, meta, digest)


_REGISTERED: list[Materializer] = [_Json(), _Numpy(), _Parquet(), _Skops()]


def register(materializer: Materializer) -> None:
    """Add a materializer; it is tried before the built-in ones."""
    _REGISTERED.insert(0, materializer)


def for_object(obj: Any, step: str) -> Materializer:
    for m in _REGISTERED:
        if m.accepts(obj):
            return m
    raise PipelineError(
        f"Step {step!r} returned a {type(obj).__module__}.{type(obj).__qualname__}, which "
        "podium does not know how to store.",
        hint="Return a DataFrame, numpy array, scikit-learn estimator or JSON-able value, or "
        "register a materializer with podium.pipelines.materializers.register().",
    )


def by_name(name: str) -> Materializer:
    for m in _REGISTERED:
        if m.name == name:
            return m
    raise PipelineError(f"No materializer named {name!r} is registered.")
