"""Pipeline runs, their steps, and the artifacts the steps produced."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, func, insert, or_, select, update

from podium.core.clock import new_id, utcnow
from podium.core.errors import NotFoundError
from podium.core.records import ArtifactRecord, Run, StepRun
from podium.store import schema as t
from podium.store.base import Database

R = t.runs
S = t.step_runs


class RunRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    def create(
        self,
        pipeline: str,
        params: dict[str, Any],
        *,
        steps: list[tuple[str, list[str]]],
        trigger: str = "manual",
        code_version: str | None = None,
        scheduled_time: datetime | None = None,
        pipeline_ref: str | None = None,
    ) -> Run:
        """Create a run in state ``running`` with its steps ``pending`` (name, upstream)."""
        run_id = new_id()
        now = utcnow()
        with self.db.write() as conn:
            conn.execute(
                insert(R).values(
                    id=run_id,
                    pipeline=pipeline,
                    status="running",
                    params=params,
                    trigger=trigger,
                    created_at=now,
                    started_at=now,
                    heartbeat_at=now,
                    scheduled_time=scheduled_time,
                    code_version=code_version,
                    pipeline_ref=pipeline_ref,
                )
            )
            if steps:
                conn.execute(
                    insert(S),
                    [
                        {
                            "run_id": run_id,
                            "name": n,
                            "status": "pending",
                            "attempts": 0,
                            "cache_hit": False,
                            "cache_info": {},
                            "inputs": {},
                            "outputs": [],
                            "upstream": up,
                            "position": i,
                        }
                        for i, (n, up) in enumerate(steps)
                    ],
                )
            return self._get(conn, run_id)

    def finish(self, run_id: str, status: str, error: str | None = None) -> Run:
        with self.db.write() as conn:
            conn.execute(
                update(R)
                .where(R.c.id == run_id)
                .values(status=status, error=error, ended_at=utcnow())
            )
            return self._get(conn, run_id)

    def update_step(self, run_id: str, name: str, **values: Any) -> None:
        """Set fields of one step (status, started_at, ended_at, error, outputs ...)."""
        with self.db.write() as conn:
            conn.execute(
                update(S).where((S.c.run_id == run_id) & (S.c.name == name)).values(**values)
            )

    def reopen(self, run_id: str, steps: list[str]) -> Run:
        """Set a finished run running again with ``steps`` back to pending (for resume)."""
        with self.db.write() as conn:
            self._get(conn, run_id)  # raises NotFoundError
            conn.execute(
                update(R)
                .where(R.c.id == run_id)
                .values(status="running", error=None, ended_at=None, heartbeat_at=utcnow())
            )
            if steps:
                conn.execute(
                    update(S)
                    .where((S.c.run_id == run_id) & S.c.name.in_(steps))
                    .values(
                        status="pending",
                        error=None,
                        started_at=None,
                        ended_at=None,
                        duration_s=None,
                        outputs=[],
                    )
                )
            return self._get(conn, run_id)

    def heartbeat(self, run_id: str) -> None:
        with self.db.write() as conn:
            conn.execute(update(R).where(R.c.id == run_id).values(heartbeat_at=utcnow()))

    def mark_crashed(self, stale_after: float) -> list[str]:
        """Runs still 'running' whose heartbeat is older than ``stale_after`` seconds died
        with their process (kill -9, power loss): mark them and their unfinished steps."""
        cutoff = utcnow() - timedelta(seconds=stale_after)
        stale = (R.c.status == "running") & (R.c.heartbeat_at < cutoff)
        # Every run list checks this first, and there is usually nothing to mark: look
        # without the write lock (on SQLite, a list would otherwise queue behind writers).
        with self.db.read() as conn:
            if conn.execute(select(R.c.id).where(stale).limit(1)).first() is None:
                return []
        with self.db.write() as conn:
            ids = list(conn.execute(select(R.c.id).where(stale)).scalars())
            if not ids:
                return []
            message = f"the run's process stopped (no heartbeat for over {stale_after:g} s)"
            conn.execute(
                update(R)
                .where(R.c.id.in_(ids))
                .values(status="crashed", ended_at=utcnow(), error=message)
            )
            conn.execute(
                update(S)
                .where(S.c.run_id.in_(ids) & S.c.status.in_(("running", "retrying")))
                .values(status="crashed", ended_at=utcnow(), error=message)
            )
        return ids

    def find_cached(self, pipeline: str, step: str, cache_key: str) -> StepRun | None:
        """The newest finished execution of ``step`` in ``pipeline`` with this cache key."""
        return self._latest_step(pipeline, step, S.c.cache_key == cache_key)

    def previous_step(self, pipeline: str, step: str) -> StepRun | None:
        """The newest finished execution of ``step`` in ``pipeline`` with a cache key."""
        return self._latest_step(pipeline, step, S.c.cache_key.is_not(None))

    def _latest_step(self, pipeline: str, step: str, where: Any) -> StepRun | None:
        q = (
            select(S)
            .join(R, R.c.id == S.c.run_id)
            .where((R.c.pipeline == pipeline) & (S.c.name == step) & where)
            .where(S.c.status.in_(("succeeded", "cached")))
            .order_by(S.c.ended_at.desc())
            .limit(1)
        )
        with self.db.read() as conn:
            row = conn.execute(q).first()
        return _step(row) if row is not None else None

    def get(self, run_id: str) -> Run:
        with self.db.read() as conn:
            return self._get(conn, run_id)

    def get_many(self, run_ids: list[str]) -> list[Run]:
        """The runs with these ids, with their steps, in that order (unknown ids left out)."""
        if not run_ids:
            return []
        with self.db.read() as conn:
            rows = {r.id: r for r in conn.execute(select(R).where(R.c.id.in_(run_ids)))}
            steps: dict[str, list[StepRun]] = {}
            q = select(S).where(S.c.run_id.in_(list(rows))).order_by(S.c.run_id, S.c.position)
            for s in conn.execute(q):
                steps.setdefault(s.run_id, []).append(_step(s))
        return [_run(rows[i], tuple(steps.get(i, ()))) for i in run_ids if i in rows]

    def list_runs(
        self,
        *,
        pipeline: str | None = None,
        status: str | None = None,
        trigger: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[Run]:
        """Runs newest first. ``trigger`` is a whole trigger (``schedule:nightly``) or its
        kind, the part before ``:`` (``schedule`` matches every schedule's runs)."""
        newest_first = (R.c.created_at.desc(), R.c.id.desc())
        page = select(R.c.id).order_by(*newest_first).limit(limit).offset(offset)
        if pipeline:
            page = page.where(R.c.pipeline == pipeline)
        if status:
            page = page.where(R.c.status == status)
        if trigger:
            page = page.where(_trigger_is(trigger))
        # The page's ids first, then its rows: the offset is skipped along an index
        # (ix_runs_*_created_at) without reading the rows it skips.
        q = select(R).where(R.c.id.in_(page.scalar_subquery())).order_by(*newest_first)
        with self.db.read() as conn:
            return [_run(r) for r in conn.execute(q)]

    def pipelines(self) -> dict[str, tuple[int, str]]:
        """Each pipeline that has run: its number of runs and the id of its newest run."""
        newest = func.max(R.c.created_at).label("newest")
        q = select(R.c.pipeline, func.count().label("n"), newest).group_by(R.c.pipeline)
        out: dict[str, tuple[int, str]] = {}
        with self.db.read() as conn:
            for name, n, at in conn.execute(q).all():
                last = conn.execute(
                    select(R.c.id)
                    .where((R.c.pipeline == name) & (R.c.created_at == at))
                    .order_by(R.c.id.desc())
                    .limit(1)
                ).scalar_one()
                out[name] = (int(n), last)
        return out

    def add_artifact(
        self,
        *,
        digest: str,
        size: int,
        materializer: str,
        type_name: str,
        name: str,
        run_id: str | None,
        step: str | None,
        meta: dict[str, Any] | None = None,
    ) -> ArtifactRecord:
        rec = ArtifactRecord(
            id=new_id(),
            digest=digest,
            size=size,
            materializer=materializer,
            type_name=type_name,
            run_id=run_id,
            step=step,
            name=name,
            meta=meta or {},
            created_at=utcnow(),
        )
        with self.db.write() as conn:
            conn.execute(insert(t.artifacts).values(**rec.__dict__))
        return rec

    def write_batch(
        self,
        run_id: str,
        steps: dict[str, dict[str, Any]],
        artifacts: list[ArtifactRecord],
    ) -> None:
        """Step updates and artifact rows of one run, in a single transaction."""
        with self.db.write() as conn:
            if artifacts:
                conn.execute(insert(t.artifacts), [a.__dict__ for a in artifacts])
            for name, values in steps.items():
                conn.execute(
                    update(S).where((S.c.run_id == run_id) & (S.c.name == name)).values(**values)
                )

    def get_artifact(self, artifact_id: str) -> ArtifactRecord:
        with self.db.read() as conn:
            row = conn.execute(select(t.artifacts).where(t.artifacts.c.id == artifact_id)).first()
        if row is None:
            raise NotFoundError(
                f"Artifact {artifact_id!r} not found.",
                hint="Artifact ids are listed by `podium runs show RUN_ID`.",
            )
        return ArtifactRecord(**row._asdict())

    def referenced_digests(self) -> set[str]:
        with self.db.read() as conn:
            return set(conn.execute(select(t.artifacts.c.digest)).scalars())

    def _get(self, conn: Connection, run_id: str) -> Run:
        row = conn.execute(select(R).where(R.c.id == run_id)).first()
        if row is None:
            raise NotFoundError(
                f"Run {run_id!r} not found.", hint="List runs with `podium runs list`."
            )
        steps = tuple(
            _step(s)
            for s in conn.execute(select(S).where(S.c.run_id == run_id).order_by(S.c.position))
        )
        return _run(row, steps)


def _trigger_is(trigger: str) -> ColumnElement[bool]:
    """Runs of this trigger: ``schedule:nightly`` exactly; a kind without ``:`` (``manual``,
    ``schedule``, ``event``) as it is and every ``kind:name`` of it."""
    if ":" in trigger:
        return R.c.trigger == trigger
    # substr, not LIKE: SQLite's LIKE ignores case, PostgreSQL's does not
    prefix = f"{trigger}:"
    return or_(R.c.trigger == trigger, func.substr(R.c.trigger, 1, len(prefix)) == prefix)


def _step(s: Any) -> StepRun:
    return StepRun(
        run_id=s.run_id,
        name=s.name,
        status=s.status,
        started_at=s.started_at,
        ended_at=s.ended_at,
        duration_s=s.duration_s,
        error=s.error,
        attempts=s.attempts,
        cache_hit=s.cache_hit,
        inputs=s.inputs,
        outputs=s.outputs,
        upstream=s.upstream,
        cache_key=s.cache_key,
        cache_info=s.cache_info,
    )


def _run(row: Any, steps: tuple[StepRun, ...] = ()) -> Run:
    return Run(
        id=row.id,
        pipeline=row.pipeline,
        status=row.status,
        params=row.params,
        trigger=row.trigger,
        created_at=row.created_at,
        started_at=row.started_at,
        ended_at=row.ended_at,
        error=row.error,
        code_version=row.code_version,
        scheduled_time=row.scheduled_time,
        pipeline_ref=row.pipeline_ref,
        steps=steps,
    )
