"""``podium retention`` and ``podium gc``."""

from __future__ import annotations

from typing import Annotated

import typer

from podium.cli.render import out, print_json, table
from podium.client import Client

app = typer.Typer(
    help="Retention policies for runs, model versions and prediction logs.", no_args_is_help=True
)


@app.command("set")
def set_policy(
    kind: Annotated[str, typer.Argument(help="pipeline, model or predictions.")],
    name: Annotated[str, typer.Argument(help="Pipeline, model or deployment name.")],
    keep_last: Annotated[int | None, typer.Option(min=1, help="Keep the newest N.")] = None,
    max_age: Annotated[str | None, typer.Option(help="Expire older than this: 30d, 12h.")] = None,
) -> None:
    """Set the retention policy of a pipeline's runs, a model's versions or a deployment's
    prediction log (`podium retention set predictions churn --max-age 30d`)."""
    from podium.pipelines.schedules import parse_every

    seconds = parse_every(max_age) if max_age is not None else None
    p = Client().set_retention(kind, name, keep_last=keep_last, max_age_s=seconds)
    out.print(
        f"Retention for {p['kind']} {p['name']!r}: keep last {p['keep_last'] or '-'}, "
        f"max age {max_age or '-'}. `podium gc --dry-run` shows what would go."
    )


@app.command("list")
def list_policies(json_: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List retention policies."""
    items = Client().retention_policies()
    if json_:
        print_json(items)
        return
    table(
        None,
        ["kind", "name", "keep last", "max age s"],
        [[p["kind"], p["name"], p["keep_last"], p["max_age_s"]] for p in items],
    )


@app.command("remove")
def remove(
    kind: Annotated[str, typer.Argument(help="pipeline, model or predictions.")],
    name: Annotated[str, typer.Argument(help="Pipeline or model name.")],
) -> None:
    """Remove a retention policy (nothing of that pipeline, model or log expires any more)."""
    Client().remove_retention(kind, name)
    out.print(f"Retention policy for {kind} {name!r} removed.")


def gc(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show, delete nothing.")] = False,
    json_: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Delete expired runs, versions and logged predictions, and unreferenced blobs (never an
    aliased version)."""
    from podium.pipelines.retention import gc as collect
    from podium.workspace import Workspace

    plan = collect(Workspace.current(), dry_run=dry_run)
    if json_:
        print_json({**plan.to_dict(), "dry_run": dry_run})
        return
    verb = "Would delete" if dry_run else "Deleted"
    versions = sum(len(v) for v in plan.versions.values())
    out.print(
        f"{verb} {len(plan.runs)} run(s), {versions} model version(s), "
        f"{sum(n for _, n in plan.predictions.values()):,} logged prediction(s) and "
        f"{len(plan.blobs)} blob(s) ({plan.bytes / 1e6:.1f} MB)."
    )
    for model, vs in plan.versions.items():
        out.print(f"  {model}: versions {', '.join(str(n) for _, n in vs)}")
    for deployment, (cut, n) in plan.predictions.items():
        out.print(f"  {deployment}: {n:,} logged prediction(s) from before {cut:%Y-%m-%d %H:%M}")
