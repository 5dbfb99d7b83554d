"""The prediction log and feedback: written in batches, read by monitoring and rollouts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select

from podium.store import schema as t
from podium.store.base import Database

P = t.predictions
F = t.feedback


class PredictionRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    def write(self, predictions: list[dict[str, Any]], feedback: list[dict[str, Any]]) -> None:
        """One transaction for a batch of predictions and feedback rows."""
        with self.db.write() as conn:
            if predictions:
                conn.execute(insert(P), predictions)
            if feedback:
                conn.execute(insert(F), feedback)

    def variants_of(self, prediction_ids: list[str]) -> dict[str, str]:
        """The variant that answered each known prediction id."""
        if not prediction_ids:
            return {}
        with self.db.read() as conn:
            rows = conn.execute(select(P.c.id, P.c.variant).where(P.c.id.in_(prediction_ids)))
            return {r.id: r.variant for r in rows}

    def recent(
        self, deployment: str, *, since: datetime | None = None, limit: int = 10_000
    ) -> list[dict[str, Any]]:
        """Predictions of a deployment, newest first, with their feedback joined."""
        q = select(P).where(P.c.deployment == deployment)
        if since is not None:
            q = q.where(P.c.at >= since)
        with self.db.read() as conn:
            rows = [dict(r._mapping) for r in conn.execute(q.order_by(P.c.at.desc()).limit(limit))]
            ids = [r["id"] for r in rows]
            fb: dict[str, dict[str, Any]] = {}
            if ids:
                for f in conn.execute(select(F).where(F.c.prediction_id.in_(ids))):
                    fb[f.prediction_id] = {"label": f.label, "reward": f.reward, "at": f.at}
        for r in rows:
            r["feedback"] = fb.get(r["id"])
        return rows
