"""The reference profile: what the training data looked like, computed once at registration.

Drift tests compare a window of production inputs with this profile, never with the training
rows, so monitoring costs the same whether the model was trained on a thousand rows or a
billion. Per numeric column the profile keeps the sorted values when there are at most
:data:`EXACT_MAX` of them (tests then equal scipy's on the same data) and otherwise
:data:`EXACT_MAX` evenly spaced order statistics, a sketch whose empirical CDF is within
``1 / EXACT_MAX`` of the true one. Per categorical column it keeps the counts.

The profile is saved as an ``.npz`` archive read with ``allow_pickle=False``: loading one
never runs code.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

EXACT_MAX = 10_000  # numeric values kept per column
TOP_CATEGORIES = 1_000  # categories kept per column; the rest are counted as OTHER
OTHER = "__other__"
PREDICTION = "prediction"  # the predicted label or value
SCORE = "prediction_score"  # a binary classifier's probability of its second class


@dataclass
class NumericColumn:
    """A numeric column: its (sketched) sorted values, and moments for effect sizes."""

    n: int  # non-null values in the data, not in the sketch
    nulls: int
    values: np.ndarray  # sorted; all of them when ``exact``
    mean: float
    std: float

    kind = "numeric"

    @property
    def exact(self) -> bool:
        return self.values.size == self.n


@dataclass
class CategoricalColumn:
    """A categorical (or binary) column: counts per category, as strings."""

    n: int
    nulls: int
    counts: dict[str, int]
    binary: bool = False

    @property
    def kind(self) -> str:
        return "binary" if self.binary else "categorical"


Column = NumericColumn | CategoricalColumn


@dataclass
class Reference:
    """Per-column profiles of the features, and of the model's predictions on that data."""

    rows: int
    columns: dict[str, Column]
    predictions: dict[str, Column] = field(default_factory=dict)
    task: str | None = None  # classification or regression: from the model, not its outputs

    def to_bytes(self) -> bytes:
        arrays: dict[str, np.ndarray] = {}
        meta: dict[str, Any] = {
            "rows": self.rows,
            "columns": {},
            "predictions": {},
            "task": self.task,
        }
        for section, cols in (("columns", self.columns), ("predictions", self.predictions)):
            for i, (name, col) in enumerate(cols.items()):
                if isinstance(col, NumericColumn):
                    key = f"{section}{i}"
                    arrays[key] = col.values
                    meta[section][name] = {
                        "kind": "numeric",
                        "n": col.n,
                        "nulls": col.nulls,
                        "mean": col.mean,
                        "std": col.std,
                        "array": key,
                    }
                else:
                    meta[section][name] = {
                        "kind": col.kind,
                        "n": col.n,
                        "nulls": col.nulls,
                        "counts": col.counts,
                    }
        arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
        buf = io.BytesIO()
        np.savez_compressed(buf, **arrays)  # type: ignore[arg-type]
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, blob: bytes) -> Reference:
        with np.load(io.BytesIO(blob), allow_pickle=False) as z:
            meta = json.loads(z["meta"].tobytes())
            sections: dict[str, dict[str, Column]] = {}
            for section in ("columns", "predictions"):
                cols: dict[str, Column] = {}
                for name, m in meta[section].items():
                    if m["kind"] == "numeric":
                        cols[name] = NumericColumn(
                            m["n"], m["nulls"], z[m["array"]], m["mean"], m["std"]
                        )
                    else:
                        cols[name] = CategoricalColumn(
                            m["n"], m["nulls"], m["counts"], m["kind"] == "binary"
                        )
                sections[section] = cols
        return cls(meta["rows"], sections["columns"], sections["predictions"], meta.get("task"))

    def describe(self) -> dict[str, Any]:
        """A JSON-friendly summary (kinds and sizes), for `models show` and reports."""
        return {
            "rows": self.rows,
            "task": self.task,
            "columns": {n: {"kind": c.kind, "n": c.n} for n, c in self.columns.items()},
            "predictions": {n: {"kind": c.kind, "n": c.n} for n, c in self.predictions.items()},
        }


def build(
    frame: Any, predictions: Any = None, scores: Any = None, task: str | None = None
) -> Reference:
    """Profile a DataFrame of features (and the model's predictions and scores on it).

    >>> import pandas as pd
    >>> ref = build(pd.DataFrame({"x": [1.0, 2.0, 3.0], "c": ["a", "b", "a"]}))
    >>> ref.columns["c"].counts
    {'a': 2, 'b': 1}
    """
    columns = {str(name): column(frame[name]) for name in frame.columns}
    preds: dict[str, Column] = {}
    if predictions is not None:
        preds[PREDICTION] = column(predictions)
    if scores is not None:
        preds[SCORE] = column(scores)
    return Reference(len(frame), columns, preds, task)


def column(values: Any) -> Column:
    """Profile one column (a Series, array or list): numeric unless it is text or boolean,
    binary when it has two distinct values."""
    import pandas as pd
    from pandas.api import types as pt

    s = values if isinstance(values, pd.Series) else pd.Series(np.asarray(values))
    nulls = int(s.isna().sum())
    s = s.dropna()
    if pt.is_numeric_dtype(s) and not pt.is_bool_dtype(s):
        v = s.to_numpy(dtype=np.float64)
        v = v[np.isfinite(v)]
        if np.unique(v[:100_000]).size > 2 or v.size == 0:
            return numeric(v, nulls)
    return categorical(s, nulls)


def numeric(values: np.ndarray, nulls: int = 0) -> NumericColumn:
    v = np.sort(np.asarray(values, dtype=np.float64))
    n = int(v.size)
    kept = v if n <= EXACT_MAX else v[((np.arange(EXACT_MAX) + 0.5) * n / EXACT_MAX).astype(int)]
    return NumericColumn(
        n,
        nulls,
        kept,
        float(v.mean()) if n else 0.0,
        float(v.std(ddof=1)) if n > 1 else 0.0,
    )


def labels(values: Any) -> Any:
    """Category labels as strings, the same whether a number arrived as 1, 1.0 or np.int64(1)."""
    import pandas as pd
    from pandas.api import types as pt

    s = values if isinstance(values, pd.Series) else pd.Series(list(values), dtype=object)
    if pt.is_numeric_dtype(s) and not pt.is_bool_dtype(s):
        return s.astype(np.float64).map(_number)
    return s.map(
        lambda v: _number(v) if isinstance(v, int | float) and not isinstance(v, bool) else str(v)
    )


def _number(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def categorical(values: Any, nulls: int = 0) -> CategoricalColumn:
    counts = labels(values).value_counts()
    kept = {str(k): int(c) for k, c in counts.head(TOP_CATEGORIES).items()}
    rest = int(counts.iloc[TOP_CATEGORIES:].sum()) if counts.size > TOP_CATEGORIES else 0
    if rest:
        kept[OTHER] = rest
    return CategoricalColumn(int(counts.sum()), nulls, kept, binary=counts.size == 2)
