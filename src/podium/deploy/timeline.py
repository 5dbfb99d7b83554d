"""A deployment over time, for the dashboard: traffic split, latency and errors per time
bucket from the prediction log, the split the store asks for now, and the rollout's
progress (the canary's step, its gates with their figures, the decisions so far)."""

from __future__ import annotations

from typing import Any

import numpy as np

from podium.core.records import Deployment
from podium.deploy.controller import verdict
from podium.monitoring import performance
from podium.workspace import Workspace

DECISIONS = ("advance", "promote", "rollback", "pause", "decision")


def timeline(ws: Workspace, name: str, *, buckets: int = 30, rows: int = 5_000) -> dict[str, Any]:
    """The newest ``rows`` logged predictions of ``name`` cut into ``buckets`` equal spans of
    time: per bucket, requests and share per variant (shadows apart), errors, error rate and
    latency percentiles; and the split the deployment's state asks for now."""
    dep = ws.store.deployments.get(name)
    log = ws.store.predictions.recent(name, limit=rows, inputs=False)
    log.reverse()
    live = [r for r in log if "shadow_of" not in (r["outputs"] or {})]
    variants = list(dep.spec["variants"])
    out: dict[str, Any] = {
        "deployment": name,
        "strategy": dep.spec["strategy"],
        "variants": variants,
        "desired": desired_split(dep),
        "requests": len(live),
        "buckets": [],
    }
    if not live:
        return out
    times = np.array([r["at"].timestamp() for r in live])
    lo, hi = float(times[0]), float(times[-1])
    n = max(1, min(buckets, len(live)))
    width = (hi - lo) / n or 1.0
    index = np.minimum(((times - lo) / width).astype(int), n - 1)
    for b in range(n):
        part = [live[i] for i in np.flatnonzero(index == b)]
        counts = dict.fromkeys(variants, 0)
        for r in part:
            counts[r["variant"]] = counts.get(r["variant"], 0) + 1
        ok = [r["latency_ms"] for r in part if "error" not in r["outputs"]]
        errors = len(part) - len(ok)
        total = len(part)
        start = lo + b * width
        out["buckets"].append(
            {
                "from": _iso(part[0]["at"]) if part else None,
                "start": start,
                "end": start + width,
                "requests": total,
                "variants": counts,
                "shares": {v: c / total for v, c in counts.items()} if total else {},
                "errors": errors,
                "error_rate": errors / total if total else None,
                **performance.percentiles(ok),
            }
        )
    return out


def desired_split(dep: Deployment) -> dict[str, float] | None:
    """The share of traffic (percent) each variant should get now, as the state says; None
    for strategies that route by request (flags, rolling) rather than by share."""
    spec, state = dep.spec, dep.state
    strategy = spec["strategy"]
    variants = list(spec["variants"])
    if strategy == "canary":
        c = spec["canary"]
        percent = float(state.get("percent", c["steps"][0]))
        return {c["stable"]: 100.0 - percent, c["candidate"]: percent}
    if strategy == "ab":
        weights = state.get("weights") or spec["ab"]["weights"]
        total = sum(weights.values()) or 1.0
        return {v: 100.0 * float(weights.get(v, 0)) / total for v in variants}
    if strategy == "bluegreen":
        live = state.get("live") or spec["bluegreen"]["live"]
        return {v: 100.0 if v == live else 0.0 for v in variants}
    if strategy == "shadow":
        primary = spec["shadow"]["primary"]
        return {v: 100.0 if v == primary else 0.0 for v in variants}
    if len(variants) == 1:
        return {variants[0]: 100.0}
    return None


def rollout(ws: Workspace, name: str, *, limit: int = 50) -> dict[str, Any]:
    """Where the rollout of ``name`` stands: the canary's steps, current step and status, the
    analysis now (each gate with its figure, limit and verdict; the decision it would take)
    and the decisions taken so far, newest first."""
    dep = ws.store.deployments.get(name)
    spec, state = dep.spec, dep.state
    out: dict[str, Any] = {
        "deployment": name,
        "strategy": spec["strategy"],
        "status": dep.status,
        "state": state,
    }
    if spec["strategy"] == "canary":
        c = spec["canary"]
        decision = verdict(ws, dep)
        out["canary"] = {
            "steps": c["steps"],
            "step": int(state.get("step", 0)),
            "percent": state.get("percent"),
            "status": state.get("status"),
            "since": state.get("since"),
            "stable": c["stable"],
            "candidate": c["candidate"],
            "min_requests": c["min_requests"],
            "min_duration_s": c["min_duration_s"],
            "gates": c.get("gates", {}),
            "analysis": decision.to_dict() if decision is not None else None,
        }
    events = ws.store.deployments.history(name, limit=limit)
    out["decisions"] = [
        {"at": _iso(e.at), "kind": e.kind, "actor": e.actor, **e.detail.get("decision", {})}
        for e in events
        if "decision" in e.detail
    ]
    return out


def _iso(at: Any) -> str:
    return str(at.isoformat())
