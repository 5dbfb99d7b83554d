"""Schedules: cron or interval, missed-run and overlap policies, and the scheduler loop.

Every due fire is claimed in the store before it runs (one row per schedule and fire
time, under a unique key), so each runs exactly once even with several schedulers on the
same store. Times are UTC.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from podium.core.clock import utcnow
from podium.core.errors import PodiumError, ValidationError
from podium.core.records import Event, Run, Schedule
from podium.pipelines.loader import load_pipeline
from podium.pipelines.runner import recover_crashed
from podium.workspace import Workspace

log = logging.getLogger("podium.scheduler")

MISSED = ("skip", "latest", "all")
OVERLAP = ("skip", "queue")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)", re.ASCII)
MAX_FIRES_PER_TICK = 1000  # 'all' after a long outage catches up in slices
NEVER = datetime(9999, 12, 31, tzinfo=UTC)  # the clock of an event-driven schedule


def parse_every(text: str) -> float:
    """Seconds in a duration such as ``30s``, ``5m``, ``1h30m`` or ``2d``.

    >>> parse_every("1h30m")
    5400.0
    """
    parts = _DURATION.findall(text or "")
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValidationError(
            f"Invalid duration {text!r}.",
            field="--every",
            hint="Use a number and a unit (ms, s, m, h, d, w), e.g. 30s, 5m, 1h30m.",
        )
    seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    if seconds <= 0:
        raise ValidationError(f"The duration {text!r} must be positive.", field="--every")
    return seconds


def check_cron(expr: str) -> str:
    from croniter import croniter

    if not croniter.is_valid(expr):
        raise ValidationError(
            f"Invalid cron expression {expr!r}.",
            field="--cron",
            hint="Five fields: minute hour day-of-month month day-of-week, e.g. '0 3 * * *'.",
        )
    return expr


def next_fire(cron: str | None, interval_s: float | None, after: datetime) -> datetime:
    """The first fire time strictly after ``after``."""
    if cron is not None:
        from croniter import croniter

        nxt: datetime = croniter(cron, after).get_next(datetime)
        return nxt
    assert interval_s is not None  # a schedule has one or the other
    return after + timedelta(seconds=interval_s)


def due_times(s: Schedule, now: datetime) -> list[datetime]:
    """Fire times from ``s.next_fire_at`` up to ``now`` (at most MAX_FIRES_PER_TICK)."""
    times: list[datetime] = []
    t = s.next_fire_at
    while t <= now and len(times) < MAX_FIRES_PER_TICK:
        times.append(t)
        t = next_fire(s.cron, s.interval_s, t)
    return times


def add_schedule(
    ws: Workspace,
    pipeline_ref: str,
    *,
    name: str | None = None,
    cron: str | None = None,
    every: str | None = None,
    params: dict[str, Any] | None = None,
    missed: str = "skip",
    overlap: str = "skip",
    max_concurrent: int = 1,
    on_event: str | None = None,
) -> Schedule:
    """Store a schedule for ``pipeline_ref`` (checked now: it must load and bind ``params``).

    A schedule fires on a clock (``cron`` or ``every``) or on an event (``on_event``, e.g.
    ``data:churn`` for each new version of the dataset ``churn``).
    """
    if sum(x is not None for x in (cron, every, on_event)) != 1:
        raise ValidationError(
            "Give exactly one of --cron, --every and --on-data/--on-event.",
            field="--cron",
            hint="E.g. --cron '0 3 * * *' (UTC), --every 15m, or --on-data churn.",
        )
    for value, allowed, flag in ((missed, MISSED, "--missed"), (overlap, OVERLAP, "--overlap")):
        if value not in allowed:
            raise ValidationError(
                f"{flag} must be one of {', '.join(allowed)}, got {value!r}.", field=flag
            )
    if max_concurrent < 1:
        raise ValidationError("--max-concurrent must be at least 1.", field="--max-concurrent")
    pipe = load_pipeline(pipeline_ref)
    pipe.bind(dict(params or {}))
    interval = parse_every(every) if every is not None else None
    expr = check_cron(cron) if cron is not None else None
    first = next_fire(expr, interval, utcnow()) if on_event is None else NEVER
    return ws.store.schedules.add(
        name or pipe.name,
        pipeline_ref=pipeline_ref,
        cron=expr,
        interval_s=interval,
        params=dict(params or {}),
        missed=missed,
        overlap=overlap,
        max_concurrent=max_concurrent,
        next_fire_at=first,
        event=on_event,
    )


def emit_event(ws: Workspace, name: str, payload: dict[str, Any] | None = None) -> Event:
    """Record an event; schedules added with ``on_event=name`` fire once for it.

    Payload keys that are parameters of the pipeline are passed to its run.

    >>> emit_event(ws, "alert:drift", {"deployment": "churn"})  # doctest: +SKIP
    """
    return ws.store.schedules.emit(name, dict(payload or {}))


def resume_schedule(ws: Workspace, name: str) -> Schedule:
    """Unpause; the next fire is the first one after now (paused time is not caught up)."""
    s = ws.store.schedules.get(name)
    return ws.store.schedules.set_paused(name, False, next_fire(s.cron, s.interval_s, utcnow()))


@dataclass
class Fired:
    schedule: str
    fire_time: datetime
    status: str  # claimed (and launched), queued, skipped, taken


class Scheduler:
    """Fires due schedules. Run several against one store: each fire still runs once.

    Args:
        workspace: the store to watch.
        tick: seconds between looks at the store.
        grace: with ``missed="skip"``, a fire later than this is a missed one.
    """

    def __init__(self, workspace: Workspace, *, tick: float = 1.0, grace: float | None = None):
        self.ws = workspace
        self.tick = tick
        self.grace = timedelta(seconds=grace if grace is not None else max(5.0, 3 * tick))
        self.id = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"[:64]
        self.threads: list[threading.Thread] = []
        self.stop = threading.Event()

    def tick_once(self, now: datetime | None = None) -> list[Fired]:
        now = now or utcnow()
        repo = self.ws.store.schedules
        recover_crashed(self.ws)
        fired: list[Fired] = []
        for s in repo.due(now):
            due = due_times(s, now)
            if not due:
                continue
            if s.missed == "all":
                chosen = due
            elif s.missed == "latest":
                chosen = due[-1:]
            else:
                chosen = [t for t in due if now - t <= self.grace]
            for t in due:
                if t in chosen:
                    status = repo.claim(s.name, t, self.id)
                else:
                    status = repo.claim(
                        s.name, t, self.id, skip_reason=f"missed (policy missed={s.missed})"
                    )
                fired.append(Fired(s.name, t, status))
                if status == "claimed":
                    self._launch(s, t)
            repo.advance(s.name, s.next_fire_at, next_fire(s.cron, s.interval_s, due[-1]))
        for s in repo.event_schedules():
            for event in repo.pending_events(s):
                status = repo.claim_event(s.name, event.id, self.id)
                fired.append(Fired(s.name, event.created_at, status))
                if status == "claimed":
                    self._launch(s, event.created_at, event)
        for s in repo.all():
            if s.overlap == "queue" and not s.paused and s.event is None:
                queued = repo.claim_queued(s.name, self.id)
                if queued is not None:
                    fired.append(Fired(s.name, queued, "claimed"))
                    self._launch(s, queued)
        return fired

    def _launch(self, s: Schedule, fire_time: datetime, event: Event | None = None) -> None:
        thread = threading.Thread(
            target=self._run,
            args=(s, fire_time, event),
            name=f"podium-schedule-{s.name}",
            daemon=True,
        )
        self.threads = [t for t in self.threads if t.is_alive()]
        self.threads.append(thread)
        thread.start()

    def _run(self, s: Schedule, fire_time: datetime, event: Event | None) -> None:
        repo = self.ws.store.schedules

        def started(run: Run) -> None:
            if event is None:
                repo.started(s.name, fire_time, run.id)
            else:
                repo.event_outcome(s.name, event.id, run_id=run.id)

        try:
            pipe = load_pipeline(s.pipeline_ref)
            params = dict(s.params)
            if event is not None:  # the event's payload fills the pipeline's parameters
                accepted = pipe.signature.parameters
                params.update({k: v for k, v in event.payload.items() if k in accepted})
            trigger = f"schedule:{s.name}" if event is None else f"event:{event.name}"
            result = pipe.run(
                workspace=self.ws,
                trigger=trigger,
                scheduled_time=fire_time,
                raise_on_failure=False,
                on_start=started,
                **params,
            )
            log.info("Schedule %s fired %s: run %s %s", s.name, fire_time, result.id, result.status)
        except Exception as exc:  # recorded on the fire, never lost with the thread
            if isinstance(exc, PodiumError):
                log.error("Schedule %s could not start its run for %s: %s", s.name, fire_time, exc)
                note = str(exc)
            else:
                log.exception("Schedule %s failed its run for %s", s.name, fire_time)
                note = f"{type(exc).__name__}: {exc}"
            if event is None:
                repo.failed(s.name, fire_time, note)
            else:
                repo.event_outcome(s.name, event.id, note=note)

    def serve_forever(self) -> None:
        """Tick until :attr:`stop` is set, then wait for the runs in flight."""
        while not self.stop.is_set():
            try:
                self.tick_once()
            except PodiumError as exc:  # a store hiccup: try again next tick
                log.error("Scheduler tick failed: %s", exc)
            self.stop.wait(self.tick)
        for thread in self.threads:
            thread.join()
