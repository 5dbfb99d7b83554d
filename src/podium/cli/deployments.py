"""``podium deploy`` and ``podium deployments``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from podium.cli.render import out, print_json, table
from podium.workspace import Workspace

app = typer.Typer(help="Deployments: desired state, status and history.", no_args_is_help=True)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def deploy(
    model_uri: Annotated[
        str | None, typer.Argument(help="A model to deploy alone (with --name).")
    ] = None,
    file: Annotated[Path | None, typer.Option("-f", "--file", help="A deployment YAML.")] = None,
    name: Annotated[str | None, typer.Option(help="Deployment name for MODEL_URI.")] = None,
    json_: JsonOpt = False,
) -> None:
    """Apply a deployment file, or deploy one model version: `podium deploy -f canary.yaml`."""
    from podium.deploy import apply, deploy_model

    ws = Workspace.current()
    if (file is None) == (model_uri is None):
        raise typer.BadParameter("give either -f FILE or MODEL_URI --name NAME.")
    if file is not None:
        dep = apply(ws, file)
    else:
        if name is None:
            raise typer.BadParameter("deploying MODEL_URI needs --name NAME.")
        dep = deploy_model(ws, model_uri or "", name)
    if json_:
        print_json(dep.to_dict())
        return
    out.print(
        f"Deployment {dep.name!r} at revision {dep.revision} "
        f"({dep.spec['strategy']}, {len(dep.spec['variants'])} variant(s))."
    )


@app.command("list")
def list_deployments(json_: JsonOpt = False) -> None:
    """List deployments."""
    items = Workspace.current().store.deployments.all()
    if json_:
        print_json([d.to_dict() for d in items])
        return
    if not items:
        out.print("No deployment yet. Create one with `podium deploy -f FILE.yaml`.")
        return
    table(
        None,
        ["deployment", "strategy", "revision", "status", "variants", "updated"],
        [
            [
                d.name,
                d.spec["strategy"],
                d.revision,
                d.status,
                ", ".join(d.spec["variants"]),
                d.updated_at,
            ]
            for d in items
        ],
    )


@app.command("status")
def status(name: Annotated[str, typer.Argument()], json_: JsonOpt = False) -> None:
    """A deployment's strategy, variants and the versions they resolve to now."""
    from podium.deploy import resolved_versions

    ws = Workspace.current()
    dep = ws.store.deployments.get(name)
    versions = resolved_versions(ws, dep)
    if json_:
        print_json({**dep.to_dict(), "resolved": versions})
        return
    out.print(
        f"{dep.name}: {dep.spec['strategy']}, revision {dep.revision}, {dep.status}"
        + (f", state {dep.state}" if dep.state else "")
    )
    table(
        None,
        ["variant", "model", "resolves to"],
        [[v, dep.spec["variants"][v]["model"], versions[v]] for v in dep.spec["variants"]],
    )


@app.command("history")
def history(name: Annotated[str, typer.Argument()], json_: JsonOpt = False) -> None:
    """Every change of a deployment, newest first."""
    events = Workspace.current().store.deployments.history(name)
    if json_:
        print_json([e.to_dict() for e in events])
        return
    table(
        None,
        ["at", "event", "revision", "by", "detail"],
        [[e.at, e.kind, e.revision, e.actor, e.detail] for e in events],
    )


@app.command("pause")
def pause(name: Annotated[str, typer.Argument()]) -> None:
    """Pause a deployment's rollout (traffic stays as it is)."""
    Workspace.current().store.deployments.set_status(name, "paused")
    out.print(f"Deployment {name!r} paused.")


@app.command("resume")
def resume(name: Annotated[str, typer.Argument()]) -> None:
    """Resume a paused rollout."""
    Workspace.current().store.deployments.set_status(name, "active")
    out.print(f"Deployment {name!r} resumed.")


@app.command("promote")
def promote(name: Annotated[str, typer.Argument()]) -> None:
    """Blue-green: switch all traffic to the idle colour. Canary: the candidate takes 100%."""
    from podium.deploy import promote as do_promote

    dep = do_promote(Workspace.current(), name)
    out.print(f"Deployment {name!r} promoted: {dep.state}.")


@app.command("rollback")
def rollback(name: Annotated[str, typer.Argument()]) -> None:
    """Blue-green: back to the previous colour at once. Canary: the candidate gets 0%."""
    from podium.deploy import rollback as do_rollback

    dep = do_rollback(Workspace.current(), name)
    out.print(f"Deployment {name!r} rolled back: {dep.state}.")


def traffic(
    name: Annotated[str, typer.Argument(help="Deployment name.")],
    shares: Annotated[list[str], typer.Argument(help="VARIANT=PERCENT, e.g. candidate=25.")],
) -> None:
    """Change traffic shares: `podium traffic churn-ab a=50 b=50`."""
    from podium.core.errors import ValidationError
    from podium.deploy import set_traffic

    parsed: dict[str, float] = {}
    for item in shares:
        variant, sep, raw = item.partition("=")
        try:
            parsed[variant] = float(raw)
        except ValueError:
            sep = ""
        if not sep or not variant:
            raise ValidationError(
                f"Invalid share {item!r}: expected VARIANT=PERCENT.",
                field="shares",
                hint="E.g. podium traffic churn candidate=25.",
            )
    dep = set_traffic(Workspace.current(), name, parsed)
    out.print(f"Traffic of {name!r} set: {dep.state}.")


def controller(
    interval: Annotated[float, typer.Option(min=0.1, help="Seconds between analyses.")] = 5.0,
    once: Annotated[bool, typer.Option("--once", help="Analyse once and exit.")] = False,
) -> None:
    """Run canary analysis: advance, promote, roll back or pause each canary by its gates."""
    import signal

    from podium.deploy.controller import Controller, tick

    ws = Workspace.current()
    if once:
        for name, d in tick(ws).items():
            out.print(f"{name}: {d.action} at {d.percent:g}% ({d.reason})")
        return
    ctl = Controller(ws, interval)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: ctl.stop.set())
    ctl.serve_forever()
