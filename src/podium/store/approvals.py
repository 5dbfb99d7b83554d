"""Approval policies and approval requests (G2), every change audited.

A request is made when a guarded move lacks an approval, and ends in one of: ``applied``
(approved, then done), ``rejected``, or ``superseded`` (its target moved otherwise). The
move that applies an approved request calls :func:`settle` in its own transaction, so the
move and the request's ``applied`` are one commit, or neither is.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, insert, select, text, update

from podium.core.clock import new_id, utcnow
from podium.core.context import current_actor
from podium.core.errors import ConflictError, NotFoundError, ValidationError
from podium.core.records import ApprovalRequest, Policy
from podium.store import schema as t
from podium.store.audit import append as audit
from podium.store.base import Database

P = t.policies
R = t.approval_requests
STATUSES = ("pending", "approved", "rejected", "applied", "superseded")
OPEN = ("pending", "approved")


class ApprovalRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- policies --------------------------------------------------------------------------
    def put_policy(self, kind: str, name: str, rules: dict[str, Any]) -> Policy:
        """Create or replace the policy of ``kind`` ``name`` (rules already checked)."""
        now, actor = utcnow(), current_actor()
        with self.db.write() as conn:
            row = conn.execute(
                select(P).where(P.c.kind == kind, P.c.name == name).with_for_update()
            ).first()
            if row is None:
                conn.execute(
                    insert(P).values(
                        kind=kind,
                        name=name,
                        rules=rules,
                        created_at=now,
                        created_by=actor,
                        updated_at=now,
                        updated_by=actor,
                    )
                )
            else:
                conn.execute(
                    update(P)
                    .where(P.c.kind == kind, P.c.name == name)
                    .values(rules=rules, updated_at=now, updated_by=actor)
                )
            audit(
                conn, "policy.set", _target(kind, name), None if row is None else row.rules, rules
            )
            return self._policy(conn, kind, name)

    def policy(self, kind: str, name: str) -> Policy | None:
        with self.db.read() as conn:
            row = conn.execute(select(P).where(P.c.kind == kind, P.c.name == name)).first()
            return None if row is None else _policy(row)

    def get_policy(self, kind: str, name: str) -> Policy:
        with self.db.read() as conn:
            return self._policy(conn, kind, name)

    def policies(self) -> list[Policy]:
        with self.db.read() as conn:
            return [_policy(r) for r in conn.execute(select(P).order_by(P.c.kind, P.c.name))]

    def delete_policy(self, kind: str, name: str) -> None:
        with self.db.write() as conn:
            before = self._policy(conn, kind, name)
            conn.execute(delete(P).where(P.c.kind == kind, P.c.name == name))
            audit(conn, "policy.delete", _target(kind, name), _rules(before), None)

    def _policy(self, conn: Connection, kind: str, name: str) -> Policy:
        row = conn.execute(select(P).where(P.c.kind == kind, P.c.name == name)).first()
        if row is None:
            have = [
                f"{r.kind} {r.name}" for r in conn.execute(select(P.c.kind, P.c.name).limit(10))
            ]
            known = f" Known policies: {', '.join(have)}." if have else " There is no policy yet."
            raise NotFoundError(
                f"There is no policy for {kind} {name!r}.{known}",
                hint="List them with `podium policies list`.",
            )
        return _policy(row)

    # -- requests --------------------------------------------------------------------------
    def request(
        self, action: str, target: str, payload: dict[str, Any], approver_role: str | None
    ) -> tuple[ApprovalRequest, bool]:
        """The pending request for exactly this move, made now if there is none; and
        whether it was made now."""
        with self.db.write() as conn:
            _lock_target(conn, target)
            found = _matching(conn, action, target, payload, ("pending",))
            if found is not None:
                return found, False
            rid = new_id()
            conn.execute(
                insert(R).values(
                    id=rid,
                    action=action,
                    target=target,
                    payload=payload,
                    approver_role=approver_role,
                    requested_by=current_actor(),
                    requested_at=utcnow(),
                    status="pending",
                    reason="",
                )
            )
            made = _get(conn, rid)
            what = {"action": action, "payload": payload, "approver_role": approver_role}
            audit(conn, "approval.request", target, None, {"id": rid, **what})
            return made, True

    def approved_for(
        self, action: str, target: str, payload: dict[str, Any]
    ) -> ApprovalRequest | None:
        """An approved, not yet applied, request for exactly this move."""
        with self.db.read() as conn:
            return _matching(conn, action, target, payload, ("approved",))

    def get(self, request_id: str) -> ApprovalRequest:
        with self.db.read() as conn:
            return _get(conn, request_id)

    def list(
        self, *, status: str | None = None, target: str | None = None, limit: int = 100
    ) -> list[ApprovalRequest]:
        """Requests, newest first."""
        if status is not None and status not in STATUSES:
            raise ValidationError(
                f"Unknown request status {status!r}; expected one of {', '.join(STATUSES)}.",
                field="status",
            )
        q = select(R).order_by(R.c.id.desc()).limit(limit)
        if status is not None:
            q = q.where(R.c.status == status)
        if target is not None:
            q = q.where(R.c.target == target)
        with self.db.read() as conn:
            return [_request(r) for r in conn.execute(q)]

    def decide(self, request_id: str, status: str, reason: str = "") -> ApprovalRequest:
        """Approve or reject a pending request (an approved one may not be rejected: it is
        being applied)."""
        with self.db.write() as conn:
            before = _get(conn, request_id, lock=True)
            if before.status != "pending":
                raise closed(before)
            conn.execute(
                update(R)
                .where(R.c.id == request_id)
                .values(
                    status=status, decided_by=current_actor(), decided_at=utcnow(), reason=reason
                )
            )
            after = _get(conn, request_id)
            verb = "approve" if status == "approved" else "reject"
            audit(
                conn,
                f"approval.{verb}",
                after.target,
                {"id": request_id, "status": before.status},
                {"id": request_id, "status": status, "reason": reason},
            )
            return after


def settle(conn: Connection, request_id: str, target: str) -> None:
    """Inside the move's transaction: mark the approved request ``applied``, or refuse the
    move (roll it back) when the request is no longer approved."""
    req = _get(conn, request_id, lock=True)
    if req.status != "approved" or req.target != target:
        raise closed(req)
    conn.execute(update(R).where(R.c.id == request_id).values(status="applied"))
    audit(
        conn,
        "approval.apply",
        target,
        {"id": request_id, "status": "approved"},
        {"id": request_id, "status": "applied"},
    )


def supersede(conn: Connection, target: str, why: str) -> None:
    """Inside a move of ``target``: its open requests ask for something that no longer
    applies; close them as ``superseded``."""
    rows = list(
        conn.execute(select(R.c.id, R.c.status).where(R.c.target == target, R.c.status.in_(OPEN)))
    )
    for row in rows:
        conn.execute(update(R).where(R.c.id == row.id).values(status="superseded", reason=why))
        audit(
            conn,
            "approval.supersede",
            target,
            {"id": row.id, "status": row.status},
            {"id": row.id, "status": "superseded", "reason": why},
        )


def _lock_target(conn: Connection, target: str) -> None:
    """Serialise request making per target (SQLite's ``BEGIN IMMEDIATE`` already does)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:t))"), {"t": target})


def _matching(
    conn: Connection,
    action: str,
    target: str,
    payload: dict[str, Any],
    statuses: tuple[str, ...],
) -> ApprovalRequest | None:
    rows = conn.execute(
        select(R)
        .where(R.c.action == action, R.c.target == target, R.c.status.in_(statuses))
        .order_by(R.c.id)
    )
    return next((_request(r) for r in rows if r.payload == payload), None)


def _get(conn: Connection, request_id: str, *, lock: bool = False) -> ApprovalRequest:
    q = select(R).where(R.c.id == request_id)
    row = conn.execute(q.with_for_update() if lock else q).first()
    if row is None:
        raise NotFoundError(
            f"Approval request {request_id!r} not found.",
            hint="List pending ones with `podium approvals list --status pending`.",
        )
    return _request(row)


def closed(req: ApprovalRequest) -> ConflictError:
    """The error for deciding a request that is no longer pending: what became of it."""
    by = f" by {req.decided_by}" if req.decided_by else ""
    why = f": {req.reason}" if req.reason else ""
    return ConflictError(
        f"Approval request {req.id} is {req.status}{by}{why}; only a pending request can be "
        "decided.",
        hint="Try the move again: a new request is made if it still needs an approval.",
    )


def _target(kind: str, name: str) -> str:
    return f"policies:/{kind}/{name}"


def _rules(p: Policy) -> dict[str, Any]:
    return {
        "protected_aliases": list(p.protected_aliases),
        "approver_role": p.approver_role,
        "gates": list(p.gates),
        "allow_self_approval": p.allow_self_approval,
    }


def _policy(row: Any) -> Policy:
    rules = row.rules
    return Policy(
        kind=row.kind,
        name=row.name,
        protected_aliases=tuple(rules.get("protected_aliases") or ()),
        approver_role=rules.get("approver_role"),
        gates=tuple(rules.get("gates") or ()),
        allow_self_approval=bool(rules.get("allow_self_approval")),
        created_at=row.created_at,
        created_by=row.created_by,
        updated_at=row.updated_at,
        updated_by=row.updated_by,
    )


def _request(row: Any) -> ApprovalRequest:
    return ApprovalRequest(
        id=row.id,
        action=row.action,
        target=row.target,
        payload=row.payload,
        approver_role=row.approver_role,
        requested_by=row.requested_by,
        requested_at=row.requested_at,
        status=row.status,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        reason=row.reason,
    )
