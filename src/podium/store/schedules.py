"""Schedules and their fires. A fire row per (schedule, fire time) is the claim that makes
each due run happen once, however many schedulers race for it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from podium.core.clock import utcnow
from podium.core.errors import ConflictError, NotFoundError
from podium.core.names import check_name
from podium.core.records import Event, Schedule, ScheduleFire
from podium.store import schema as t
from podium.store.audit import append as audit
from podium.store.base import Database

T = t.schedules
F = t.schedule_fires
E = t.event_fires
EV = t.events
R = t.runs


class ScheduleRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    def add(
        self,
        name: str,
        *,
        pipeline_ref: str,
        cron: str | None,
        interval_s: float | None,
        params: dict[str, Any],
        missed: str,
        overlap: str,
        max_concurrent: int,
        next_fire_at: datetime,
        event: str | None = None,
    ) -> Schedule:
        check_name(name, "schedule name")
        now = utcnow()
        values = {
            "name": name,
            "pipeline_ref": pipeline_ref,
            "cron": cron,
            "interval_s": interval_s,
            "params": params,
            "missed": missed,
            "overlap": overlap,
            "max_concurrent": max_concurrent,
            "paused": False,
            "next_fire_at": next_fire_at,
            "event": event,
            "created_at": now,
            "updated_at": now,
        }
        try:
            with self.db.write() as conn:
                conn.execute(insert(T).values(**values))
                record = self._get(conn, name)
                audit(conn, "schedule.add", f"schedules:/{name}", None, record.to_dict())
                return record
        except ConflictError:
            raise ConflictError(
                f"A schedule named {name!r} already exists.",
                hint=f"Pick another --name, or remove it with `podium schedules remove {name}`.",
            ) from None

    def all(self) -> list[Schedule]:
        with self.db.read() as conn:
            return [_schedule(r) for r in conn.execute(select(T).order_by(T.c.name))]

    def get(self, name: str) -> Schedule:
        with self.db.read() as conn:
            return self._get(conn, name)

    def set_paused(self, name: str, paused: bool, next_fire_at: datetime | None = None) -> Schedule:
        with self.db.write() as conn:
            before = self._get(conn, name)
            values: dict[str, Any] = {"paused": paused, "updated_at": utcnow()}
            if next_fire_at is not None:
                values["next_fire_at"] = next_fire_at
            conn.execute(update(T).where(T.c.name == name).values(**values))
            after = self._get(conn, name)
            audit(
                conn,
                "schedule.pause" if paused else "schedule.resume",
                f"schedules:/{name}",
                {"paused": before.paused},
                {"paused": after.paused},
            )
            return after

    def remove(self, name: str) -> None:
        with self.db.write() as conn:
            before = self._get(conn, name)
            sid = conn.execute(select(T.c.id).where(T.c.name == name)).scalar_one()
            conn.execute(delete(F).where(F.c.schedule_id == sid))
            conn.execute(delete(t.event_fires).where(t.event_fires.c.schedule_id == sid))
            conn.execute(delete(T).where(T.c.id == sid))
            audit(conn, "schedule.remove", f"schedules:/{name}", before.to_dict(), None)

    def due(self, now: datetime) -> list[Schedule]:
        q = select(T).where(T.c.paused.is_(False) & T.c.event.is_(None) & (T.c.next_fire_at <= now))
        with self.db.read() as conn:
            return [_schedule(r) for r in conn.execute(q.order_by(T.c.next_fire_at))]

    def advance(self, name: str, seen: datetime, next_fire_at: datetime) -> bool:
        """Move ``next_fire_at`` forward if nobody did since we read ``seen`` (compare-and-set)."""
        with self.db.write() as conn:
            moved = conn.execute(
                update(T)
                .where((T.c.name == name) & (T.c.next_fire_at == seen))
                .values(next_fire_at=next_fire_at, updated_at=utcnow())
            )
            return bool(moved.rowcount)

    def claim(
        self, name: str, fire_time: datetime, scheduler: str, *, skip_reason: str | None = None
    ) -> str:
        """Claim one fire: 'claimed' (run it), 'queued', 'skipped', or 'taken' (someone else's).

        The capacity check and the claim happen in one write transaction with the schedule
        row locked, so two schedulers can neither both run a fire nor exceed the limit.
        """
        try:
            with self.db.write() as conn:
                row = conn.execute(select(T).where(T.c.name == name).with_for_update()).first()
                if row is None:
                    return "taken"  # removed meanwhile
                taken = conn.execute(
                    select(F.c.id).where((F.c.schedule_id == row.id) & (F.c.fire_time == fire_time))
                ).first()
                if taken is not None:
                    return "taken"
                busy = self._in_flight(conn, row.id, name)
                status = "claimed"
                note = skip_reason
                if skip_reason is not None:
                    status = "skipped"
                elif busy >= row.max_concurrent:
                    status = "queued" if row.overlap == "queue" else "skipped"
                    note = f"{busy} run(s) in flight, max_concurrent={row.max_concurrent}"
                conn.execute(
                    insert(F).values(
                        schedule_id=row.id,
                        fire_time=fire_time,
                        status=status,
                        claimed_by=scheduler,
                        claimed_at=utcnow(),
                        note=note,
                    )
                )
                return status
        except ConflictError:  # the unique key: another scheduler inserted it first
            return "taken"
        except IntegrityError:  # pragma: no cover - translated above
            return "taken"

    def claim_queued(self, name: str, scheduler: str) -> datetime | None:
        """Turn the oldest queued fire into a claim when capacity allows; return its time."""
        with self.db.write() as conn:
            row = conn.execute(select(T).where(T.c.name == name).with_for_update()).first()
            if row is None or self._in_flight(conn, row.id, name) >= row.max_concurrent:
                return None
            fire = conn.execute(
                select(F)
                .where((F.c.schedule_id == row.id) & (F.c.status == "queued"))
                .order_by(F.c.fire_time)
                .limit(1)
            ).first()
            if fire is None:
                return None
            conn.execute(
                update(F)
                .where(F.c.id == fire.id)
                .values(status="claimed", claimed_by=scheduler, claimed_at=utcnow())
            )
            return fire.fire_time  # type: ignore[no-any-return]

    def started(self, name: str, fire_time: datetime, run_id: str) -> None:
        with self.db.write() as conn:
            sid = conn.execute(select(T.c.id).where(T.c.name == name)).scalar()
            conn.execute(
                update(F)
                .where((F.c.schedule_id == sid) & (F.c.fire_time == fire_time))
                .values(status="started", run_id=run_id)
            )

    def failed(self, name: str, fire_time: datetime, note: str) -> None:
        """A claimed fire whose run could not start (the pipeline failed to load)."""
        with self.db.write() as conn:
            sid = conn.execute(select(T.c.id).where(T.c.name == name)).scalar()
            conn.execute(
                update(F)
                .where((F.c.schedule_id == sid) & (F.c.fire_time == fire_time))
                .values(status="failed", note=note[:2000])
            )

    def fires(self, name: str, limit: int = 100) -> list[ScheduleFire]:
        with self.db.read() as conn:
            sid = conn.execute(select(T.c.id).where(T.c.name == name)).scalar()
            rows = conn.execute(
                select(F).where(F.c.schedule_id == sid).order_by(F.c.fire_time).limit(limit)
            )
            return [
                ScheduleFire(name, r.fire_time, r.status, r.run_id, r.claimed_by, r.note)
                for r in rows
            ]

    def _in_flight(self, conn: Connection, schedule_id: int, name: str) -> int:
        """Claimed fires whose run has not started, plus started runs still running."""
        total = 0
        for table in (F, E):
            claimed = conn.execute(
                select(func.count())
                .select_from(table)
                .where((table.c.schedule_id == schedule_id) & (table.c.status == "claimed"))
            ).scalar_one()
            running = conn.execute(
                select(func.count())
                .select_from(table)
                .join(R, R.c.id == table.c.run_id)
                .where((table.c.schedule_id == schedule_id) & (R.c.status == "running"))
            ).scalar_one()
            total += int(claimed) + int(running)
        return total

    # -- events --------------------------------------------------------------------------------
    def emit(self, name: str, payload: dict[str, Any]) -> Event:
        with self.db.write() as conn:
            now = utcnow()
            eid = conn.execute(
                insert(EV).values(name=name, payload=payload, created_at=now).returning(EV.c.id)
            ).scalar_one()
            return Event(int(eid), name, payload, now)

    def event_schedules(self) -> list[Schedule]:
        q = select(T).where(T.c.paused.is_(False) & T.c.event.is_not(None)).order_by(T.c.name)
        with self.db.read() as conn:
            return [_schedule(r) for r in conn.execute(q)]

    def pending_events(self, s: Schedule, limit: int = 100) -> list[Event]:
        """Events of the schedule's kind since it was added that it has not claimed yet."""
        with self.db.read() as conn:
            sid = conn.execute(select(T.c.id).where(T.c.name == s.name)).scalar()
            claimed = select(E.c.event_id).where(E.c.schedule_id == sid)
            rows = conn.execute(
                select(EV)
                .where((EV.c.name == s.event) & (EV.c.created_at >= s.created_at))
                .where(EV.c.id.not_in(claimed))
                .order_by(EV.c.id)
                .limit(limit)
            )
            return [Event(r.id, r.name, r.payload, r.created_at) for r in rows]

    def claim_event(self, name: str, event_id: int, scheduler: str) -> str:
        """Like :meth:`claim`, for one event: each event fires a schedule once."""
        try:
            with self.db.write() as conn:
                row = conn.execute(select(T).where(T.c.name == name).with_for_update()).first()
                if row is None:
                    return "taken"
                seen = conn.execute(
                    select(E.c.status).where(
                        (E.c.schedule_id == row.id) & (E.c.event_id == event_id)
                    )
                ).first()
                if seen is not None:
                    return "taken"
                busy = self._in_flight(conn, row.id, name)
                status = "claimed" if busy < row.max_concurrent else "skipped"
                conn.execute(
                    insert(E).values(
                        schedule_id=row.id,
                        event_id=event_id,
                        status=status,
                        claimed_by=scheduler,
                        claimed_at=utcnow(),
                        note=None if status == "claimed" else f"{busy} run(s) in flight",
                    )
                )
                return status
        except ConflictError:  # the primary key: another scheduler claimed it first
            return "taken"

    def event_outcome(
        self, name: str, event_id: int, *, run_id: str | None = None, note: str | None = None
    ) -> None:
        """Record that an event's run started (``run_id``) or could not (``note``)."""
        with self.db.write() as conn:
            sid = conn.execute(select(T.c.id).where(T.c.name == name)).scalar()
            conn.execute(
                update(E)
                .where((E.c.schedule_id == sid) & (E.c.event_id == event_id))
                .values(
                    status="started" if run_id else "failed",
                    run_id=run_id,
                    note=None if note is None else note[:2000],
                )
            )

    def _get(self, conn: Connection, name: str) -> Schedule:
        row = conn.execute(select(T).where(T.c.name == name)).first()
        if row is None:
            names = list(conn.execute(select(T.c.name).order_by(T.c.name).limit(10)).scalars())
            raise NotFoundError(
                f"Schedule {name!r} not found. Known schedules: {', '.join(names) or 'none'}.",
                hint="List them with `podium schedules list`.",
            )
        return _schedule(row)


def _schedule(r: Any) -> Schedule:
    return Schedule(
        name=r.name,
        pipeline_ref=r.pipeline_ref,
        cron=r.cron,
        interval_s=r.interval_s,
        params=r.params,
        missed=r.missed,
        overlap=r.overlap,
        max_concurrent=r.max_concurrent,
        paused=r.paused,
        next_fire_at=r.next_fire_at,
        created_at=r.created_at,
        event=r.event,
    )
