"""Validating a part of rows against the model's signature, vectorised.

The HTTP validator checks values one by one, which is right for a request and far too slow
for millions of rows. Here each column is converted as a whole; a row whose value does not
convert (or is missing where the signature forbids it) is set aside with the reason, and
the rest go to the model in one call.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from podium.core.errors import ValidationError
from podium.core.signature import NUMERIC, Signature


def check_columns(names: list[str], sig: Signature, source: str) -> None:
    """Fail the job (not row by row) when a column of the model is absent."""
    missing = [c for c in sig.columns if c not in names]
    if missing:
        raise ValidationError(
            f"{source} lacks the model's column(s) {', '.join(map(repr, missing[:5]))}.",
            field="input",
            hint=f"The model takes: {', '.join(sig.columns[:10])}"
            + (" ..." if len(sig.columns) > 10 else "."),
        )


def validate(frame: Any, sig: Signature) -> tuple[Any, np.ndarray, list[str | None]]:
    """(model input for the valid rows, boolean mask of valid rows, reason per row or None).

    The model input is a float64 array in signature order for all-numeric signatures (as
    the HTTP validator gives), else a DataFrame of the signature's columns.
    """
    import pandas as pd

    n = len(frame)
    ok = np.ones(n, dtype=bool)
    reasons: list[str | None] = [None] * n
    converted: dict[str, Any] = {}

    def reject(bad: np.ndarray, why: str) -> None:
        for i in np.flatnonzero(bad & ok):
            reasons[i] = why
        ok[bad] = False

    for col in sig.inputs:
        raw = frame[col.name]
        missing = raw.isna().to_numpy()
        if col.dtype in NUMERIC:
            values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64)
            unparsable = np.isnan(values) & ~missing
            reject(unparsable, f"{col.name}: not a number")
            reject(np.isinf(values), f"{col.name}: not finite")
            converted[col.name] = values
        elif col.dtype == "bool":
            values = raw.map(_bool, na_action="ignore")
            reject(values.isna().to_numpy() & ~missing, f"{col.name}: not a boolean")
            converted[col.name] = values
        elif col.dtype == "datetime":
            values = pd.to_datetime(raw, errors="coerce", utc=True)
            reject(values.isna().to_numpy() & ~missing, f"{col.name}: not a date-time")
            converted[col.name] = values
        else:
            converted[col.name] = raw.where(raw.isna(), raw.astype(str))
        if not col.nullable:
            reject(missing, f"{col.name}: missing")
    if sig.all_numeric:
        x: Any = np.column_stack([converted[c] for c in sig.columns])[ok]
    else:
        x = pd.DataFrame({c: converted[c] for c in sig.columns})[ok].reset_index(drop=True)
    return x, ok, reasons


def _bool(v: Any) -> Any:
    if isinstance(v, bool | np.bool_):
        return bool(v)
    text = str(v).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    return None
