"""The control-plane loop: analyse each canary from the prediction log and act on it.

Every decision other than "wait" becomes a state transition (servers follow it within a
second), a history event with the gate figures, and an audit record.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import replace
from datetime import datetime
from typing import Any

from podium.core.clock import utcnow
from podium.core.errors import ApprovalRequiredError, PodiumError, PromotionRefusedError
from podium.core.records import Deployment
from podium.rollout import Canary, Decision, Gates, VariantStats, analyze
from podium.rollout import state as rollout_state
from podium.workspace import Workspace

log = logging.getLogger("podium.controller")


def figures(rows: list[dict[str, Any]]) -> dict[str, VariantStats]:
    """Per-variant requests, errors, latencies, predictions and feedback from the log."""
    out: dict[str, VariantStats] = {}
    for r in rows:
        outputs = r["outputs"]
        if "shadow_of" in outputs:  # a mirrored request: it answered nobody
            continue
        s = out.setdefault(r["variant"], VariantStats())
        s.requests += 1
        if "error" in outputs:
            s.errors += 1
            continue
        s.latencies_ms.append(r["latency_ms"])
        preds = outputs.get("predictions") or []
        s.predictions.extend(preds)
        fb = r.get("feedback")
        if fb:
            if fb.get("reward") is not None:
                s.feedback.append(float(fb["reward"]))
            elif fb.get("label") is not None and preds:
                s.feedback.append(float(preds[0] == fb["label"]))
    return out


def canary_step(ws: Workspace, name: str, now: datetime | None = None) -> Decision | None:
    """Analyse one canary deployment and apply the decision; None when it is not running.

    A promotion goes through the deployment's approval policy: while it waits for an
    approval the decision is "wait" (the canary stays analysed, and a failing gate still
    rolls it back); a policy gate that fails pauses the rollout.
    """
    now = now or utcnow()
    dep = ws.store.deployments.get(name)
    decision = verdict(ws, dep, now)
    if decision is None or decision.action == "wait":
        return decision
    approval = None
    if decision.action == "promote":
        decision, approval = _through_policy(ws, dep, decision)
        if decision.action == "wait":
            return decision
    stamp = now.isoformat()
    ws.store.deployments.transition(
        name,
        decision.action,
        lambda spec, st: rollout_state.decide(
            spec, st, decision.action, decision.step, decision.percent, stamp
        ),
        {"decision": decision.to_dict()},
        approval=approval,
    )
    log.info("Canary %s: %s (%s)", name, decision.action, decision.reason)
    return decision


def _through_policy(
    ws: Workspace, dep: Deployment, decision: Decision
) -> tuple[Decision, str | None]:
    """The promote decision as the deployment's policy allows it, and the approved request
    it carries out, if any."""
    from podium.deploy.approvals import guard_promotion  # it analyses canaries with verdict()

    try:
        return decision, guard_promotion(ws, dep, decision)
    except ApprovalRequiredError as exc:
        if exc.created:
            ws.store.deployments.record(
                dep.name,
                "approval_requested",
                {"request": exc.request_id, "decision": decision.to_dict()},
            )
        return replace(decision, action="wait", reason=f"every gate passed; {exc.message}"), None
    except PromotionRefusedError as exc:
        return replace(decision, action="pause", reason=exc.message), None


def verdict(ws: Workspace, dep: Deployment, now: datetime | None = None) -> Decision | None:
    """The canary analysis of ``dep`` now, without acting on it; None when no canary of it
    is progressing."""
    now = now or utcnow()
    if dep.spec["strategy"] != "canary" or dep.status != "active":
        return None
    state = dep.state
    if state.get("status") != "progressing":
        return None
    c = dep.spec["canary"]
    canary = Canary(
        steps=tuple(c["steps"]),
        min_duration_s=c["min_duration_s"],
        min_requests=c["min_requests"],
        max_wait_s=c["max_wait_s"],
        gates=Gates(**c["gates"]),
    )
    since = datetime.fromisoformat(state["since"]) if state.get("since") else dep.updated_at
    stats = figures(ws.store.predictions.recent(dep.name, since=since, inputs=False))
    return analyze(
        canary,
        int(state["step"]),
        (now - since).total_seconds(),
        stats.get(c["candidate"], VariantStats()),
        stats.get(c["stable"], VariantStats()),
    )


def tick(ws: Workspace) -> dict[str, Decision]:
    out = {}
    for dep in ws.store.deployments.all():
        decision = canary_step(ws, dep.name)
        if decision is not None:
            out[dep.name] = decision
    return out


class Controller:
    """Runs :func:`tick` every ``interval`` seconds until :attr:`stop` is set."""

    def __init__(self, ws: Workspace, interval: float = 5.0) -> None:
        self.ws = ws
        self.interval = interval
        self.stop = threading.Event()

    def serve_forever(self) -> None:
        while not self.stop.is_set():
            try:
                tick(self.ws)
            except PodiumError as exc:
                log.error("Controller tick failed: %s", exc)
            self.stop.wait(self.interval)
