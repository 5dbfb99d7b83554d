"""``podium runs``: list and show pipeline runs."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.text import Text

from podium.cli.render import STATUS_STYLE, out, print_json, table
from podium.client import Client
from podium.core.records import StepRun

app = typer.Typer(help="Pipeline runs and their steps.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def _status(s: str) -> Text:
    return Text(s, style=STATUS_STYLE.get(s, "white"))


@app.command("list")
def list_runs(
    pipeline: Annotated[str | None, typer.Option(help="Only this pipeline.")] = None,
    status: Annotated[str | None, typer.Option(help="Only this status.")] = None,
    trigger: Annotated[
        str | None,
        typer.Option(help="Only runs so started: manual, schedule, event (or schedule:NAME)."),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many.")] = 20,
    offset: Annotated[int, typer.Option(min=0, help="Skip this many.")] = 0,
    json_: JsonOpt = False,
) -> None:
    """List runs, newest first (runs whose process died are marked crashed first)."""
    client = Client()
    client.recover_crashed_runs()
    runs = client.list_runs(
        pipeline=pipeline, status=status, trigger=trigger, limit=limit, offset=offset
    )
    if json_:
        print_json([r.to_dict() for r in runs])
        return
    if not runs:
        out.print("No runs yet. Try `podium quickstart`.")
        return
    table(
        None,
        ["run", "pipeline", "status", "trigger", "started", "duration s"],
        [
            [r.id, r.pipeline, _status(r.status), r.trigger, r.started_at, r.duration_s]
            for r in runs
        ],
    )


def _cache(step: StepRun) -> str:
    info = step.cache_info
    if step.cache_hit:
        return f"hit (run {info.get('from_run', '?')})"
    return f"miss: {info['reason']}" if info.get("reason") else "-"


@app.command("resume")
def resume(
    run_id: Annotated[str, typer.Argument(help="Run id of a failed run.")],
    workers: Annotated[int | None, typer.Option(min=1, help="Parallel steps at most.")] = None,
    executor: Annotated[str | None, typer.Option(help="local or ray.")] = None,
    json_: JsonOpt = False,
) -> None:
    """Re-run the failed and not-yet-run steps of a run, reusing the outputs it stored."""
    from podium.cli.pipelines import run_live
    from podium.cli.server import local_only
    from podium.pipelines import resume_run

    local_only("runs resume")
    run = Client().get_run(run_id)
    run_live(
        [s.name for s in run.steps],
        lambda on_event: resume_run(
            run_id, max_workers=workers, on_event=on_event, executor=executor
        ),
        json_,
    )


@app.command("show")
def show(
    run_id: Annotated[str, typer.Argument(help="Run id (from `podium runs list`).")],
    json_: JsonOpt = False,
) -> None:
    """Show a run with each step's status, timing, outputs and error (a run whose process
    died is marked crashed first)."""
    client = Client()
    client.recover_crashed_runs()
    run = client.get_run(run_id)
    if json_:
        print_json(run.to_dict())
        return
    out.print(
        Text.assemble(
            ("run " + run.id, "bold"),
            f"  pipeline {run.pipeline}  ",
            _status(run.status),
            f"  params {run.params}",
        )
    )
    table(
        None,
        ["step", "status", "tries", "duration s", "cache", "upstream", "outputs"],
        [
            [s.name, _status(s.status), s.attempts, s.duration_s, _cache(s), s.upstream, s.outputs]
            for s in run.steps
        ],
    )
    for s in run.steps:
        if s.error:
            out.print(f"[red]{escape(s.name)}[/]: {escape(s.error)}", markup=True)
