"""The ``podium`` command. Commands parse, call the Python API and render; nothing else."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from typer.core import TyperGroup

from podium._version import __version__
from podium.cli import (
    approvals,
    audit,
    batch,
    build,
    data,
    deployments,
    edge,
    flags,
    interop,
    k8s,
    lineage,
    models,
    monitor,
    retention,
    runs,
    schedules,
    server,
    stream,
    tokens,
)
from podium.cli.render import err, out, print_error, print_json, setup_logging
from podium.core.errors import PodiumError


class PodiumGroup(TyperGroup):
    """Turns every :class:`PodiumError` into a one-line message, a hint and exit code 1."""

    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except PodiumError as exc:
            print_error(exc)
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            err.print("Interrupted.")
            raise typer.Exit(130) from None


app = typer.Typer(
    cls=PodiumGroup,
    help="podium: train, register, deploy and watch ML models. Start with `podium quickstart`.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(models.app, name="models")
app.add_typer(runs.app, name="runs")
app.add_typer(schedules.app, name="schedules")
app.add_typer(data.app, name="data")
app.command("lineage")(lineage.lineage)
app.add_typer(deployments.app, name="deployments")
app.add_typer(flags.app, name="flags")
app.command("deploy")(deployments.deploy)
app.command("traffic")(deployments.traffic)
app.command("controller")(deployments.controller)
app.add_typer(retention.app, name="retention")
app.command("gc")(retention.gc)
app.command("scheduler")(schedules.scheduler)
app.add_typer(monitor.app, name="monitor")
app.command("status")(monitor.status)
app.command("batch")(batch.batch)
app.command("export")(edge.export)
app.command("stream")(stream.stream)
app.command("build")(build.build)
app.add_typer(build.app, name="env")
app.command("k8s")(k8s.k8s)
app.add_typer(interop.import_app, name="import")
app.add_typer(edge.app, name="edge")
app.add_typer(audit.app, name="audit")
app.add_typer(tokens.app, name="tokens")
app.add_typer(approvals.policies_app, name="policies")
app.add_typer(approvals.app, name="approvals")
app.command("approve")(approvals.approve)
app.command("reject")(approvals.reject)
app.command("server")(server.server)
app.command("ui")(server.ui)


def _version(value: bool) -> None:
    if value:
        out.print(f"podium {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    home: Annotated[
        Path | None,
        typer.Option("--home", envvar="PODIUM_HOME", help="Workspace folder (default ./.podium)."),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    if home is not None:
        os.environ["PODIUM_HOME"] = str(home)
    setup_logging()
    if ctx.invoked_subcommand in server.LOCAL_ONLY:
        server.local_only(ctx.invoked_subcommand)


@app.command()
def quickstart(
    directory: Annotated[
        Path, typer.Option("--dir", help="Folder to work in (its .podium holds the state).")
    ] = Path("."),
    serve: Annotated[bool, typer.Option("--serve", help="Keep serving after the tour.")] = False,
    port: Annotated[
        int | None, typer.Option(min=1, max=65535, help="Server port (default: a free one).")
    ] = None,
    requests: Annotated[int, typer.Option(min=1, max=100_000, help="Requests per protocol.")] = 200,
    json_: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Train, validate, register, serve and query a model in one go: no setup needed."""
    from podium.demos import run_quickstart

    directory.mkdir(parents=True, exist_ok=True)
    say = (lambda _msg: None) if json_ else out.print
    result = run_quickstart(directory, requests=requests, port=port, keep_serving=serve, say=say)
    if json_:
        print_json(result.to_dict())
    else:
        _quickstart_summary(result)
    if result.server is not None:
        out.print(f"\nServing at {result.url} — press Ctrl-C to stop.")
        try:
            result.server.wait()
        except KeyboardInterrupt:
            result.server.terminate()
            result.server.wait()


demo = typer.Typer(help="Guided demos on generated data.", no_args_is_help=True)
app.add_typer(demo, name="demo")


@demo.command("drift")
def demo_drift(
    directory: Annotated[
        Path, typer.Option("--dir", help="Folder to work in (the demo uses DIR/drift-demo).")
    ] = Path("."),
    json_: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Serve a model, shift the world under it, and watch podium detect, retrain and roll out."""
    from podium.demos.drift import run_drift_demo

    say = (lambda _msg: None) if json_ else out.print
    r = run_drift_demo(directory, say=say)
    if json_:
        print_json(r.to_dict())
        return

    def acc(v: float | None) -> str:
        return "-" if v is None else f"{v:.3f}"

    out.print()
    out.print(
        f"Accuracy {acc(r.accuracy_before)} before the change, {acc(r.accuracy_drifted)} when "
        f"monitoring fired, {acc(r.accuracy_after)} after the loop ({r.outcome})."
    )
    out.print(
        f"Champion: {r.champion_before} -> {r.champion_after}; {r.requests} requests "
        f"in {r.total_s:.0f} s."
    )
    out.print(f"Report: {r.report}")
    out.print(f"History: PODIUM_HOME={r.home} podium deployments history drift-demo")


def _quickstart_summary(r: Any) -> None:
    from rich.table import Table

    lat = r.latency_ms
    m = r.metrics
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    grid.add_row(
        "Model",
        f"{r.model_uri} (alias champion): accuracy {m['accuracy']:.3f}, "
        f"F1 {m['f1']:.3f}, ROC AUC {m['roc_auc']:.3f}",
    )
    grid.add_row(
        "Served",
        f"{r.requests} requests, accuracy {r.served_accuracy:.3f}, same "
        f"answers as the in-process model: {'yes' if r.matches_in_process else 'NO'}",
    )
    for route in ("/predict", "v2 infer"):
        grid.add_row(
            route, f"p50 {lat[route]['p50']:.2f} ms, p99 {lat[route]['p99']:.2f} ms (single rows)"
        )
    grid.add_row("Server", f"ready {r.startup_s:.2f} s after start, at {r.url}")
    grid.add_row("Workspace", str(r.home))
    grid.add_row("Total", f"{r.total_s:.1f} s")
    out.print()
    out.print(grid)
    home = f"PODIUM_HOME={r.home} " if r.home != Path(".podium").absolute() else ""
    out.print("\n[bold]Try next[/]", markup=True)
    for line in (
        f"{home}podium models show breast-cancer@champion",
        f"{home}podium runs show {r.run_id}",
        f"{home}podium serve models:/breast-cancer@champion --port 8000",
        "curl -s localhost:8000/v2/models/breast-cancer",
        "open http://127.0.0.1:8000/docs  (every route, with examples)",
    ):
        out.print(f"  {line}", markup=False)


@app.command("run")
def run_pipeline(
    pipeline_ref: Annotated[
        str, typer.Argument(help="module:function or path/to/file.py:function.")
    ],
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="NAME=VALUE, repeatable.")
    ] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="Parallel steps at most.")] = None,
    fail_fast: Annotated[
        bool, typer.Option("--fail-fast", help="Cancel the rest at the first failure.")
    ] = False,
    executor: Annotated[
        str | None,
        typer.Option(help="local or ray (default: $PODIUM_EXECUTOR, else local)."),
    ] = None,
    deploy: Annotated[
        str | None,
        typer.Option(
            "--deploy",
            help="Then serve the model version the run registered as this deployment.",
        ),
    ] = None,
    json_: Annotated[bool, typer.Option("--json", help="Print the run as JSON.")] = False,
) -> None:
    """Run a pipeline, showing its steps live."""
    from podium.cli.pipelines import parse_params, run_live
    from podium.pipelines import load_pipeline

    pipe = load_pipeline(pipeline_ref)
    params = parse_params(param or [])
    steps = list(pipe.build(**params).nodes)
    if deploy is not None:
        from podium.core.names import check_name

        check_name(deploy, "deployment name")  # refuse a bad name before the run, not after

    def deployed(result: Any) -> dict[str, Any]:
        if deploy is None:
            return {}
        return {"deployed": _deploy_registered(result.id, deploy)}

    run_live(
        steps,
        lambda on_event: pipe.run(
            max_workers=workers, fail_fast=fail_fast, on_event=on_event, executor=executor, **params
        ),
        json_,
        deployed,
    )


def _deploy_registered(run_id: str, name: str) -> dict[str, Any]:
    """Deploy the model version run ``run_id`` registered (the newest, if several)."""
    from podium.client import Client
    from podium.core.errors import NotFoundError

    client = Client()
    made = [
        v
        for m in client.list_models(limit=1000)
        for v in client.list_versions(m.name, limit=20)
        if v.run_id == run_id
    ]
    if not made:
        raise NotFoundError(
            f"Run {run_id} registered no model version, so there is nothing to deploy as {name!r}.",
            hint="End the pipeline with a step that calls podium.register_model(...).",
        )
    mv = max(made, key=lambda v: v.created_at)
    dep = client.deploy_model(mv.uri, name)
    return {"deployment": dep.name, "revision": dep.revision, "model": mv.uri}


@app.command("check")
def check(
    pipeline_ref: Annotated[
        str, typer.Argument(help="module:function or path/to/file.py:function.")
    ],
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="NAME=VALUE, repeatable.")
    ] = None,
    json_: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Run a pipeline's validation gates (and what they need); exit 1 if one fails. For CI."""
    from podium.cli.pipelines import parse_params
    from podium.pipelines import load_pipeline

    result = load_pipeline(pipeline_ref).check(**parse_params(param or []))
    if json_:
        print_json(
            {
                "passed": result.passed,
                "run": result.run.id,
                "gates": [
                    {"gate": g.name, "status": g.status, "message": g.message} for g in result.gates
                ],
            }
        )
    else:
        for g in result.gates:
            mark = "[green]PASS[/]" if g.passed else "[red]FAIL[/]"
            detail = "" if g.passed else f": {escape(g.message or g.status)}"
            out.print(f"{mark} {escape(g.name)}{detail}", markup=True)
        failed = sum(not g.passed for g in result.gates)
        verdict = (
            f"{failed} of {len(result.gates)} gate(s) failed"
            if failed
            else (f"{len(result.gates)} gate(s) passed")
        )
        out.print(f"{verdict} (run {result.run.id}).")
    if not result.passed:
        raise typer.Exit(1)


@app.command()
def serve(
    model_uri: Annotated[
        str | None,
        typer.Argument(help="A deployment name, or models:/NAME/VERSION or models:/NAME@ALIAS."),
    ] = None,
    host: Annotated[
        str, typer.Option(help="Interface to bind (loopback by default).")
    ] = "127.0.0.1",
    port: Annotated[
        int | None, typer.Option(min=0, max=65535, help="Port (default: $PORT, else 8000).")
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1, max=64, help="Server processes sharing the port (default: the deployment's)."
        ),
    ] = None,
    access_log: Annotated[bool, typer.Option("--access-log", help="Log every request.")] = False,
    flavor: Annotated[
        str | None,
        typer.Option(
            help="auto (default): the ONNX fast path where its parity held, else the model as "
            "registered; sklearn or onnx force one (a model also takes any flavor it has)."
        ),
    ] = None,
    bundle: Annotated[
        Path | None,
        typer.Option(help="Serve a bundle folder (from `podium build`), without the registry."),
    ] = None,
    auth: Annotated[
        bool,
        typer.Option(
            "--auth", help="Require API tokens (`podium tokens`) on every route but health."
        ),
    ] = False,
    insecure: Annotated[
        bool,
        typer.Option("--insecure", help="Allow a non-loopback --host without --auth."),
    ] = False,
) -> None:
    """Serve a deployment (routing by its strategy) or a model: OIP v2, /predict, /invocations."""
    from podium.serving import serve as run_server
    from podium.serving.server import resolve_port
    from podium.serving.workers import BUNDLE, app_for, is_deployment, serve_workers
    from podium.workspace import Workspace

    bind_port = resolve_port(port)
    _serve_auth(host, auth, insecure)
    docs = "(docs: /docs, metrics: /metrics)"
    if (bundle is None) == (model_uri is None):
        raise typer.BadParameter("Name a deployment or a model URI, or pass --bundle DIR.")
    if bundle is not None:
        if flavor is not None:
            raise typer.BadParameter("--flavor applies to a model; a bundle serves its own.")
        target = BUNDLE + str(bundle.resolve())
        app_, what = app_for(target)  # checked (sums, parity) before any worker starts
        err.print(f"Serving {what} at http://{host}:{bind_port}  {docs}")
        if workers and workers > 1:
            serve_workers(
                target, host, bind_port, workers, access_log=access_log, insecure=insecure
            )
        else:
            run_server(app_, host, bind_port, access_log=access_log, insecure=insecure)
        return
    assert model_uri is not None
    ws = Workspace.current()
    deployment = is_deployment(ws, model_uri)
    if deployment and flavor not in (None, "auto", "sklearn", "onnx"):
        raise typer.BadParameter(
            f"a deployment is served with --flavor auto, sklearn or onnx, not {flavor!r}."
        )
    if workers is None:
        workers = ws.store.deployments.get(model_uri).spec.get("workers", 1) if deployment else 1
    if workers > 1 and deployment and ws.store.deployments.get(model_uri).spec.get("online"):
        raise typer.BadParameter(
            f"{model_uri!r} learns online, in one process: serve it without --workers."
        )
    if workers > 1:
        if not deployment:
            from podium.registry import Registry

            # Fail here, once; and check a version never checked before the workers start.
            Registry(ws.store, ws.artifacts).load(model_uri, flavor=flavor or "auto")
        err.print(
            f"Serving {model_uri} from {workers} workers at http://{host}:{bind_port}  {docs}"
        )
        serve_workers(
            model_uri,
            host,
            bind_port,
            workers,
            access_log=access_log,
            flavor=flavor,
            insecure=insecure,
        )
        return
    app_, what = app_for(model_uri, ws, flavor)
    err.print(f"Serving {what} at http://{host}:{bind_port}  {docs}")
    run_server(app_, host, bind_port, access_log=access_log, insecure=insecure)


def _serve_auth(host: str, auth: bool, insecure: bool) -> None:
    """Turn tokens on for this server and its workers; refuse an unprotected public bind."""
    from podium.auth import AUTH_ENV, auth_required
    from podium.serving.server import check_bind

    if auth:
        os.environ[AUTH_ENV] = "1"  # worker processes build their apps from the environment
    check_bind(host, auth=auth_required(), insecure=insecure, warn=False)  # before any loading
    if auth_required():
        from podium.core.clock import utcnow
        from podium.workspace import Workspace

        now = utcnow()
        if not any(t.status(now) == "active" for t in Workspace.current().store.tokens.all()):
            err.print(
                "Tokens are required, and no active token exists yet: create one with "
                "`podium tokens create --name NAME --role predictor`."
            )


def run() -> None:
    """Console-script entry point."""
    try:
        app()
    except PodiumError as exc:  # raised outside a command (e.g. in a callback)
        print_error(exc)
        sys.exit(1)
