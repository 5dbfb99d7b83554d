"""Approval policies (G2) as values: what a promotion must pass and who must approve it.

A policy belongs to a model (it protects some of its aliases, e.g. ``champion``) or to a
deployment (it guards its promotion). Its rules:

- ``gates``: checks that must pass first. ``METRIC OP NUMBER`` (``accuracy>=0.9``) reads the
  model version being promoted; ``canary`` (deployments only) needs the canary analysis of
  the rollout to pass.
- ``approver_role``: when set, someone with at least this role must approve the exact move
  (``podium approve REQUEST_ID``); without it, passing the gates is enough.
- ``allow_self_approval``: whether the requester may approve their own request (default
  no: four eyes).

Pure functions only; the store keeps policies and requests, :mod:`podium.registry.approvals`
enforces them.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from podium.core.context import role_var
from podium.core.errors import PermissionDeniedError, ValidationError
from podium.core.names import check_name
from podium.core.tokens import Role

KINDS = ("model", "deployment")
CANARY_GATE = "canary"

OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
}
_NUMBER = r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?"
# A threshold: ">= 0.9", "< 3.5" (also used by the pipelines' check_metrics gate).
COMPARISON = re.compile(rf"\s*(>=|<=|==|>|<)\s*({_NUMBER})\s*", re.ASCII)
_METRIC_GATE = re.compile(rf"\s*([A-Za-z_][\w.\-/]*)\s*(>=|<=|==|>|<)\s*({_NUMBER})\s*", re.ASCII)
_GATE_HINT = (
    "Write a gate as METRIC OP NUMBER, e.g. 'accuracy>=0.9' or 'log_loss<0.3' "
    "(OP: >=, >, <=, <, ==); deployments may also use 'canary'."
)


@dataclass(frozen=True)
class MetricGate:
    """``metric OP bound`` on a model version's recorded metrics."""

    text: str
    metric: str
    op: str
    bound: float

    def failure(self, metrics: Mapping[str, Any], where: str) -> str | None:
        """None when it passes, else a sentence with the figure (``where`` names the version)."""
        if self.metric not in metrics:
            have = ", ".join(sorted(metrics)) or "none"
            return f"gate {self.text}: {where} has no metric {self.metric!r} (it has: {have})"
        value = float(metrics[self.metric])
        if OPS[self.op](value, self.bound):
            return None
        return f"gate {self.text} failed: {self.metric} of {where} is {value:.6g}"


def parse_gate(text: Any, kind: str) -> MetricGate | str:
    """A metric gate, or ``"canary"`` for a deployment; a clear error naming a bad one."""
    if not isinstance(text, str):
        raise ValidationError(f"Gate {text!r} is not text.", field="gates", hint=_GATE_HINT)
    if text.strip() == CANARY_GATE:
        if kind != "deployment":
            raise ValidationError(
                "Gate 'canary' applies to deployments only: a model version has no canary.",
                field="gates",
                hint="Use a metric gate such as 'accuracy>=0.9' on a model policy.",
            )
        return CANARY_GATE
    m = _METRIC_GATE.fullmatch(text)
    bound = float(m.group(3)) if m else math.nan
    if m is None or not math.isfinite(bound):
        raise ValidationError(
            f"Gate {text!r} is not a gate: expected METRIC OP NUMBER or 'canary'.",
            field="gates",
            hint=_GATE_HINT,
        )
    metric, op, number = m.groups()
    return MetricGate(f"{metric}{op}{number}", metric, op, bound)


def check_kind(kind: Any) -> str:
    if kind not in KINDS:
        raise ValidationError(
            f"Unknown policy kind {kind!r}; expected model or deployment.",
            field="kind",
            hint="E.g. `podium policies set model churn --protect champion --approver admin`.",
        )
    return str(kind)


def check_rules(
    kind: str,
    name: str,
    *,
    protected_aliases: Iterable[str] | None,
    approver_role: str | None,
    gates: Iterable[str] | None,
    allow_self_approval: bool,
) -> dict[str, Any]:
    """The rules of a policy, checked and in their stored form."""
    check_kind(kind)
    check_name(name, f"{kind} name")
    if isinstance(protected_aliases, str):  # one alias given as it is, not as a list
        protected_aliases = [protected_aliases]
    if isinstance(gates, str):
        gates = [gates]
    aliases = sorted(set(protected_aliases or ()))
    for alias in aliases:
        check_name(alias, "alias")
    if kind == "model" and not aliases:
        raise ValidationError(
            f"A model policy protects at least one alias; model {name!r} got none.",
            field="protected_aliases",
            hint=f"E.g. `podium policies set model {name} --protect champion --approver admin`.",
        )
    if kind == "deployment" and aliases:
        raise ValidationError(
            "protected_aliases belong to a model policy; a deployment policy guards promotion.",
            field="protected_aliases",
            hint="Set them on the model: `podium policies set model NAME --protect champion`.",
        )
    role = Role.parse(approver_role).label if approver_role else None
    parsed = [parse_gate(g, kind) for g in gates or ()]
    texts = list(dict.fromkeys(g if isinstance(g, str) else g.text for g in parsed))
    if role is None and not texts:
        raise ValidationError(
            f"The policy of {kind} {name!r} needs an approver role, gates, or both.",
            field="approver_role",
            hint="Add --approver ROLE (viewer, predictor, operator, admin) and/or --gate.",
        )
    return {
        "protected_aliases": aliases,
        "approver_role": role,
        "gates": texts,
        "allow_self_approval": bool(allow_self_approval),
    }


def metric_gates(gates: Iterable[str]) -> list[MetricGate]:
    return [g for g in (parse_gate(t, "deployment") for t in gates) if isinstance(g, MetricGate)]


def caller_role() -> Role:
    """The caller's role: the one the control API set from its token (:data:`role_var`).

    No role means a caller with direct access to the store (the CLI, Python, a pipeline):
    whoever holds the store holds the keys, so it counts as admin. Approvals still need a
    request, and four eyes still apply: the actor is known either way.
    """
    role = role_var.get()
    return Role.ADMIN if role is None else Role.parse(role)


def require_role(needed: str | Role, doing: str) -> None:
    """Refuse (HTTP 403) a caller whose role is below ``needed``."""
    want = Role.parse(needed)
    have = caller_role()
    if have < want:
        raise PermissionDeniedError(
            f"{doing} needs the {want.label} role; your token has {have.label}.",
            required_role=want.label,
            hint=f"Ask someone with a {want.label} (or higher) token.",
        )
