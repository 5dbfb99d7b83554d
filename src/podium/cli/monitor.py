"""``podium status``, ``podium monitor`` (alerts and retraining), ``podium monitor report``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from podium.cli.render import out, print_json, table
from podium.client import Client

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
RowsOpt = Annotated[
    int | None, typer.Option("--rows", min=1, help="Window: the newest N predictions.")
]
MinutesOpt = Annotated[
    float | None, typer.Option("--minutes", min=0.01, help="Window: the last N minutes.")
]

app = typer.Typer(
    help="Watch deployments: alerts to log, webhook and e-mail; retraining; reports.",
    invoke_without_command=True,
)


def status(
    name: Annotated[str | None, typer.Argument(help="One deployment, in detail.")] = None,
    rows: RowsOpt = None,
    minutes: MinutesOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Health, drift and performance of every deployment at a glance, or one in detail."""
    client = Client()
    names = [name] if name else [d.name for d in client.list_deployments()]
    snaps = [client.monitor_snapshot(n, rows=rows, minutes=minutes) for n in names]
    if json_:
        print_json(snaps if name is None else snaps[0])
        return
    if not snaps:
        out.print("No deployment yet. Create one with `podium deploy -f FILE.yaml`.")
        return
    loops = {r["deployment"]: r["phase"] for r in client.retraining_loops()}
    if name is not None:
        _detail(snaps[0], loops.get(name), client.alerts(name, limit=5))
        return
    table(
        None,
        ["deployment", "requests", "errors", "p99 ms", "data drift", "performance", "retraining"],
        [
            [
                s["deployment"],
                s["health"]["requests"],
                _pct(s["health"]["error_rate"]),
                _num(s["health"]["p99_ms"]),
                _drift(s["drift"]),
                _metric(s["performance"]),
                loops.get(s["deployment"], "-"),
            ]
            for s in snaps
        ],
    )


def _drift(d: dict[str, Any]) -> str:
    if d.get("status") != "ok":
        return "no reference"
    if d["share"] is None:
        return "not enough data"
    return f"{len(d['drifted'])}/{d['tested']}" + (" DRIFT" if d["dataset_drift"] else "")


def _metric(perf: dict[str, Any]) -> str:
    key = "accuracy" if perf["task"] == "classification" else "rmse"
    return f"{key} {_num(perf[key])}" if perf[key] is not None else "no labels"


def _detail(s: dict[str, Any], loop: str | None, alerts: list[dict[str, Any]]) -> None:
    h, d, p, perf, c = (
        s["health"],
        s["drift"],
        s["prediction_drift"],
        s["performance"],
        s["concept"],
    )
    w = s["window"]
    out.print(
        f"[bold]{s['deployment']}[/bold]: {s['version'] or s['model']}, window of "
        f"{w['requests']} requests ({w['from'] or '-'} to {w['to'] or '-'})"
    )
    delay = perf["label_delay"]["median_s"]
    lines = [
        [
            "health",
            f"{h['requests']} requests, {_pct(h['error_rate'])} errors, p50 "
            f"{_num(h['p50_ms'])} ms, p99 {_num(h['p99_ms'])} ms, {_num(h['throughput_rps'])} "
            f"req/s, memory {_num(h['memory_mb'])} MB",
        ],
        ["data drift", _drift(d) + (f": {', '.join(d['drifted'])}" if d.get("drifted") else "")],
        ["prediction drift", "-" if p.get("status") != "ok" else ", ".join(p["drifted"]) or "none"],
        [
            "performance",
            ", ".join(
                f"{k} {_num(perf[k])}"
                for k in ("accuracy", "f1", "roc_auc", "mae", "rmse", "r2")
                if perf.get(k) is not None
            )
            or "no labels yet",
        ],
        [
            "labels",
            f"{perf['labelled']} labelled, coverage {_pct(perf['label_coverage'])}, "
            f"median delay {_num(delay)} s",
        ],
        ["concept drift", ", ".join(f"{k} {r['state']}" for k, r in c["detectors"].items())],
        ["retraining", loop or "-"],
        [
            "last alerts",
            ", ".join(f"{a['rule']} ({a['at']:%Y-%m-%d %H:%M})" for a in alerts) or "none",
        ],
    ]
    table(None, ["", ""], lines)


def _num(v: float | None) -> str:
    return "-" if v is None else f"{v:,.3g}" if abs(v) < 1000 else f"{v:,.0f}"


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v:.1%}"


@app.callback()
def monitor(
    ctx: typer.Context,
    deployment: Annotated[
        list[str] | None,
        typer.Option(
            "--deployment",
            "-d",
            help="Watch only these (default: every one with a monitoring block).",
        ),
    ] = None,
    once: Annotated[bool, typer.Option("--once", help="One pass, then exit.")] = False,
    interval: Annotated[float, typer.Option(min=0.1, help="Seconds between passes.")] = 60.0,
    json_: JsonOpt = False,
) -> None:
    """Evaluate alert rules and run retraining loops: until stopped, or once with --once."""
    if ctx.invoked_subcommand is not None:
        return
    import signal

    from podium.cli.server import local_only
    from podium.watch import Monitor
    from podium.workspace import Workspace

    local_only("monitor")
    m = Monitor(Workspace.current(), names=deployment, interval=interval, background=not once)
    if once:
        result = m.once()
        if json_:
            print_json(result)
            return
        for name, r in result.items():
            if "error" in r:
                out.print(f"{name}: [red]{r['error']}[/red]")
                continue
            fired = ", ".join(a["rule"] for a in r["alerts"]) or "no alert"
            out.print(f"{name}: {fired}; retraining: {r['loop'] or '-'}")
        if not result:
            out.print("No deployment has a monitoring block; see examples/deployments/.")
        return
    signal.signal(signal.SIGTERM, lambda *_: m.stop.set())
    out.print(f"Monitoring every {interval:g} s; Ctrl-C to stop.")
    try:
        m.run()
    except KeyboardInterrupt:
        m.stop.set()


@app.command("report")
def report(
    name: Annotated[str, typer.Argument(help="Deployment name.")],
    out_path: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write the HTML report here.")
    ] = None,
    rows: RowsOpt = None,
    minutes: MinutesOpt = None,
    json_: JsonOpt = False,
) -> None:
    """One self-contained HTML file (no network needed) with drift, performance and health."""
    from podium.watch.report import html

    data = Client().monitor_report(name, rows=rows, minutes=minutes)
    if json_:
        print_json(data)
    if out_path is not None:
        out_path.write_text(html(data), encoding="utf-8")
        if not json_:
            size = out_path.stat().st_size
            out.print(f"Wrote {out_path} ({size / 1024:,.0f} KB).")
    elif not json_:
        raise typer.BadParameter("give --out report.html, or --json.")


@app.command("alerts")
def alerts(
    name: Annotated[str | None, typer.Argument(help="One deployment (default: all).")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
    json_: JsonOpt = False,
) -> None:
    """Fired alerts, newest first, with how each sink took them."""
    items = Client().alerts(name, limit=limit)
    if json_:
        print_json(items)
        return
    if not items:
        out.print("No alert has fired.")
        return
    table(
        None,
        ["at", "deployment", "rule", "figure", "value", "severity", "sinks"],
        [
            [
                a["at"],
                a["deployment"],
                a["rule"],
                f"{a['figure']} {a['op']} {a['threshold']:g}",
                _num(a["value"]),
                a["severity"],
                ", ".join(
                    f"{d['sink']} {'ok' if d['ok'] else 'FAILED'}"
                    for d in a["detail"].get("deliveries", [])
                ),
            ]
            for a in items
        ],
    )
