"""Alert rules: a figure, a comparison, a threshold, a window and a cooldown."""

from __future__ import annotations

import operator
from collections.abc import Callable
from datetime import datetime
from typing import Any

from podium.core.records import Deployment
from podium.deploy.watch_spec import AlertSpec, MonitoringSpec, WindowSpec
from podium.watch.notify import deliver
from podium.watch.snapshot import figures, snapshot
from podium.workspace import Workspace

OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}


def check(
    ws: Workspace,
    dep: Deployment,
    now: datetime,
    snapshots: dict[tuple[int | None, float | None], dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Evaluate the deployment's alert rules; record, deliver and return those that fire.

    A rule whose figure is not available (no reference, not enough data, no labels yet)
    does not fire. A rule that fired less than ``cooldown_s`` ago stays quiet.
    """
    mon = MonitoringSpec.model_validate(dep.spec.get("monitoring") or {})
    snapshots = {} if snapshots is None else snapshots
    last = ws.store.alerts.last_fired(dep.name)
    fired = []
    for rule in mon.alerts:
        window = rule.window or mon.window
        key = window.key()
        if key not in snapshots:
            snapshots[key] = snapshot(ws, dep.name, window, now=now)
        value = figures(snapshots[key]).get(rule.figure)
        if value is None or not OPS[rule.op](value, rule.threshold):
            continue
        prev = last.get(rule.name)
        if prev is not None and (now - prev).total_seconds() < rule.cooldown_s:
            continue
        fired.append(_fire(ws, dep, rule, mon, value, window, now, snapshots[key]))
    return fired


def _fire(
    ws: Workspace,
    dep: Deployment,
    rule: AlertSpec,
    mon: MonitoringSpec,
    value: float,
    window: WindowSpec,
    now: datetime,
    snap: dict[str, Any],
) -> dict[str, Any]:
    alert: dict[str, Any] = {
        "deployment": dep.name,
        "rule": rule.name,
        "figure": rule.figure,
        "value": value,
        "op": rule.op,
        "threshold": rule.threshold,
        "severity": rule.severity,
        "at": now,
        "detail": {"window": window.model_dump(), "model": snap.get("version")},
    }
    alert_id = ws.store.alerts.add(alert)
    payload = {**alert, "id": alert_id, "at": now.isoformat()}
    deliveries = [deliver(s, mon.sinks.get(s), payload) for s in rule.sinks]
    detail: dict[str, Any] = {**alert["detail"], "deliveries": deliveries}
    if rule.event:
        from podium.pipelines.schedules import emit_event

        emit_event(ws, rule.event, {"deployment": dep.name, "rule": rule.name, "value": value})
        detail["event"] = rule.event
    ws.store.alerts.set_detail(alert_id, detail)
    return {**payload, "detail": detail, "retrain": rule.retrain}
