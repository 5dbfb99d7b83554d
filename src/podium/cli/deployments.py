"""``podium deploy`` and ``podium deployments``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from podium.cli.render import out, print_json, table
from podium.client import Client

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
    client = Client()
    if (file is None) == (model_uri is None):
        raise typer.BadParameter("give either -f FILE or MODEL_URI --name NAME.")
    if file is not None:
        dep = client.deploy(file)
    else:
        if name is None:
            raise typer.BadParameter("deploying MODEL_URI needs --name NAME.")
        dep = client.deploy_model(model_uri or "", name)
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
    items = Client().list_deployments()
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
def status(
    name: Annotated[str, typer.Argument()],
    window: Annotated[
        int, typer.Option(min=1, help="Newest logged predictions to count.")
    ] = 10_000,
    json_: JsonOpt = False,
) -> None:
    """Variants and their figures, the A/B test, shadows, bandit and workers at a glance."""
    s = Client().deployment_status(name, window=window)
    if json_:
        print_json(s)
        return
    out.print(
        f"{s['name']}: {s['spec']['strategy']}, revision {s['revision']}, {s['status']}"
        + (f", state {s['state']}" if s["state"] else "")
        + f"  (figures over the newest {s['window']} predictions)"
    )
    table(
        None,
        [
            "variant",
            "model",
            "resolves to",
            "flavor",
            "requests",
            "errors",
            "p50 ms",
            "p99 ms",
            "feedback",
        ],
        [
            [
                v,
                f["model"],
                f["resolves_to"],
                f["flavor"] or "-",
                f["requests"],
                f"{f['error_rate']:.1%}" if f["requests"] else "-",
                _ms(f["p50_ms"]),
                _ms(f["p99_ms"]),
                f"{f['feedback_mean']:.3f} (n={f['feedback']})" if f["feedback"] else "-",
            ]
            for v, f in s["variants"].items()
        ],
    )
    sig = s.get("significance")
    if sig:
        verdict = (
            f"winner {sig['winner']}"
            if sig["winner"]
            else "no significant difference yet"
            if sig["p_value"] is not None
            else "not enough feedback yet (30 a variant)"
        )
        p = f"p = {sig['p_value']:.4g}, " if sig["p_value"] is not None else ""
        out.print(f"A/B on {sig['metric']} (Welch's t-test): {p}{verdict}")
    if s.get("bandit"):
        out.print(
            "Bandit: "
            + ", ".join(
                f"{v} {b['share']:.0%} of traffic"
                + (f", mean reward {b['mean_reward']:.3f}" if b["mean_reward"] is not None else "")
                for v, b in s["bandit"].items()
            )
        )
    if s["shadows"]:
        table(
            "Shadows",
            ["shadow", "mirrored", "errors", "agreement", "p50 ms"],
            [
                [v, f["requests"], f["errors"], f"{f['agreement']:.1%}", _ms(f["p50_ms"])]
                for v, f in s["shadows"].items()
            ],
        )
    if s["workers"]:
        table(
            "Workers",
            ["worker", "revision", "status", "serves", "detail"],
            [
                [
                    w["worker"],
                    w["revision"],
                    w["status"],
                    ", ".join(f"{k}={u}" for k, u in w["versions"].items()),
                    w["detail"],
                ]
                for w in s["workers"]
            ],
        )


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


@app.command("history")
def history(name: Annotated[str, typer.Argument()], json_: JsonOpt = False) -> None:
    """Every change of a deployment, newest first."""
    events = Client().deployment_history(name)
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
    Client().pause(name)
    out.print(f"Deployment {name!r} paused.")


@app.command("resume")
def resume(name: Annotated[str, typer.Argument()]) -> None:
    """Resume a paused rollout."""
    Client().resume(name)
    out.print(f"Deployment {name!r} resumed.")


@app.command("promote")
def promote(name: Annotated[str, typer.Argument()]) -> None:
    """Blue-green: switch all traffic to the idle colour. Canary: the candidate takes 100%."""
    dep = Client().promote(name)
    out.print(f"Deployment {name!r} promoted: {dep.state}.")


@app.command("rollback")
def rollback(name: Annotated[str, typer.Argument()]) -> None:
    """Blue-green: back to the previous colour at once. Canary: the candidate gets 0%."""
    dep = Client().rollback(name)
    out.print(f"Deployment {name!r} rolled back: {dep.state}.")


def traffic(
    name: Annotated[str, typer.Argument(help="Deployment name.")],
    shares: Annotated[list[str], typer.Argument(help="VARIANT=PERCENT, e.g. candidate=25.")],
) -> None:
    """Change traffic shares: `podium traffic churn-ab a=50 b=50`."""
    from podium.core.errors import ValidationError

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
    dep = Client().set_traffic(name, parsed)
    out.print(f"Traffic of {name!r} set: {dep.state}.")


def controller(
    interval: Annotated[float, typer.Option(min=0.1, help="Seconds between analyses.")] = 5.0,
    once: Annotated[bool, typer.Option("--once", help="Analyse once and exit.")] = False,
) -> None:
    """Run canary analysis: advance, promote, roll back or pause each canary by its gates."""
    import signal

    from podium.deploy.controller import Controller, tick
    from podium.workspace import Workspace

    ws = Workspace.current()
    if once:
        for name, d in tick(ws).items():
            out.print(f"{name}: {d.action} at {d.percent:g}% ({d.reason})")
        return
    ctl = Controller(ws, interval)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: ctl.stop.set())
    ctl.serve_forever()
