"""Enforcing approval policies (G2): gates first, then an approval when the policy wants one.

A guarded move calls :func:`require` with the policy's gate failures. It returns None (no
approval needed), or the id of the approved request for exactly this move (the store marks
it applied with the move); otherwise it raises :class:`PromotionRefusedError` naming the
failed gates, or :class:`ApprovalRequiredError` naming the pending request to approve.
"""

from __future__ import annotations

from typing import Any

from podium.core.errors import ApprovalRequiredError, PromotionRefusedError
from podium.core.policy import metric_gates
from podium.core.records import Policy
from podium.store import MetadataStore


def require(
    store: MetadataStore,
    policy: Policy,
    *,
    action: str,
    target: str,
    payload: dict[str, Any],
    failures: list[str],
    doing: str,
) -> str | None:
    """Check a move against ``policy``; see the module docstring. ``doing`` describes the
    move for messages: "Moving models:/churn@champion to version 3"."""
    check_gates(policy, target, failures, doing)
    if policy.approver_role is None:
        return None
    approved = store.approvals.approved_for(action, target, payload)
    if approved is not None:
        return approved.id
    req, created = store.approvals.request(action, target, payload, policy.approver_role)
    four_eyes = "" if policy.allow_self_approval else f" other than {req.requested_by}"
    missing = f"an approval by someone with the {policy.approver_role} role{four_eyes}"
    raise ApprovalRequiredError(
        f"{doing} needs {missing} ({_owner(policy)}): request {req.id} is pending.",
        target=target,
        missing=[missing],
        request_id=req.id,
        approver_role=policy.approver_role,
        created=created,
        hint=f"`podium approve {req.id}`, by someone with the {policy.approver_role} role.",
    )


def check_gates(policy: Policy, target: str, failures: list[str], doing: str) -> None:
    """Refuse the move when a gate failed, naming each failed gate with its figure."""
    if not failures:
        return
    also = (
        f" It would also need an approval by {policy.approver_role}."
        if policy.approver_role
        else ""
    )
    raise PromotionRefusedError(
        f"{doing} is refused by {_owner(policy)}: " + "; ".join(failures) + "." + also,
        target=target,
        missing=failures,
        hint=f"See the policy with `podium policies show {policy.kind} {policy.name}`.",
    )


def _owner(policy: Policy) -> str:
    return f"the policy of {policy.kind} {policy.name!r}"


def alias_policy(store: MetadataStore, name: str, alias: str) -> Policy | None:
    """The policy of model ``name`` when it protects ``alias``, else None."""
    policy = store.approvals.policy("model", name)
    return policy if policy is not None and alias in policy.protected_aliases else None


def metric_failures(policy: Policy, metrics: dict[str, Any], where: str) -> list[str]:
    """The policy's metric gates that ``metrics`` (of ``where``, a version) fail."""
    out = [g.failure(metrics, where) for g in metric_gates(policy.gates)]
    return [f for f in out if f is not None]


def guard_alias(store: MetadataStore, name: str, alias: str, version: int | None) -> str | None:
    """Check moving ``name@alias`` to ``version`` (None: deleting it) against the model's
    policy; returns the approved request the move carries out, if any."""
    policy = alias_policy(store, name, alias)
    if policy is None:
        return None
    target = f"models:/{name}@{alias}"
    if version is None:
        failures = []
        if policy.approver_role is None:
            failures = [
                "its gates judge a version, and a deletion has none: the policy names no "
                "approver who could allow it"
            ]
        return require(
            store,
            policy,
            action="alias.delete",
            target=target,
            payload={},
            failures=failures,
            doing=f"Deleting {target}",
        )
    mv = store.models.get_version(name, version)
    return require(
        store,
        policy,
        action="alias.set",
        target=target,
        payload={"version": version},
        failures=metric_failures(policy, mv.metrics, mv.uri),
        doing=f"Moving {target} to version {version}",
    )
