"""Approvals (G2) of promotions: deployment policies, and approving or rejecting requests.

A deployment's policy guards :func:`podium.deploy.promote` and the controller's automatic
promotion of a canary. Its gates: ``canary`` (the canary analysis passes now) and metric
gates (``accuracy>=0.9``) on the version the promotion brings in: the canary's candidate,
or blue-green's idle colour.

:func:`approve` carries out the move a request asks for, once the approver's role, the
four-eyes rule and the gates allow it; the move and the request's ``applied`` are one
transaction, audited with the request's id.
"""

from __future__ import annotations

from podium.core.context import current_actor
from podium.core.errors import ConflictError, PermissionDeniedError
from podium.core.names import ModelRef
from podium.core.policy import CANARY_GATE, metric_gates, require_role
from podium.core.records import ApprovalRequest, Deployment, Policy
from podium.deploy.controller import verdict
from podium.registry import Registry
from podium.registry.approvals import check_gates, metric_failures, require
from podium.rollout import Decision
from podium.rollout import state as rollout_state
from podium.store.approvals import closed
from podium.workspace import Workspace

PROMOTE = "deployment.promote"


def guard_promotion(ws: Workspace, dep: Deployment, decision: Decision | None = None) -> str | None:
    """Check promoting ``dep`` against its policy; the approved request it carries out, if
    any. ``decision``: the controller's "promote" verdict (the canary gate has passed)."""
    policy = ws.store.approvals.policy("deployment", dep.name)
    if policy is None:
        return None
    return require(
        ws.store,
        policy,
        action=PROMOTE,
        target=f"deployments:/{dep.name}",
        payload={"revision": dep.revision},
        failures=promotion_failures(ws, dep, policy, decision),
        doing=f"Promoting deployment {dep.name!r} (revision {dep.revision})",
    )


def promotion_failures(
    ws: Workspace, dep: Deployment, policy: Policy, decision: Decision | None = None
) -> list[str]:
    """The gates of ``policy`` that promoting ``dep`` now fails, each with its figure."""
    failures = []
    if CANARY_GATE in policy.gates:
        failures += _canary_failures(ws, dep, decision)
    if metric_gates(policy.gates):
        variant = incoming_variant(dep)
        if variant is None:
            failures.append(
                f"metric gates judge the version a promotion brings in, and a "
                f"{dep.spec['strategy']!r} deployment promotes none"
            )
        else:
            mv = Registry(ws.store, ws.artifacts).get(dep.spec["variants"][variant]["model"])
            failures += metric_failures(policy, mv.metrics, f"{mv.uri} (variant {variant!r})")
    return failures


def incoming_variant(dep: Deployment) -> str | None:
    """The variant a promotion gives all traffic: the canary's candidate, the idle colour."""
    strategy = dep.spec["strategy"]
    if strategy == "canary":
        return str(dep.spec["canary"]["candidate"])
    if strategy == "bluegreen":
        pair = dep.spec["bluegreen"]
        live = dep.state.get("live", pair["live"])
        return str(pair["idle"] if live == pair["live"] else pair["live"])
    return None


def _canary_failures(ws: Workspace, dep: Deployment, decision: Decision | None) -> list[str]:
    if decision is not None and decision.action == "promote":
        return []
    if dep.spec["strategy"] != "canary":
        return [f"gate canary: deployment {dep.name!r} is {dep.spec['strategy']}, not a canary"]
    found = verdict(ws, dep)
    if found is None:
        status = dep.state.get("status") if dep.status == "active" else dep.status
        return [f"gate canary: no canary analysis is running (the rollout is {status})"]
    passed = bool(found.gates) and all(g.passed for g in found.gates)
    if passed and found.action not in ("rollback", "pause"):
        return []
    return [f"gate canary failed at {found.percent:g}%: {found.reason}"]


# -- approving and rejecting -----------------------------------------------------------------
def approve(ws: Workspace, request_id: str) -> ApprovalRequest:
    """Approve request ``request_id`` and carry out the move it asks for.

    The caller needs the policy's approver role (see :func:`podium.core.policy.caller_role`)
    and, unless the policy allows self-approval, must not be who made the request. The
    gates are checked again: figures may have changed since the request was made.
    """
    req = ws.store.approvals.get(request_id)
    if req.status not in ("pending", "approved"):
        raise closed(req)
    policy = _policy_of(ws, req)
    role = (policy.approver_role if policy else None) or req.approver_role or "admin"
    require_role(role, f"Approving request {req.id}")
    self_ok = policy.allow_self_approval if policy else False
    if not self_ok and current_actor() == req.requested_by:
        raise PermissionDeniedError(
            f"{req.requested_by} made request {req.id} and cannot approve it too: its policy "
            "wants a second person (four eyes).",
            required_role=role,
            hint=f"Ask another person with the {role} role to run `podium approve {req.id}`.",
        )
    if policy is not None:
        check_gates(policy, req.target, _failures(ws, req, policy), f"Approving request {req.id}")
    if req.status == "pending":
        req = ws.store.approvals.decide(req.id, "approved")
    _carry_out(ws, req)
    return ws.store.approvals.get(req.id)


def reject(ws: Workspace, request_id: str, reason: str = "") -> ApprovalRequest:
    """Reject request ``request_id``: its requester may withdraw it, an approver refuse it."""
    req = ws.store.approvals.get(request_id)
    if current_actor() != req.requested_by:
        policy = _policy_of(ws, req)
        role = (policy.approver_role if policy else None) or req.approver_role or "admin"
        require_role(role, f"Rejecting request {req.id}")
    return ws.store.approvals.decide(req.id, "rejected", reason)


def _policy_of(ws: Workspace, req: ApprovalRequest) -> Policy | None:
    kind, name = _owner(req)
    return ws.store.approvals.policy(kind, name)


def _owner(req: ApprovalRequest) -> tuple[str, str]:
    if req.target.startswith("deployments:/"):
        return "deployment", req.target.removeprefix("deployments:/")
    return "model", ModelRef.parse(req.target).name


def _failures(ws: Workspace, req: ApprovalRequest, policy: Policy) -> list[str]:
    if req.action == PROMOTE:
        return promotion_failures(ws, _deployment_at(ws, req), policy)
    if req.action == "alias.set":
        mv = ws.store.models.get_version(_owner(req)[1], int(req.payload["version"]))
        return metric_failures(policy, mv.metrics, mv.uri)
    return []  # deleting an alias: there is no version to judge


def _deployment_at(ws: Workspace, req: ApprovalRequest) -> Deployment:
    dep = ws.store.deployments.get(_owner(req)[1])
    if dep.revision != req.payload.get("revision"):
        raise ConflictError(
            f"Request {req.id} promotes revision {req.payload.get('revision')} of "
            f"{dep.name!r}, which is at revision {dep.revision} now.",
            hint="Promote the current revision instead: a new request is made if needed.",
        )
    return dep


def _carry_out(ws: Workspace, req: ApprovalRequest) -> None:
    """The move, marked as carrying out ``req`` (the store applies both at once)."""
    if req.action == PROMOTE:
        dep = _deployment_at(ws, req)
        ws.store.deployments.transition(
            dep.name, "promoted", rollout_state.promote, approval=req.id
        )
        return
    ref = ModelRef.parse(req.target)
    if ref.alias is None:
        raise ConflictError(f"Request {req.id} names no alias: {req.target!r}.")
    if req.action == "alias.set":
        ws.store.models.set_alias(ref.name, ref.alias, int(req.payload["version"]), approval=req.id)
    elif req.action == "alias.delete":
        ws.store.models.delete_alias(ref.name, ref.alias, approval=req.id)
    else:
        raise ConflictError(f"Request {req.id} asks for {req.action!r}, which podium cannot do.")
