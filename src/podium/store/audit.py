"""The append-only audit log: one record per mutation, written in the mutation's transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from podium.core.clock import utcnow
from podium.core.context import current_actor, request_id_var
from podium.core.records import AuditRecord, _jsonable
from podium.store import schema as t
from podium.store.base import Database


def append(conn: Connection, action: str, target: str, before: Any, after: Any) -> None:
    """Append one audit record inside the caller's transaction."""
    conn.execute(
        insert(t.audit_log).values(
            at=utcnow(),
            actor=current_actor(),
            action=action,
            target=target,
            before=_jsonable(before),
            after=_jsonable(after),
            request_id=request_id_var.get(),
        )
    )


class AuditRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    def list(
        self,
        *,
        target: str | None = None,
        target_prefix: str | None = None,
        actor: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[AuditRecord]:
        q = select(t.audit_log).order_by(t.audit_log.c.id.desc()).limit(limit).offset(offset)
        if target:
            q = q.where(t.audit_log.c.target == target)
        if target_prefix:
            q = q.where(t.audit_log.c.target.startswith(target_prefix, autoescape=True))
        if actor:
            q = q.where(t.audit_log.c.actor == actor)
        if action:
            q = q.where(t.audit_log.c.action == action)
        if since:
            q = q.where(t.audit_log.c.at >= since)
        with self.db.read() as conn:
            return [AuditRecord(**row._asdict()) for row in conn.execute(q)]
