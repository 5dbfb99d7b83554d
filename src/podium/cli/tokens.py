"""``podium tokens``: API tokens with roles for servers run with ``--auth``."""

from __future__ import annotations

from typing import Annotated

import typer

from podium.cli.render import err, out, print_json, table
from podium.client import Client
from podium.core.clock import utcnow

app = typer.Typer(
    help="API tokens (viewer < predictor < operator < admin) for servers run with --auth.",
    no_args_is_help=True,
)


@app.command("create")
def create(
    name: Annotated[str, typer.Option("--name", help="A name to tell the token apart by.")],
    role: Annotated[str, typer.Option("--role", help="viewer, predictor, operator or admin.")],
    expires: Annotated[
        str | None, typer.Option("--expires", help="Expire after this long: 30d, 12h.")
    ] = None,
    json_: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Create a token and print its secret, once: it is stored only as a hash."""
    from podium.pipelines.schedules import parse_every

    seconds = parse_every(expires) if expires is not None else None
    record, secret = Client().create_token(name, role, expires_in_s=seconds)
    if json_:
        print_json({**record.to_dict(), "secret": secret})
        return
    until = f"until {record.expires_at:%Y-%m-%d %H:%M} UTC" if record.expires_at else "no expiry"
    err.print(f"Token {record.name!r}: role {record.role}, {until}. Its secret (shown only now):")
    out.print(secret)
    err.print("Send it as `Authorization: Bearer <secret>`; store it like a password.")


@app.command("list")
def list_tokens(
    json_: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """List tokens (never their secrets): role, status, expiry, last use."""
    tokens = Client().list_tokens()
    now = utcnow()
    if json_:
        print_json([{**t.to_dict(), "status": t.status(now)} for t in tokens])
        return
    if not tokens:
        out.print("No token yet. Create one with `podium tokens create --name N --role R`.")
        return
    table(
        None,
        ["name", "role", "status", "prefix", "created", "expires", "last used"],
        [
            [
                t.name,
                t.role,
                t.status(now),
                f"{t.prefix}...",
                t.created_at,
                t.expires_at,
                t.last_used_at,
            ]
            for t in tokens
        ],
    )


@app.command("revoke")
def revoke(
    name: Annotated[str, typer.Argument(help="The token's name.")],
    json_: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Revoke a token for good; running servers refuse it within a few seconds."""
    record = Client().revoke_token(name)
    if json_:
        print_json(record.to_dict())
        return
    out.print(f"Token {record.name!r} revoked at {record.revoked_at:%Y-%m-%d %H:%M:%S} UTC.")
