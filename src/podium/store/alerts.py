"""Fired alerts (for cooldowns and history) and the state of retraining loops."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update

from podium.core.clock import utcnow
from podium.store import schema as t
from podium.store.audit import append as audit
from podium.store.base import Database

A = t.alerts
L = t.retrain_loops


class AlertRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, alert: dict[str, Any]) -> int:
        """Record a fired alert (deployment, rule, figure, value, op, threshold, severity,
        at, detail) and audit it."""
        with self.db.write() as conn:
            new_id = conn.execute(insert(A).values(**alert).returning(A.c.id)).scalar_one()
            audit(
                conn,
                "alert.fired",
                f"deployments:/{alert['deployment']}",
                None,
                {k: alert[k] for k in ("rule", "figure", "value", "op", "threshold")},
            )
            return int(new_id)

    def set_detail(self, alert_id: int, detail: dict[str, Any]) -> None:
        with self.db.write() as conn:
            conn.execute(update(A).where(A.c.id == alert_id).values(detail=detail))

    def last_fired(self, deployment: str) -> dict[str, datetime]:
        """When each rule of ``deployment`` last fired."""
        with self.db.read() as conn:
            rows = conn.execute(
                select(A.c.rule, func.max(A.c.at))
                .where(A.c.deployment == deployment)
                .group_by(A.c.rule)
            )
            return {r[0]: r[1] for r in rows}

    def list(self, deployment: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        q = select(A).order_by(A.c.at.desc(), A.c.id.desc()).limit(limit)
        if deployment is not None:
            q = q.where(A.c.deployment == deployment)
        with self.db.read() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]


class LoopRepo:
    """One retraining loop per deployment: its phase and what it has done so far."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, deployment: str) -> dict[str, Any] | None:
        with self.db.read() as conn:
            row = conn.execute(select(L).where(L.c.deployment == deployment)).first()
            return None if row is None else dict(row._mapping)

    def put(
        self, deployment: str, phase: str, detail: dict[str, Any], *, new: bool = False
    ) -> None:
        """Move the loop to ``phase`` (``new`` starts a loop afresh); audited."""
        now = utcnow()
        with self.db.write() as conn:
            before = conn.execute(select(L).where(L.c.deployment == deployment)).first()
            values = {"phase": phase, "detail": detail, "updated_at": now}
            if before is None:
                conn.execute(insert(L).values(deployment=deployment, started_at=now, **values))
            else:
                if new:
                    values["started_at"] = now
                conn.execute(update(L).where(L.c.deployment == deployment).values(**values))
            audit(
                conn,
                f"retrain.{phase}",
                f"deployments:/{deployment}",
                {"phase": before.phase} if before is not None else None,
                {"phase": phase, **detail},
            )

    def all(self) -> list[dict[str, Any]]:
        with self.db.read() as conn:
            return [dict(r._mapping) for r in conn.execute(select(L).order_by(L.c.deployment))]
