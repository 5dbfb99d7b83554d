"""``podium audit list``: the append-only record of every change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from podium.cli.render import out, print_json, table
from podium.client import Client
from podium.core.errors import ValidationError

app = typer.Typer(help="The audit log: who changed what, when, before and after.")


@app.command("list")
def list_records(
    target: Annotated[
        str | None, typer.Option(help="Only this target, e.g. models:/churn@champion.")
    ] = None,
    target_prefix: Annotated[
        str | None,
        typer.Option(help="Only targets starting so: models:/churn also finds its versions."),
    ] = None,
    actor: Annotated[str | None, typer.Option(help="Only changes made by this actor.")] = None,
    action: Annotated[str | None, typer.Option(help="Only this action, e.g. alias.set.")] = None,
    since: Annotated[
        str | None, typer.Option(help="Only newer records: an ISO time, or an age like 1h, 2d.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=100_000, help="At most this many.")] = 100,
    offset: Annotated[int, typer.Option(min=0, help="Skip this many newest records first.")] = 0,
    json_: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """List audit records, newest first: `podium audit list --target models:/churn@champion`."""
    records = Client().audit(
        target=target,
        target_prefix=target_prefix,
        actor=actor,
        action=action,
        since=parse_since(since) if since is not None else None,
        limit=limit,
        offset=offset,
    )
    if json_:
        print_json([r.to_dict() for r in records])
        return
    if not records:
        out.print("No audit record matches.")
        return
    table(
        None,
        ["at", "actor", "action", "target", "before", "after"],
        [[r.at, r.actor, r.action, r.target, r.before, r.after] for r in records],
    )


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """An ISO date or time (UTC when it names no zone), or an age such as ``90m`` or ``2d``."""
    from podium.pipelines.schedules import parse_every

    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        try:
            seconds = parse_every(text)
        except ValidationError:
            raise ValidationError(
                f"--since {text!r} is neither an ISO time nor an age.",
                field="--since",
                hint="Use e.g. --since 2025-01-31T12:00, --since 1h or --since 2d.",
            ) from None
        return (now or datetime.now(UTC)) - timedelta(seconds=seconds)
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)
