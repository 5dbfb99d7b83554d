"""Deployments (desired state) and their history: every change is an event and an audit."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from podium.core.clock import utcnow
from podium.core.context import current_actor
from podium.core.errors import NotFoundError
from podium.core.records import Deployment, DeploymentEvent, DeploymentWorker
from podium.store import approvals
from podium.store import schema as t
from podium.store.audit import append as audit
from podium.store.base import Database

D = t.deployments
E = t.deployment_events
W = t.deployment_workers
# Transitions that end a rollout: open promotion requests no longer apply after them.
ENDS_ROLLOUT = ("promoted", "promote", "rolled_back", "rollback")


class DeploymentRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    def apply(
        self,
        name: str,
        spec: dict[str, Any],
        state: dict[str, Any],
        *,
        expect_revision: int | None = None,
        kind: str = "applied",
        detail: dict[str, Any] | None = None,
    ) -> Deployment:
        """Store ``spec`` as the desired state of ``name``; a changed spec is a new revision
        and restarts the rollout from ``state``. With ``expect_revision``, nothing changes
        unless the deployment is still at that revision (a revert races no newer deploy)."""
        now = utcnow()
        with self.db.write() as conn:
            row = conn.execute(select(D).where(D.c.name == name).with_for_update()).first()
            if row is not None and row.spec == spec:
                return _deployment(row)
            if expect_revision is not None and (row is None or row.revision != expect_revision):
                return self._get(conn, name)
            if row is None:
                revision = 1
                conn.execute(
                    insert(D).values(
                        name=name,
                        spec=spec,
                        state=state,
                        revision=1,
                        status="active",
                        created_at=now,
                        updated_at=now,
                    )
                )
            else:
                revision = row.revision + 1
                conn.execute(
                    update(D)
                    .where(D.c.name == name)
                    .values(spec=spec, state=state, revision=revision, updated_at=now)
                )
            self._event(
                conn, name, kind, revision, {"strategy": spec.get("strategy"), **(detail or {})}
            )
            audit(
                conn,
                f"deployment.{'apply' if kind == 'applied' else kind}",
                f"deployments:/{name}",
                None if row is None else row.spec,
                spec,
            )
            approvals.supersede(conn, f"deployments:/{name}", f"revision {revision} was applied")
            return self._get(conn, name)

    def set_status(
        self, name: str, status: str, detail: dict[str, Any] | None = None
    ) -> Deployment:
        with self.db.write() as conn:
            before = self._get(conn, name)
            conn.execute(
                update(D).where(D.c.name == name).values(status=status, updated_at=utcnow())
            )
            kind = {"paused": "paused", "active": "resumed"}.get(status, status)
            self._event(conn, name, kind, before.revision, detail or {})
            audit(
                conn,
                f"deployment.{kind}",
                f"deployments:/{name}",
                {"status": before.status},
                {"status": status},
            )
            return self._get(conn, name)

    def transition(
        self,
        name: str,
        kind: str,
        change: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]],
        detail: dict[str, Any] | None = None,
        *,
        approval: str | None = None,
    ) -> Deployment:
        """Apply ``change(spec, state) -> state`` under a row lock; record and audit it.

        ``approval``: the approved request this change carries out, marked applied in the
        same transaction. A promotion or rollback supersedes the other open requests.
        """
        target = f"deployments:/{name}"
        with self.db.write() as conn:
            row = conn.execute(select(D).where(D.c.name == name).with_for_update()).first()
            if row is None:
                raise self._missing(conn, name)
            before = dict(row.state)
            after = change(row.spec, before)
            conn.execute(update(D).where(D.c.name == name).values(state=after, updated_at=utcnow()))
            by = {} if approval is None else {"approval": approval}
            self._event(
                conn,
                name,
                kind,
                row.revision,
                {**(detail or {}), **by, "before": before, "after": after},
            )
            audit(conn, f"deployment.{kind}", target, before, {**after, **by})
            if approval is not None:
                approvals.settle(conn, approval, target)
            if kind in ENDS_ROLLOUT:
                why = f"the deployment was {kind} at revision {row.revision}"
                approvals.supersede(
                    conn, target, why + (f" (request {approval})" if approval else "")
                )
            return self._get(conn, name)

    def record(self, name: str, kind: str, detail: dict[str, Any]) -> None:
        """Append a history event (a canary decision, a traffic change ...)."""
        with self.db.write() as conn:
            dep = self._get(conn, name)
            self._event(conn, name, kind, dep.revision, detail)

    # -- workers: each server process reports what it serves --------------------------------
    def report_worker(
        self,
        name: str,
        worker: str,
        revision: int,
        versions: dict[str, str],
        status: str,
        detail: str = "",
        rss_bytes: int | None = None,
    ) -> None:
        with self.db.write() as conn:
            self._put_worker(conn, name, worker, revision, versions, status, detail, rss_bytes)

    def claim_upgrade(
        self, name: str, worker: str, revision: int, stale_s: float, slots: int = 1
    ) -> bool:
        """Take one of the ``slots`` upgrade slots of a rolling update; False while other
        live workers hold them all (a worker silent for ``stale_s`` seconds has died)."""
        with self.db.write() as conn:
            dep = conn.execute(select(D).where(D.c.name == name).with_for_update()).first()
            if dep is None or dep.revision != revision:
                return False
            fresh = utcnow() - timedelta(seconds=stale_s)
            busy = conn.execute(
                select(W.c.worker).where(
                    W.c.deployment == name,
                    W.c.worker != worker,
                    W.c.status == "upgrading",
                    W.c.updated_at >= fresh,
                )
            ).all()
            if len(busy) >= slots:
                return False
            mine = conn.execute(
                select(W).where(W.c.deployment == name, W.c.worker == worker)
            ).first()
            versions = dict(mine.versions) if mine is not None else {}
            old = mine.revision if mine is not None else 0
            self._put_worker(
                conn, name, worker, old, versions, "upgrading", f"to revision {revision}"
            )
            return True

    def workers(self, name: str, stale_s: float | None = None) -> list[DeploymentWorker]:
        """The workers of ``name``; with ``stale_s``, only those heard from that recently."""
        query = select(W).where(W.c.deployment == name)
        if stale_s is not None:
            query = query.where(W.c.updated_at >= utcnow() - timedelta(seconds=stale_s))
        with self.db.read() as conn:
            return [
                DeploymentWorker(
                    r.deployment,
                    r.worker,
                    r.revision,
                    r.versions,
                    r.status,
                    r.detail,
                    r.started_at,
                    r.updated_at,
                    r.rss_bytes,
                )
                for r in conn.execute(query.order_by(W.c.started_at, W.c.worker))
            ]

    def remove_worker(self, name: str, worker: str) -> None:
        with self.db.write() as conn:
            conn.execute(delete(W).where(W.c.deployment == name, W.c.worker == worker))

    def _put_worker(
        self,
        conn: Connection,
        name: str,
        worker: str,
        revision: int,
        versions: dict[str, str],
        status: str,
        detail: str,
        rss_bytes: int | None = None,
    ) -> None:
        now = utcnow()
        values: dict[str, object] = {
            "revision": revision,
            "versions": versions,
            "status": status,
            "detail": detail,
            "updated_at": now,
        }
        if rss_bytes is not None:
            values["rss_bytes"] = rss_bytes
        done = conn.execute(
            update(W).where(W.c.deployment == name, W.c.worker == worker).values(**values)
        )
        if done.rowcount == 0:
            conn.execute(insert(W).values(deployment=name, worker=worker, started_at=now, **values))

    def get(self, name: str) -> Deployment:
        with self.db.read() as conn:
            return self._get(conn, name)

    def all(self) -> list[Deployment]:
        with self.db.read() as conn:
            return [_deployment(r) for r in conn.execute(select(D).order_by(D.c.name))]

    def history(self, name: str, limit: int = 200) -> list[DeploymentEvent]:
        with self.db.read() as conn:
            self._get(conn, name)
            rows = conn.execute(
                select(E).where(E.c.deployment == name).order_by(E.c.id.desc()).limit(limit)
            )
            return [
                DeploymentEvent(r.deployment, r.at, r.kind, r.revision, r.actor, r.detail)
                for r in rows
            ]

    def _event(
        self, conn: Connection, name: str, kind: str, revision: int, detail: dict[str, Any]
    ) -> None:
        conn.execute(
            insert(E).values(
                deployment=name,
                at=utcnow(),
                kind=kind,
                revision=revision,
                actor=current_actor(),
                detail=detail,
            )
        )

    def _get(self, conn: Connection, name: str) -> Deployment:
        row = conn.execute(select(D).where(D.c.name == name)).first()
        if row is None:
            raise self._missing(conn, name)
        return _deployment(row)

    def _missing(self, conn: Connection, name: str) -> NotFoundError:
        names = list(conn.execute(select(D.c.name).order_by(D.c.name).limit(10)).scalars())
        return NotFoundError(
            f"Deployment {name!r} not found. Known deployments: {', '.join(names) or 'none'}.",
            hint="Create one with `podium deploy -f FILE.yaml`.",
        )


def _deployment(r: Any) -> Deployment:
    return Deployment(r.name, r.spec, r.state, r.revision, r.status, r.created_at, r.updated_at)
