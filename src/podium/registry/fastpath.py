"""The ONNX fast path: a scikit-learn version converted once, kept only if it answers alike.

At registration (and, for versions registered before podium did this, the first time a
server asks for it) the model is converted with skl2onnx (float32 input, ZipMap off) and
run by onnxruntime on the version's reference rows: the ``reference_data`` given to
``register`` (at most :data:`PARITY_ROWS` of them), else its input example. Parity holds
when every label is identical and every probability is within the tolerance (1e-5 unless
``PODIUM_ONNX_TOLERANCE`` says otherwise; a regressor's predictions within it relative to
``max(1, |y|)``). Only then does the ONNX model become the ``onnx`` flavor of the same
version. The outcome, figures included, is recorded on the version as ``fast_path``::

    {"flavor": "onnx", "status": "ready" | "failed" | "unavailable", "reason": None | str,
     "rows": 100, "label_agreement": 1.0, "max_proba_diff": 3.9e-07, "max_pred_diff": None,
     "tolerance": 1e-05, "seconds": 0.06, "checked_at": "..."}

``failed``: the conversion or the parity check failed (the reason says which figure).
``unavailable``: nothing to try (not a scikit-learn model, non-numeric inputs, no example,
or the ``onnx`` extra is not installed). Nothing here ever makes a registration fail.

skl2onnx and onnxruntime are imported only inside the functions that need them.
"""

from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from podium.core.clock import utcnow
from podium.core.errors import ConfigError, ValidationError
from podium.core.signature import NUMERIC
from podium.registry.flavors.onnx_flavor import OnnxClassifier, OnnxRegressor
from podium.registry.predictor import Predictor, final_estimator

FLAVOR = "onnx"
DEFAULT_TOLERANCE = 1e-5
TOLERANCE_ENV = "PODIUM_ONNX_TOLERANCE"
PARITY_ROWS = 2_000  # reference rows the parity check runs on, at most
READY, FAILED, UNAVAILABLE = "ready", "failed", "unavailable"
# What `podium serve --flavor` and a deployment variant's `flavor:` take, beside flavor names.
CHOICES = ("auto", "sklearn", "onnx")
_EXTRA_MISSING = "extra"  # the cause of an "unavailable" that installing podium[onnx] lifts


@dataclass(frozen=True)
class Outcome:
    """What a check found: the record to keep on the version, and the ONNX model (bytes and
    flavor metadata) when parity held."""

    record: dict[str, Any]
    onnx: bytes | None = None
    meta: dict[str, Any] | None = None


def tolerance() -> float:
    """The probability tolerance of the parity check: ``$PODIUM_ONNX_TOLERANCE`` or 1e-5."""
    raw = os.environ.get(TOLERANCE_ENV, "").strip()
    if not raw:
        return DEFAULT_TOLERANCE
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not math.isfinite(value) or value < 0:
        raise ConfigError(
            f"{TOLERANCE_ENV}={raw!r} is not a tolerance.",
            hint=f"Unset it for the default ({DEFAULT_TOLERANCE:g}), or set e.g. "
            f"{TOLERANCE_ENV}=1e-4 (a number, at least 0).",
        )
    return value


def check(
    source: Predictor, rows: Any, *, tol: float | None = None, existing: bytes | None = None
) -> Outcome:
    """Convert ``source`` (the version's registered model) and check it on ``rows`` (a
    DataFrame of its inputs). ``existing``: an ONNX model the version already has (from
    ``podium export``), checked instead of converting again. Never raises but for a bad
    ``PODIUM_ONNX_TOLERANCE``: whatever goes wrong is the recorded reason."""
    tol = tolerance() if tol is None else tol
    t0 = time.perf_counter()
    try:
        return _check(source, rows, tol, existing, t0)
    except Exception as exc:  # a converter or runtime failing in a way nobody foresaw
        reason = f"the check failed: {type(exc).__name__}: {exc}"[:500]
        return Outcome(_record(FAILED, reason, None, tol, t0, {}))


def _record(
    status: str, reason: str | None, cause: str | None, tol: float, t0: float, fig: dict[str, Any]
) -> dict[str, Any]:
    record = {
        "flavor": FLAVOR,
        "status": status,
        "reason": reason,
        "rows": fig.get("rows", 0),
        "label_agreement": fig.get("label_agreement"),
        "max_proba_diff": fig.get("max_proba_diff"),
        "max_pred_diff": fig.get("max_pred_diff"),
        "tolerance": tol,
        "seconds": round(time.perf_counter() - t0, 4),
        "checked_at": utcnow().isoformat(),
    }
    if cause is not None:
        record["cause"] = cause
    return record


def _check(source: Predictor, rows: Any, tol: float, existing: bytes | None, t0: float) -> Outcome:
    def outcome(
        status: str, reason: str | None, cause: str | None = None, **fig: Any
    ) -> dict[str, Any]:
        return _record(status, reason, cause, tol, t0, fig)

    why = unavailable(source, rows)
    if why is not None:
        return Outcome(outcome(UNAVAILABLE, why[1], why[0]))
    sig = source.signature
    assert sig is not None  # unavailable() says so otherwise
    try:
        data = existing if existing is not None else convert(source.model, len(sig.columns))
    except ConfigError as exc:  # the onnx extra is not installed
        return Outcome(outcome(UNAVAILABLE, exc.message, _EXTRA_MISSING))
    except ValidationError as exc:
        return Outcome(outcome(FAILED, exc.message))
    meta: dict[str, Any] = {
        "classes": source.classes if source.has_proba else None,
        "threads": 1,
        "opset": opset(data),
        "quantized": None,
    }
    try:
        exported = Predictor(onnx_model(data, meta), sig, None, FLAVOR)
        fig = figures(source, exported, rows, tol)
    except ConfigError as exc:  # onnxruntime is not installed
        return Outcome(outcome(UNAVAILABLE, exc.message, _EXTRA_MISSING))
    except Exception as exc:  # onnxruntime refusing the graph, outputs of another shape
        reason = f"onnxruntime could not run the converted model: {type(exc).__name__}: {exc}"
        return Outcome(outcome(FAILED, reason[:500]))
    if not holds(fig, tol):
        return Outcome(outcome(FAILED, describe_failure(fig, tol), **fig))
    meta.update(fig, tolerance=tol)
    return Outcome(outcome(READY, None, **fig), data, meta)


def unavailable(source: Predictor, rows: Any) -> tuple[str, str] | None:
    """(cause, reason) when there is nothing to convert, else None."""
    model = source.model
    if not is_sklearn(model):
        kind = f"{type(model).__module__.split('.')[0]}.{type(model).__name__}"
        return "model", f"a {kind} is not a scikit-learn model (the fast path converts those)"
    sig = source.signature
    if sig is None or rows is None or len(rows) == 0:
        return "example", "no input example to check the conversion against"
    if not sig.all_numeric:
        text = [c.name for c in sig.inputs if c.dtype not in NUMERIC][:3]
        return "signature", (
            f"non-numeric input column(s) {', '.join(map(repr, text))}: the fast path takes "
            "all-numeric models"
        )
    if source._order is not None:
        return (
            "signature",
            "the model was fitted with its columns in another order than its signature's",
        )
    return None


def is_sklearn(model: Any) -> bool:
    base = sys.modules.get("sklearn.base")
    return base is not None and isinstance(model, base.BaseEstimator)


def recheck(record: dict[str, Any] | None) -> bool:
    """Whether a version's record should be checked (again): never checked, or unavailable
    only because the onnx extra was missing and it is installed now."""
    if record is None:
        return True
    if record.get("cause") != _EXTRA_MISSING:
        return False
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in ("skl2onnx", "onnxruntime"))


def ready(record: dict[str, Any] | None) -> bool:
    return record is not None and record.get("status") == READY


def serving_flavor(mv: Any, asked: str | None) -> str:
    """The flavor a server asked for ``asked`` (auto, sklearn, onnx or a flavor name) answers
    ``mv`` with, read from the record alone (nothing converted): ``"auto"`` when the version
    was never checked (its first server checks it)."""
    first = mv.flavors[0] if mv.flavors else None
    # Named as servers name it (X-Podium-Flavor): a scikit-learn model is "sklearn" whatever
    # its serialization (skops records the scikit-learn version, joblib the model's type).
    sklearn = first is not None and (
        "sklearn" in first.meta or str(first.meta.get("type", "")).startswith("sklearn.")
    )
    registered = "none" if first is None else "sklearn" if sklearn else first.flavor
    if asked in (None, "sklearn"):
        return str(registered)
    if asked != "auto":
        return asked
    if ready(mv.fast_path) and mv.flavor(FLAVOR) is not None:
        return FLAVOR
    return "auto" if recheck(mv.fast_path) else str(registered)


def convert(model: Any, columns: int) -> bytes:
    """``model`` as an ONNX graph (float32 input ``[n, columns]``, ZipMap off).

    Raises :class:`ConfigError` without the onnx extra, :class:`ValidationError` when
    skl2onnx cannot convert the model, naming what it said.
    """
    try:
        from skl2onnx import convert_sklearn
        from skl2onnx.common.data_types import FloatTensorType
    except ImportError:
        raise ConfigError(
            "The ONNX fast path needs skl2onnx and onnxruntime, which are not installed.",
            hint="pip install 'podium[onnx]'",
        ) from None
    final = final_estimator(model)
    options = {id(final): {"zipmap": False}} if hasattr(final, "predict_proba") else None
    try:
        onx = convert_sklearn(
            model,
            initial_types=[("input", FloatTensorType([None, columns]))],
            options=options,
        )
    except Exception as exc:  # skl2onnx raises many types for an unsupported model
        said = " ".join(str(exc).split()).rstrip(".")
        said = said if len(said) <= 300 else said[:297] + "..."
        raise ValidationError(
            f"skl2onnx cannot convert a {type(model).__name__}: {type(exc).__name__}: {said}",
            field="model",
        ) from None
    return bytes(onx.SerializeToString())


def opset(data: bytes) -> int | None:
    import onnx

    model = onnx.load_from_string(data)
    return next((int(o.version) for o in model.opset_import if o.domain in ("", "ai.onnx")), None)


def onnx_model(data: bytes, meta: dict[str, Any]) -> OnnxRegressor:
    """The runnable ONNX model (a classifier when ``meta`` names its classes)."""
    if meta.get("classes") is not None:
        return OnnxClassifier(data, meta)
    return OnnxRegressor(data, meta)


def figures(source: Predictor, exported: Predictor, rows: Any, tol: float) -> dict[str, Any]:
    """How ``exported`` answers against ``source`` on ``rows``: rows compared, the share of
    identical labels (of predictions within ``tol`` for a regressor), the largest
    probability difference, or for a regressor the largest relative difference."""
    want, want_proba = source.infer_arrays(source.validate(rows))
    got, got_proba = exported.infer_arrays(exported.validate(rows))
    want, got = np.asarray(want), np.asarray(got).reshape(-1)
    n = len(want)
    if got.shape != want.shape:
        raise ValidationError(f"{len(got)} predictions for {n} rows.", field="onnx")
    fig: dict[str, Any] = {"rows": n, "max_proba_diff": None, "max_pred_diff": None}
    if source.classes is None and np.issubdtype(want.dtype, np.number):  # a regressor
        w, g = want.astype(np.float64), got.astype(np.float64)
        rel = np.abs(g - w) / np.maximum(1.0, np.abs(w))
        fig["label_agreement"] = float(np.mean(rel <= tol))
        fig["max_pred_diff"] = float(rel.max()) if n else 0.0
        return fig
    fig["label_agreement"] = float(np.mean(got == want)) if n else 1.0
    if want_proba is not None:
        p, q = np.asarray(got_proba, dtype=np.float64), np.asarray(want_proba, dtype=np.float64)
        if p.shape != q.shape:
            raise ValidationError(f"probabilities of shape {p.shape}, not {q.shape}.", field="onnx")
        fig["max_proba_diff"] = float(np.abs(p - q).max()) if n else 0.0
    return fig


def holds(fig: dict[str, Any], tol: float) -> bool:
    """Every label identical and every probability (or regression value) within ``tol``."""
    if fig.get("max_pred_diff") is not None:
        return bool(fig["max_pred_diff"] <= tol)
    proba = fig.get("max_proba_diff")
    return fig["label_agreement"] == 1.0 and (proba is None or proba <= tol)


def describe_failure(fig: dict[str, Any], tol: float) -> str:
    n = fig["rows"]
    if fig.get("max_pred_diff") is not None:
        return (
            f"parity failed on {n} reference rows: predictions differ by up to "
            f"{fig['max_pred_diff']:.2g} relative (tolerance {tol:g})"
        )
    parts = []
    if fig["label_agreement"] < 1.0:
        parts.append(f"labels agree on {fig['label_agreement']:.2%} (must be 100%)")
    if fig.get("max_proba_diff") is not None and fig["max_proba_diff"] > tol:
        parts.append(
            f"probabilities differ by up to {fig['max_proba_diff']:.2g} (tolerance {tol:g})"
        )
    return f"parity failed on {n} reference rows: " + "; ".join(parts)


def describe(record: dict[str, Any] | None) -> str:
    """One line for people: ``podium models show`` and error messages."""
    if record is None:
        return "not checked yet (checked when a server first asks for it)"
    status = record.get("status")
    if status == READY:
        return f"ready: onnx flavor, {figures_text(record)}"
    return f"{status}: {record.get('reason')}" + (
        f" ({figures_text(record)})" if record.get("rows") else ""
    )


def figures_text(record: dict[str, Any]) -> str:
    parts = [f"{record.get('rows', 0)} rows"]
    if record.get("max_pred_diff") is not None:
        parts.append(f"max relative difference {record['max_pred_diff']:.2g}")
    else:
        if record.get("label_agreement") is not None:
            parts.append(f"labels {record['label_agreement']:.2%} identical")
        if record.get("max_proba_diff") is not None:
            parts.append(f"max probability difference {record['max_proba_diff']:.2g}")
    parts.append(f"tolerance {record.get('tolerance', DEFAULT_TOLERANCE):g}")
    return ", ".join(parts)


def reference_rows(example: dict[str, Any] | None, data: Any = None) -> Any:
    """The rows a parity check runs on: the stored input example (the rows every server
    checks a loaded model on) and ``data``, the reference data given at registration (a
    fixed sample of :data:`PARITY_ROWS` when larger); None when there are none."""
    import pandas as pd

    frames = []
    if example is not None:
        frames.append(pd.DataFrame(example["data"], columns=example["columns"]))
    if data is not None:
        frame = data if isinstance(data, pd.DataFrame) else pd.DataFrame(data)
        if len(frame) > PARITY_ROWS:
            frame = frame.sample(PARITY_ROWS, random_state=0)
        frames.append(frame)
    if not frames:
        return None
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
