"""``podium runs``: list and show pipeline runs."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.text import Text

from podium.cli.render import out, print_json, table
from podium.client import Client

app = typer.Typer(help="Pipeline runs and their steps.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
STATUS_STYLE = {
    "succeeded": "green",
    "failed": "red",
    "running": "yellow",
    "skipped": "dim",
    "crashed": "red",
}


def _status(s: str) -> Text:
    return Text(s, style=STATUS_STYLE.get(s, "white"))


@app.command("list")
def list_runs(
    pipeline: Annotated[str | None, typer.Option(help="Only this pipeline.")] = None,
    status: Annotated[str | None, typer.Option(help="Only this status.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many.")] = 20,
    offset: Annotated[int, typer.Option(min=0, help="Skip this many.")] = 0,
    json_: JsonOpt = False,
) -> None:
    """List runs, newest first."""
    runs = Client().list_runs(pipeline=pipeline, status=status, limit=limit, offset=offset)
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


@app.command("show")
def show(
    run_id: Annotated[str, typer.Argument(help="Run id (from `podium runs list`).")],
    json_: JsonOpt = False,
) -> None:
    """Show a run with each step's status, timing, outputs and error."""
    run = Client().get_run(run_id)
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
        ["step", "status", "duration s", "upstream", "outputs"],
        [[s.name, _status(s.status), s.duration_s, s.upstream, s.outputs] for s in run.steps],
    )
    for s in run.steps:
        if s.error:
            out.print(f"[red]{escape(s.name)}[/]: {escape(s.error)}", markup=True)
