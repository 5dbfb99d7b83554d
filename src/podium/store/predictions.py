"""The prediction log and feedback: written in batches, read by monitoring and rollouts."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select

from podium.store import schema as t
from podium.store.audit import append as audit
from podium.store.base import Database

P = t.predictions
F = t.feedback


class PredictionRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    def write(
        self, predictions: list[dict[str, Any]], feedback: list[dict[str, Any]], chunk: int = 0
    ) -> None:
        """One transaction for a batch of predictions and feedback rows.

        ``chunk``: insert that many rows per statement and let other threads run between
        statements. A server's log thread writes thousands of rows a flush; binding them is
        Python work that would hold the interpreter from the event loop for tens of ms.
        """
        step = chunk or max(len(predictions), 1)
        with self.db.write() as conn:
            for start in range(0, len(predictions), step):
                if start:
                    time.sleep(0)  # hand the interpreter over between statements
                conn.execute(insert(P), predictions[start : start + step])
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
        self,
        deployment: str,
        *,
        since: datetime | None = None,
        limit: int = 10_000,
        inputs: bool = True,
    ) -> list[dict[str, Any]]:
        """Predictions of a deployment, newest first, with their feedback joined.

        ``inputs=False`` leaves the ``inputs`` key out: figures of traffic, errors, latency
        and outputs need no request rows, and decoding them is most of a call's work.
        """
        columns = [c for c in P.c if inputs or c.name != "inputs"]
        q = select(*columns).where(P.c.deployment == deployment)
        if since is not None:
            q = q.where(P.c.at >= since)
        with self.db.read() as conn:
            result = conn.execute(q.order_by(P.c.at.desc()).limit(limit))
            keys = list(result.keys())
            # Up to 10,000 rows a call (status pages, the canary's gates): a Row's _mapping
            # costs several times what zipping with the keys does.
            rows = [dict(zip(keys, r, strict=True)) for r in result]
            fb: dict[str, dict[str, Any]] = {}
            if rows:
                # The feedback of every prediction logged in the rows' span of time (a superset
                # of theirs, even if more were logged since): one short statement, not 10,000
                # ids to bind.
                span = select(P.c.id).where(
                    (P.c.deployment == deployment)
                    & (P.c.at >= rows[-1]["at"])
                    & (P.c.at <= rows[0]["at"])
                )
                for f in conn.execute(select(F).where(F.c.prediction_id.in_(span))):
                    fb[f.prediction_id] = {"label": f.label, "reward": f.reward, "at": f.at}
        for r in rows:
            r["feedback"] = fb.get(r["id"])
        return rows

    def cutoff(
        self, deployment: str, *, keep_last: int | None, before: datetime | None
    ) -> tuple[datetime | None, int]:
        """The time before which ``deployment``'s predictions expire (older than ``before``,
        or beyond the newest ``keep_last``), and how many that is."""
        with self.db.read() as conn:
            limit = before
            if keep_last is not None:
                nth = conn.execute(
                    select(P.c.at)
                    .where(P.c.deployment == deployment)
                    .order_by(P.c.at.desc())
                    .offset(keep_last - 1)
                    .limit(1)
                ).scalar()
                if nth is not None and (limit is None or nth > limit):
                    limit = nth
            if limit is None:
                return None, 0
            n = conn.execute(
                select(func.count()).where(P.c.deployment == deployment, P.c.at < limit)
            ).scalar_one()
            return limit, int(n)

    def delete_before(self, deployment: str, cutoff: datetime, batch: int = 5_000) -> int:
        """Delete ``deployment``'s predictions older than ``cutoff`` and their feedback, in
        batches so servers writing the log never wait long for the lock."""
        total = 0
        while True:
            with self.db.write() as conn:
                ids = list(
                    conn.execute(
                        select(P.c.id)
                        .where(P.c.deployment == deployment, P.c.at < cutoff)
                        .limit(batch)
                    ).scalars()
                )
                if not ids:
                    return total
                conn.execute(delete(F).where(F.c.prediction_id.in_(ids)))
                conn.execute(delete(P).where(P.c.id.in_(ids)))
                audit(
                    conn,
                    "predictions.delete",
                    f"deployments:/{deployment}",
                    {"count": len(ids), "before": cutoff.isoformat()},
                    None,
                )
                total += len(ids)
