"""Model performance once labels arrive, and the health of the service, over a window."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

CLASSIFIER_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc")
REGRESSOR_METRICS = ("mae", "rmse", "r2")


def classification(
    y_true: Sequence[Any], y_pred: Sequence[Any], scores: Sequence[Any] | None = None
) -> dict[str, float | None]:
    """Accuracy, macro precision/recall/F1 and (with scores) ROC AUC, by scikit-learn.

    ``scores`` holds, per row, the probability of the positive class (binary) or the
    probabilities of every class (multiclass, in sorted class order).
    """
    from sklearn import metrics

    if len(y_true) == 0:
        return dict.fromkeys(CLASSIFIER_METRICS)
    t, p = _same_type(y_true, y_pred)
    labels = sorted(set(t) | set(p), key=str)
    binary = len(labels) <= 2
    avg = "binary" if binary and len(labels) == 2 else "macro"
    pos = {"pos_label": labels[-1]} if avg == "binary" else {}
    out: dict[str, float | None] = {
        "accuracy": float(metrics.accuracy_score(t, p)),
        "precision": float(metrics.precision_score(t, p, average=avg, zero_division=0, **pos)),
        "recall": float(metrics.recall_score(t, p, average=avg, zero_division=0, **pos)),
        "f1": float(metrics.f1_score(t, p, average=avg, zero_division=0, **pos)),
        "roc_auc": None,
    }
    if scores is not None and len(set(t)) > 1:
        s = np.asarray(scores, dtype=np.float64)
        try:
            if s.ndim == 1:
                out["roc_auc"] = float(metrics.roc_auc_score(t, s))
            else:
                out["roc_auc"] = float(metrics.roc_auc_score(t, s, multi_class="ovr"))
        except ValueError:  # classes in the window the scores do not cover
            out["roc_auc"] = None
    return out


def regression(y_true: Sequence[Any], y_pred: Sequence[Any]) -> dict[str, float | None]:
    from sklearn import metrics

    if len(y_true) == 0:
        return dict.fromkeys(REGRESSOR_METRICS)
    t = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(y_pred, dtype=np.float64)
    return {
        "mae": float(metrics.mean_absolute_error(t, p)),
        "rmse": float(np.sqrt(metrics.mean_squared_error(t, p))),
        "r2": float(metrics.r2_score(t, p)) if len(t) > 1 else None,
    }


def _same_type(y_true: Sequence[Any], y_pred: Sequence[Any]) -> tuple[list[Any], list[Any]]:
    """Labels from JSON feedback may be "1" where the model said 1: compare as text then."""
    t, p = list(y_true), list(y_pred)
    if {type(x) for x in t} != {type(x) for x in p}:
        return [str(x) for x in t], [str(x) for x in p]
    return t, p


def percentiles(
    values: Sequence[float], qs: Sequence[float] = (50, 95, 99)
) -> dict[str, float | None]:
    if len(values) == 0:
        return {f"p{int(q)}_ms": None for q in qs}
    got = np.percentile(np.asarray(values, dtype=np.float64), qs)
    return {f"p{int(q)}_ms": float(v) for q, v in zip(qs, got, strict=True)}


def delays(seconds: Sequence[float]) -> dict[str, float | None]:
    """Label delay (feedback time minus prediction time): median and 90th percentile."""
    if len(seconds) == 0:
        return {"median_s": None, "p90_s": None}
    p50, p90 = np.percentile(np.asarray(seconds, dtype=np.float64), [50, 90])
    return {"median_s": float(p50), "p90_s": float(p90)}
