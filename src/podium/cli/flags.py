"""``podium flags``: change feature flags of a running deployment, without a redeploy."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from podium.cli.render import out, print_json, table
from podium.client import Client

app = typer.Typer(
    help="Feature flags of a 'flags' deployment, changed at run time.", no_args_is_help=True
)


def _flags(deployment: str) -> list[dict[str, Any]]:
    return Client().flags(deployment)


@app.command("list")
def list_flags(
    deployment: Annotated[str, typer.Argument(help="Deployment name.")],
    json_: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The flags with their current settings (spec plus runtime changes)."""
    flags = _flags(deployment)
    if json_:
        print_json(flags)
        return
    table(
        None,
        ["flag", "variant", "enabled", "percent", "killed", "rules"],
        [
            [
                f["name"],
                f["variant"],
                f.get("enabled", True),
                f.get("percent", 100),
                f["kill"],
                [f"{r['attribute']} {r['op']} {r.get('value')}" for r in f["rules"]],
            ]
            for f in flags
        ],
    )


@app.command("get")
def get(
    deployment: Annotated[str, typer.Argument(help="Deployment name.")],
    flag: Annotated[str, typer.Argument(help="Flag name.")],
) -> None:
    """One flag's current settings, as JSON."""
    found = [f for f in _flags(deployment) if f["name"] == flag]
    if not found:
        from podium.core.errors import NotFoundError

        raise NotFoundError(
            f"Deployment {deployment!r} has no flag {flag!r}.",
            hint=f"List them with `podium flags list {deployment}`.",
        )
    print_json(found[0])


@app.command("set")
def set_flag(
    deployment: Annotated[str, typer.Argument(help="Deployment name.")],
    flag: Annotated[str, typer.Argument(help="Flag name.")],
    percent: Annotated[float | None, typer.Option(min=0, max=100, help="Rollout %.")] = None,
    enabled: Annotated[bool | None, typer.Option("--enable/--disable")] = None,
    kill: Annotated[bool | None, typer.Option("--kill/--revive", help="Kill switch.")] = None,
) -> None:
    """Change a flag: `podium flags set churn-flags next-model-eu --percent 50` or `--kill`."""
    dep = Client().set_flag(deployment, flag, enabled=enabled, percent=percent, kill=kill)
    out.print(f"Flag {flag!r} of {deployment!r}: {dep.state['flags'][flag]}.")
