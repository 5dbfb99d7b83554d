"""Validation gates: built-in steps that stop a run with a readable report.

Use them inside a pipeline like any step; each passes its main input through, so the next
step depends on the gate having passed::

    @pipeline
    def training():
        data = check_data(load(), not_null=["age"], ranges={"age": (0, 120)}, min_rows=100)
        model = train(data)
        metrics = check_metrics(evaluate(model, data), {"accuracy": ">= 0.9"})
        ...

`podium check PIPELINE_REF` runs the gates and the steps they depend on, nothing else.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from podium.core.errors import GateFailed, NotFoundError, ValidationError
from podium.core.hashing import sha256_bytes
from podium.core.policy import COMPARISON as _RULE
from podium.core.policy import OPS as _OPS
from podium.core.signature import Signature
from podium.pipelines.step import step
from podium.registry import Registry
from podium.registry.flavors import choose
from podium.workspace import Workspace


@step(gate=True)
def check_data(
    frame: Any,
    columns: dict[str, str] | None = None,
    not_null: list[str] | None = None,
    ranges: dict[str, tuple[float | None, float | None]] | None = None,
    min_rows: int | None = None,
    max_rows: int | None = None,
) -> Any:
    """Schema (column -> dtype), no nulls, value ranges and row count of a DataFrame."""
    failures: list[str] = []
    present = {str(c) for c in frame.columns}
    actual = {c.name: c.dtype for c in Signature.infer(frame).inputs} if len(present) else {}
    for name, dtype in (columns or {}).items():
        if name not in present:
            failures.append(f"column {name!r} is missing")
        elif actual[name] != dtype:
            failures.append(f"column {name!r} is {actual[name]}, expected {dtype}")
    for name in not_null or []:
        if name not in present:
            failures.append(f"column {name!r} is missing")
        elif (n := int(frame[name].isna().sum())) > 0:
            failures.append(f"column {name!r} has {n} null(s)")
    for name, (lo, hi) in (ranges or {}).items():
        if name not in present:
            failures.append(f"column {name!r} is missing")
            continue
        values = frame[name].dropna()
        if lo is not None and (n := int((values < lo).sum())):
            failures.append(f"column {name!r} has {n} value(s) below {lo} (min {values.min()})")
        if hi is not None and (n := int((values > hi).sum())):
            failures.append(f"column {name!r} has {n} value(s) above {hi} (max {values.max()})")
    if min_rows is not None and len(frame) < min_rows:
        failures.append(f"{len(frame)} rows, fewer than the minimum {min_rows}")
    if max_rows is not None and len(frame) > max_rows:
        failures.append(f"{len(frame)} rows, more than the maximum {max_rows}")
    if failures:
        raise GateFailed("check_data", failures)
    return frame


@step(gate=True)
def check_metrics(metrics: dict[str, float], thresholds: dict[str, str]) -> dict[str, float]:
    """Each metric against a rule such as ``">= 0.9"`` or ``"< 3.5"``."""
    failures = []
    for name, rule in thresholds.items():
        m = _RULE.fullmatch(rule)
        if m is None:
            raise ValidationError(
                f"Threshold {rule!r} for {name!r} is not a comparison.",
                field=f"thresholds.{name}",
                hint="Write it as '>= 0.9', '> 0.5', '<= 3', '< 10' or '== 1'.",
            )
        op, bound = m.group(1), float(m.group(2))
        if name not in metrics:
            failures.append(f"metric {name!r} is missing (have: {', '.join(sorted(metrics))})")
        elif not _OPS[op](metrics[name], bound):
            failures.append(f"{name} = {metrics[name]:.6g}, required {op} {bound:g}")
    if failures:
        raise GateFailed("check_metrics", failures)
    return metrics


@step(gate=True, cache=False)  # the champion may change between runs
def beat_champion(
    model: Any,
    X: Any,
    y: Any,
    name: str,
    metric: str = "accuracy",
    margin: float = 0.0,
    alias: str = "champion",
) -> Any:
    """The candidate must score at least ``margin`` better than ``name@alias`` on ``X, y``.

    With no champion yet, the candidate passes (the first model has nothing to beat).
    """
    scorer = _scorer(metric)
    candidate = scorer(y, np.asarray(model.predict(X)))
    ws = Workspace.current()
    try:
        champion_model = Registry(ws.store, ws.artifacts).load(f"models:/{name}@{alias}")
    except NotFoundError:
        return model
    champion = scorer(y, champion_model.predict(X))
    if candidate < champion + margin:
        raise GateFailed(
            "beat_champion",
            [
                f"{metric} {candidate:.6g} does not beat {name}@{alias} "
                f"(version {champion_model.version_number}) at {champion:.6g} by {margin:g}"
            ],
        )
    return model


@step(gate=True)
def check_serialization(model: Any, X: Any) -> Any:
    """The model saved and reloaded (in the flavor it will be registered with) predicts
    exactly as the one in memory."""
    flavor = choose(model)
    blob, meta = flavor.save(model)
    reloaded = flavor.load(blob, meta, sha256_bytes(blob))
    before, after = np.asarray(model.predict(X)), np.asarray(reloaded.predict(X))
    if before.shape != after.shape or not np.array_equal(before, after):
        differ = int(np.sum(before != after)) if before.shape == after.shape else len(before)
        raise GateFailed(
            "check_serialization",
            [f"the {flavor.name} copy predicts differently on {differ} of {len(before)} rows"],
        )
    return model


def _scorer(metric: str) -> Any:
    from sklearn import metrics as skm

    lower_is_better = {"mae": skm.mean_absolute_error, "mse": skm.mean_squared_error}
    if metric in lower_is_better:
        fn = lower_is_better[metric]
        return lambda y, p: -fn(y, p)  # higher is better for the comparison
    known = {
        "accuracy": skm.accuracy_score,
        "f1": skm.f1_score,
        "r2": skm.r2_score,
        "balanced_accuracy": skm.balanced_accuracy_score,
    }
    if metric not in known:
        raise ValidationError(
            f"Unknown metric {metric!r}; known: {', '.join([*known, *lower_is_better])}.",
            field="metric",
        )
    return known[metric]
