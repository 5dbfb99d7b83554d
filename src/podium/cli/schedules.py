"""``podium schedules`` and ``podium scheduler``."""

from __future__ import annotations

import signal
from typing import Annotated, Any

import typer

from podium.cli.pipelines import parse_params
from podium.cli.render import err, out, print_json, table
from podium.client import Client
from podium.workspace import Workspace

app = typer.Typer(help="Cron and interval schedules of pipelines.", no_args_is_help=True)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


@app.command("add")
def add(
    pipeline_ref: Annotated[str, typer.Argument(help="module:function or file.py:function.")],
    cron: Annotated[str | None, typer.Option(help="Cron expression, UTC: '0 3 * * *'.")] = None,
    every: Annotated[str | None, typer.Option(help="Interval: 30s, 15m, 1h30m, 1d.")] = None,
    on_data: Annotated[
        str | None, typer.Option(help="Fire on each new version of this dataset.")
    ] = None,
    on_event: Annotated[
        str | None, typer.Option(help="Fire on each event of this name (podium schedules emit).")
    ] = None,
    name: Annotated[str | None, typer.Option(help="Schedule name (default: pipeline).")] = None,
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="NAME=VALUE, repeatable.")
    ] = None,
    missed: Annotated[
        str,
        typer.Option(
            help="Fires missed while no scheduler ran: skip, latest or all (with 'all', "
            "--overlap queue runs each one instead of skipping those beyond the limit)."
        ),
    ] = "skip",
    overlap: Annotated[
        str, typer.Option(help="When max-concurrent runs are in flight: skip or queue.")
    ] = "skip",
    max_concurrent: Annotated[int, typer.Option(min=1, help="Runs in flight at most.")] = 1,
    json_: JsonOpt = False,
) -> None:
    """Schedule a pipeline on a clock or an event; `podium scheduler` fires it."""
    if on_data is not None and on_event is not None:
        raise typer.BadParameter("give --on-data or --on-event, not both.")
    event = f"data:{on_data}" if on_data is not None else on_event
    s = Client().add_schedule(
        pipeline_ref,
        name=name,
        cron=cron,
        every=every,
        on_event=event,
        params=parse_params(param or []),
        missed=missed,
        overlap=overlap,
        max_concurrent=max_concurrent,
    )
    if json_:
        print_json(s.to_dict())
        return
    when = (
        f"on each {s.event!r} event"
        if s.event
        else f"next fire {s.next_fire_at:%Y-%m-%d %H:%M:%S} UTC"
    )
    out.print(f"Schedule {s.name!r} added; {when}. Start `podium scheduler` to fire it.")


def _when(s: Any) -> str:
    if s.event:
        return f"on {s.event}"
    return s.cron or f"every {s.interval_s:g} s"


@app.command("emit")
def emit(
    event: Annotated[str, typer.Argument(help="Event name, e.g. alert:drift.")],
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="Payload NAME=VALUE.")
    ] = None,
) -> None:
    """Emit an event: schedules added with --on-event EVENT fire once for it."""
    e = Client().emit_event(event, parse_params(param or []))
    out.print(f"Event {e.name!r} #{e.id} emitted; `podium scheduler` fires what listens to it.")


@app.command("list")
def list_schedules(json_: JsonOpt = False) -> None:
    """List schedules with their next fire time."""
    items = Client().list_schedules()
    if json_:
        print_json([s.to_dict() for s in items])
        return
    if not items:
        out.print(
            "No schedule yet. Add one with `podium schedules add FILE.py:PIPELINE --every 1h`."
        )
        return
    table(
        None,
        ["schedule", "pipeline", "when", "next fire (UTC)", "paused", "params", "missed/overlap"],
        [
            [
                s.name,
                s.pipeline_ref,
                _when(s),
                None if s.event else s.next_fire_at,
                s.paused,
                s.params,
                f"{s.missed}/{s.overlap} (max {s.max_concurrent})",
            ]
            for s in items
        ],
    )


@app.command("fires")
def fires(
    name: Annotated[str, typer.Argument(help="Schedule name.")], json_: JsonOpt = False
) -> None:
    """Show a schedule's fires: when, what happened, which run."""
    items = Client().schedule_fires(name)
    if json_:
        print_json([f.to_dict() for f in items])
        return
    table(
        None,
        ["fire time (UTC)", "status", "run", "by", "note"],
        [[f.fire_time, f.status, f.run_id, f.claimed_by, f.note] for f in items],
    )


@app.command("pause")
def pause(name: Annotated[str, typer.Argument(help="Schedule name.")]) -> None:
    """Stop firing a schedule until it is resumed."""
    Client().pause_schedule(name)
    out.print(f"Schedule {name!r} paused.")


@app.command("resume")
def resume(name: Annotated[str, typer.Argument(help="Schedule name.")]) -> None:
    """Fire a paused schedule again, from its next fire time after now."""
    s = Client().resume_schedule(name)
    out.print(f"Schedule {name!r} resumed; next fire {s.next_fire_at:%Y-%m-%d %H:%M:%S} UTC.")


@app.command("remove")
def remove(name: Annotated[str, typer.Argument(help="Schedule name.")]) -> None:
    """Delete a schedule and its fire history."""
    Client().remove_schedule(name)
    out.print(f"Schedule {name!r} removed.")


def scheduler(
    tick: Annotated[float, typer.Option(min=0.05, help="Seconds between looks.")] = 1.0,
    once: Annotated[
        bool, typer.Option("--once", help="Look once, fire what is due, wait.")
    ] = False,
) -> None:
    """Fire due schedules until stopped (SIGTERM or Ctrl-C finishes the runs in flight)."""
    from podium.pipelines.schedules import Scheduler

    s = Scheduler(Workspace.current(), tick=tick)
    if once:
        fired: list[Any] = s.tick_once()
        for thread in s.threads:
            thread.join()
        for f in fired:
            out.print(f"{f.schedule} {f.fire_time:%Y-%m-%d %H:%M:%S} {f.status}")
        return

    def stop(*_: object) -> None:
        s.stop.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    err.print(f"Scheduler {s.id} watching {Workspace.current().settings.db_url} every {tick:g} s.")
    s.serve_forever()
