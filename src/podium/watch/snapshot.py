"""A deployment's health, drift and performance over a window of its prediction log.

The window is read once; the reference is the stored profile of the watched model version
(never the training data). The result is plain JSON, and :func:`figures` flattens it into
the dotted names alert rules use (``drift.share``, ``performance.accuracy``...).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np

from podium.core.clock import utcnow
from podium.core.errors import NotFoundError
from podium.core.records import Deployment
from podium.core.signature import Signature
from podium.deploy.report import STALE_S
from podium.deploy.watch_spec import MonitoringSpec, WindowSpec
from podium.monitoring import DriftSettings, concept, performance
from podium.monitoring import detect as detect_drift
from podium.monitoring.reference import PREDICTION, SCORE, NumericColumn, Reference, labels
from podium.registry import Registry
from podium.workspace import Workspace


@dataclass
class Window:
    """The log rows of a window, split the ways monitoring needs them (oldest first)."""

    rows: list[dict[str, Any]]  # answered requests of the live variants (no shadows)
    errors: int  # failed requests among them

    @classmethod
    def read(cls, ws: Workspace, deployment: str, spec: WindowSpec, now: Any = None) -> Window:
        since = (now or utcnow()) - timedelta(minutes=spec.minutes) if spec.minutes else None
        limit = spec.rows if spec.rows is not None else 1_000_000
        got = ws.store.predictions.recent(deployment, since=since, limit=limit)
        got.reverse()
        rows = [r for r in got if "shadow_of" not in (r["outputs"] or {})]
        return cls(rows, sum("error" in (r["outputs"] or {}) for r in rows))


def watched_model(dep: Deployment) -> str:
    """The model whose reference profile drift compares with: ``monitoring.reference``, else
    the one serving the main traffic."""
    mon = dep.spec.get("monitoring") or {}
    if mon.get("reference"):
        return str(mon["reference"])
    return served_model(dep)


def served_model(dep: Deployment) -> str:
    """The model reference of the variant taking the main traffic (what retraining replaces)."""
    spec, state = dep.spec, dep.state
    variants = spec["variants"]
    strategy = spec["strategy"]
    main = {
        "shadow": (spec.get("shadow") or {}).get("primary"),
        "bluegreen": state.get("live") or (spec.get("bluegreen") or {}).get("live"),
        "canary": (spec.get("canary") or {}).get("stable"),
        "flags": (spec.get("flags") or {}).get("default"),
    }.get(strategy)
    name = main if main in variants else next(iter(variants))
    return str(variants[name]["model"])


def snapshot(
    ws: Workspace,
    name: str,
    window: WindowSpec | None = None,
    *,
    reference: Reference | None = None,
    now: Any = None,
    win: Window | None = None,
) -> dict[str, Any]:
    """Everything monitoring knows about deployment ``name`` over ``window``."""
    now = now or utcnow()
    dep = ws.store.deployments.get(name)
    mon = MonitoringSpec.model_validate(dep.spec.get("monitoring") or {})
    window = window or mon.window
    registry = Registry(ws.store, ws.artifacts)
    uri = watched_model(dep)
    try:
        mv = registry.get(uri)
    except NotFoundError:
        mv = None
    if reference is None and mv is not None:
        reference = registry.reference(mv.uri)
    win = win or Window.read(ws, name, window, now)
    columns = Signature.from_dict(mv.signature).columns if mv and mv.signature else None
    ok = [r for r in win.rows if "error" not in r["outputs"]]
    out: dict[str, Any] = {
        "deployment": name,
        "at": now.isoformat(),
        "model": uri,
        "version": mv.uri if mv else None,
        "window": {
            "rows": window.rows,
            "minutes": window.minutes,
            "requests": len(win.rows),
            "from": win.rows[0]["at"].isoformat() if win.rows else None,
            "to": win.rows[-1]["at"].isoformat() if win.rows else None,
        },
        "health": health(ws, name, win, window),
    }
    out.update(model_figures(ok, reference, columns, mon))
    out["concept"] = _concept(ok, _is_classifier(ok, reference), mon)
    return out


def model_figures(
    rows: list[dict[str, Any]],
    reference: Reference | None,
    columns: list[str] | None,
    mon: MonitoringSpec,
) -> dict[str, Any]:
    """Drift, prediction drift and performance of answered log rows."""
    drift, prediction = _drift(reference, rows, columns, mon)
    return {
        "drift": drift,
        "prediction_drift": prediction,
        "performance": _performance(rows, _is_classifier(rows, reference)),
    }


def health(ws: Workspace, name: str, win: Window, window: WindowSpec) -> dict[str, Any]:
    """Latency, errors, throughput per variant and overall, and each live worker's memory."""
    by: dict[str, list[dict[str, Any]]] = {}
    for r in win.rows:
        by.setdefault(r["variant"], []).append(r)
    span = window.minutes * 60 if window.minutes else None
    live = ws.store.deployments.workers(name, stale_s=STALE_S)
    workers = [
        {"worker": w.worker, "versions": w.versions, "memory_mb": _mb(w.rss_bytes)} for w in live
    ]
    memory = [m for w in live if (m := _mb(w.rss_bytes)) is not None]
    return {
        **traffic(win.rows, span),
        "memory_mb": max(memory) if memory else None,
        "variants": {v: traffic(rows, span) for v, rows in sorted(by.items())},
        "workers": workers,
    }


def traffic(rows: list[dict[str, Any]], span_s: float | None = None) -> dict[str, Any]:
    """Requests, errors, throughput and latency percentiles of log rows (oldest first)."""
    ok = [r["latency_ms"] for r in rows if "error" not in r["outputs"]]
    errors = len(rows) - len(ok)
    if span_s is None:
        span_s = (rows[-1]["at"] - rows[0]["at"]).total_seconds() if len(rows) > 1 else 0
    return {
        "requests": len(rows),
        "errors": errors,
        "error_rate": errors / len(rows) if rows else None,
        "throughput_rps": len(rows) / span_s if span_s > 0 else None,
        **performance.percentiles(ok),
    }


def _mb(value: int | None) -> float | None:
    return None if value is None else round(value / 2**20, 1)


def _drift(
    reference: Reference | None,
    rows: list[dict[str, Any]],
    columns: list[str] | None,
    mon: MonitoringSpec,
) -> tuple[dict[str, Any], dict[str, Any]]:
    if reference is None or columns is None:
        why = {
            "status": "no reference",
            "hint": "Register the model with reference_data=X_holdout, or run "
            "`podium models reference MODEL_URI DATA`.",
        }
        return why, why
    import pandas as pd

    inputs = [row for r in rows for row in (r["inputs"] or [])]
    frame = pd.DataFrame(inputs, columns=columns) if inputs else pd.DataFrame(columns=columns)
    preds: dict[str, Any] = {}
    if PREDICTION in reference.predictions:
        preds[PREDICTION] = [p for r in rows for p in r["outputs"].get("predictions") or []]
    if SCORE in reference.predictions:
        preds[SCORE] = [
            p[1] for r in rows for p in r["outputs"].get("probabilities") or [] if len(p) == 2
        ]
    settings = DriftSettings(**mon.drift.model_dump())
    report = detect_drift(reference, frame, preds, settings).to_dict()
    prediction = {
        "drifted": [c for c, d in report["predictions"].items() if d["drifted"]],
        "columns": report.pop("predictions"),
    }
    return {"status": "ok", **report}, {"status": "ok", **prediction}


def _is_classifier(rows: list[dict[str, Any]], reference: Reference | None) -> bool:
    if reference is not None and reference.task is not None:
        return reference.task == "classification"
    if any(r["outputs"].get("probabilities") for r in rows):
        return True
    if reference is not None and PREDICTION in reference.predictions:
        return not isinstance(reference.predictions[PREDICTION], NumericColumn)
    sample = [p for r in rows[:100] for p in r["outputs"].get("predictions") or []]
    return not all(isinstance(p, float) for p in sample)


def _labelled(rows: list[dict[str, Any]]) -> list[tuple[dict[str, Any], Any, Any, Any]]:
    """(row, label, prediction, probabilities) per labelled prediction, oldest first. A label
    list labels every row of a multi-row request; a single label, a one-row request."""
    out = []
    for r in rows:
        fb = r.get("feedback") or {}
        label = fb.get("label")
        if label is None:
            continue
        preds = r["outputs"].get("predictions") or []
        proba = r["outputs"].get("probabilities") or [None] * len(preds)
        labels = label if isinstance(label, list) else [label]
        for y, p, pr in zip(labels, preds, proba, strict=False):
            out.append((r, y, p, pr))
    return out


def _performance(rows: list[dict[str, Any]], classifier: bool) -> dict[str, Any]:
    labelled = _labelled(rows)
    labelled_requests = sum(1 for r in rows if (r.get("feedback") or {}).get("label") is not None)
    delay = [
        (r["feedback"]["at"] - r["at"]).total_seconds()
        for r in rows
        if (r.get("feedback") or {}).get("label") is not None and r["feedback"].get("at")
    ]
    y = [x[1] for x in labelled]
    p = [x[2] for x in labelled]
    if classifier:
        y, p = _labels(y), _labels(p)
        probas = [x[3] for x in labelled]
        scores: Any = None
        widths = {len(pr) for pr in probas if pr is not None}
        # Probabilities only when every row has them, for the same classes (a window can
        # span model versions with different classes: then ROC AUC is left out).
        if probas and len(widths) == 1 and all(pr is not None for pr in probas):
            arr = np.asarray(probas, dtype=np.float64)
            scores = arr[:, 1] if arr.shape[1] == 2 else arr
        metrics = performance.classification(y, p, scores)
    else:
        metrics = performance.regression(y, p)
    return {
        "task": "classification" if classifier else "regression",
        "labelled": len(labelled),
        "label_coverage": labelled_requests / len(rows) if rows else None,
        "label_delay": performance.delays(delay),
        **metrics,
    }


def _concept(rows: list[dict[str, Any]], classifier: bool, mon: MonitoringSpec) -> dict[str, Any]:
    labelled = _labelled(rows)
    if classifier:
        errors = [
            float(a != b)
            for a, b in zip(
                _labels([x[1] for x in labelled]), _labels([x[2] for x in labelled]), strict=True
            )
        ]
    else:
        errors = [abs(float(y) - float(p)) for _, y, p, _ in labelled]
    found = concept.detect(
        errors,
        binary=classifier,
        detectors=mon.concept.detectors,
        params={k: dict(v) for k, v in mon.concept.params.items()},
    )
    return {
        "errors": len(errors),
        "drift": any(r.state == "drift" for r in found.values()),
        "detectors": {k: r.to_dict() for k, r in found.items()},
    }


def _labels(values: list[Any]) -> list[str]:
    """Class labels as text, 1, 1.0 and "1" alike: feedback arrives as JSON, predictions as
    the model's own types."""
    return list(labels(values)) if values else []


def figures(snap: dict[str, Any]) -> dict[str, float | None]:
    """The snapshot as flat, dotted figures (booleans as 0/1) for alert rules."""
    out: dict[str, float | None] = {}

    def put(key: str, value: Any) -> None:
        if isinstance(value, bool):
            out[key] = float(value)
        elif isinstance(value, int | float) or value is None:
            out[key] = None if value is None else float(value)

    d = snap.get("drift") or {}
    if d.get("status") == "ok":
        put("drift.share", d["share"])
        put("drift.dataset", d["dataset_drift"])
        put("drift.drifted", len(d["drifted"]))
        for col, c in d["columns"].items():
            for k in ("effect", "p_value", "p_adjusted", "statistic", "drifted"):
                put(f"drift.column.{col}.{k}", c[k])
    pd_ = snap.get("prediction_drift") or {}
    if pd_.get("status") == "ok":
        put("prediction_drift.drifted", bool(pd_["drifted"]))
        for col, c in pd_["columns"].items():
            for k in ("effect", "p_value", "drifted"):
                put(f"prediction_drift.{col}.{k}", c[k])
    perf = snap.get("performance") or {}
    for k, v in perf.items():
        if k == "label_delay":
            put("performance.label_delay_s", v["median_s"])
        else:
            put(f"performance.{k}", v)
    c = snap.get("concept") or {}
    put("concept.drift", c.get("drift"))
    for name, r in (c.get("detectors") or {}).items():
        put(f"concept.{name}.drift", r["state"] == "drift")
        put(f"concept.{name}.warning", r["state"] != "stable")
    h = snap.get("health") or {}
    for k, v in h.items():
        put(f"health.{k}", v)
    for variant, vf in (h.get("variants") or {}).items():
        for k, v in vf.items():
            put(f"health.variant.{variant}.{k}", v)
    return out
