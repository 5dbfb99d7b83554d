"""Statistics profile of a table: computed once at registration, later the drift reference."""

from __future__ import annotations

from typing import Any

import numpy as np

QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
BINS = 20
TOP = 20


def profile(frame: Any) -> dict[str, Any]:
    """Per column: nulls, and quantiles + histogram (numeric) or top values (other)."""
    from pandas.api import types as pt

    columns: dict[str, Any] = {}
    for name in frame.columns:
        s = frame[name]
        nulls = int(s.isna().sum())
        if pt.is_numeric_dtype(s) and not pt.is_bool_dtype(s):
            columns[str(name)] = {"kind": "numeric", "nulls": nulls, **_numeric(s)}
        else:
            columns[str(name)] = {"kind": "categorical", "nulls": nulls, **_categorical(s)}
    return {"rows": len(frame), "columns": columns}


def _numeric(s: Any) -> dict[str, Any]:
    values = s.dropna().to_numpy(dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return {"count": 0}
    counts, edges = np.histogram(values, bins=BINS)
    return {
        "count": int(values.size),
        "mean": float(values.mean()),
        "std": float(values.std(ddof=1)) if values.size > 1 else 0.0,
        "min": float(values.min()),
        "max": float(values.max()),
        "quantiles": {
            f"p{int(q * 100):02d}": float(v)
            for q, v in zip(QUANTILES, np.quantile(values, QUANTILES), strict=True)
        },
        "histogram": {"edges": edges.tolist(), "counts": counts.tolist()},
    }


def _categorical(s: Any) -> dict[str, Any]:
    counts = s.dropna().astype(str).value_counts()
    return {
        "count": int(counts.sum()),
        "unique": int(counts.size),
        "top": [[str(k), int(v)] for k, v in counts.head(TOP).items()],
    }
