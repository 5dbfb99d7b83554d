"""``podium stream``: score a stream; ``podium stream produce`` and ``podium stream tail``."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from podium.cli.render import err, out, print_json

BrokerOpt = Annotated[
    str | None,
    typer.Option("--broker", help="redis://host:6379/0 (default: the embedded queue)."),
]


def stream(
    target: Annotated[
        str,
        typer.Argument(
            help="A deployment or model URI to score with; or `produce` / `tail`.",
            metavar="NAME_OR_MODEL_URI|produce|tail",
        ),
    ],
    file: Annotated[
        str | None, typer.Argument(help="produce: a JSON Lines file, or - for stdin.")
    ] = None,
    broker: BrokerOpt = None,
    in_: Annotated[str | None, typer.Option("--in", help="The input stream.")] = None,
    out_: Annotated[str | None, typer.Option("--out", help="The output stream.")] = None,
    group: Annotated[str, typer.Option(help="Consumer group: its consumers share the work.")] = (
        "podium"
    ),
    batch: Annotated[int, typer.Option(min=1, max=10_000, help="Messages per micro-batch.")] = 64,
    max_wait_ms: Annotated[
        float, typer.Option(min=0, help="Wait this long for a batch to fill.")
    ] = 50.0,
    concurrency: Annotated[int, typer.Option(min=1, max=64, help="Worker threads.")] = 1,
    claim_after: Annotated[
        float,
        typer.Option(min=0.1, help="Redeliver a message left unacknowledged this many seconds."),
    ] = 30.0,
    idle_exit: Annotated[
        float | None, typer.Option(help="Stop after this many seconds without a message.")
    ] = None,
    stream_name: Annotated[
        str | None, typer.Option("--stream", help="produce/tail: the stream.")
    ] = None,
    count: Annotated[int, typer.Option(min=1, help="tail: this many newest messages.")] = 10,
    json_: Annotated[bool, typer.Option("--json", help="One JSON object a line.")] = False,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            min=0, max=65535, help="Serve Prometheus /metrics (lag, messages, batch sizes) here."
        ),
    ] = None,
    metrics_host: Annotated[
        str, typer.Option(help="Address for --metrics-port (0.0.0.0 to expose it).")
    ] = "127.0.0.1",
) -> None:
    """Score messages from --in into --out in micro-batches, at least once, until stopped."""
    from podium.streaming import open_broker

    if target in ("produce", "tail"):
        if stream_name is None:
            raise typer.BadParameter(f"`podium stream {target}` needs --stream NAME.")
        with open_broker(broker) as b:
            if target == "produce":
                _produce(b, stream_name, file)
            else:
                _tail(b, stream_name, count, json_)
        return
    if in_ is None or out_ is None:
        raise typer.BadParameter("scoring a stream needs --in STREAM and --out STREAM.")
    _score(
        target,
        broker,
        in_,
        out_,
        group,
        batch,
        max_wait_ms,
        concurrency,
        idle_exit,
        json_,
        claim_after,
        (metrics_host, metrics_port) if metrics_port is not None else None,
    )


def _produce(b: object, stream: str, file: str | None) -> None:
    from podium.core.errors import ValidationError

    if file is None:
        raise typer.BadParameter("`podium stream produce` needs a FILE (JSON Lines) or -.")
    if file == "-":
        lines = sys.stdin.read().splitlines()
    else:
        from pathlib import Path

        if not Path(file).is_file():
            raise ValidationError(f"No such file: {file!r}.", field="file")
        lines = Path(file).read_text().splitlines()
    payloads = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValidationError(
                f"Line {n} of {file} is not JSON: {exc}.",
                field="file",
                hint="One JSON object a line.",
            ) from None
        payloads.append(line.encode())
    ids = b.publish(stream, payloads)  # type: ignore[attr-defined]
    out.print(f"Published {len(ids)} message(s) to {stream!r}.")


def _tail(b: object, stream: str, count: int, json_: bool) -> None:
    for m in b.last(stream, count):  # type: ignore[attr-defined]
        text = m.data.decode("utf-8", "replace")
        if json_:
            try:
                data = json.loads(text)
            except json.JSONDecodeError:
                data = text
            print(json.dumps({"id": m.id, "data": data}))
        else:
            out.print(f"{m.id}  {text}", markup=False, highlight=False)


def _serve_metrics(host: str, port: int, *, quiet: bool) -> None:
    from prometheus_client import start_http_server

    from podium.core.errors import ConfigError

    try:
        server, _ = start_http_server(port, addr=host)
    except OSError as exc:
        raise ConfigError(
            f"Cannot serve metrics on {host}:{port}: {exc.strerror or exc}.",
            hint="Pick a free --metrics-port (0 picks one).",
        ) from None
    if not quiet:
        err.print(f"Metrics at http://{host}:{server.server_port}/metrics")


def _score(
    target: str,
    broker: str | None,
    in_: str,
    out_: str,
    group: str,
    batch: int,
    max_wait_ms: float,
    concurrency: int,
    idle_exit: float | None,
    json_: bool,
    claim_after: float,
    metrics_at: tuple[str, int] | None,
) -> None:
    import signal

    from podium.registry import Registry
    from podium.serving.predlog import PredictionLog
    from podium.serving.workers import is_deployment
    from podium.streaming import open_broker
    from podium.streaming.scorer import StreamScorer
    from podium.workspace import Workspace

    ws = Workspace.current()
    registry = Registry(ws.store, ws.artifacts)
    log = None
    if is_deployment(ws, target):
        dep = ws.store.deployments.get(target)
        model = next(iter(dep.spec["variants"].values()))["model"]
        log = PredictionLog(ws, target)
    else:
        model = target
    predictor = registry.load(model)
    # A bad URL or an unreachable broker fails here, once. (With the same claim-after: on
    # NATS the group's durable consumer keeps the ack wait it was created with.)
    with open_broker(broker, claim_after_s=claim_after) as check:
        check.lag(in_, group)
    scorer = StreamScorer(
        lambda: open_broker(broker, claim_after_s=claim_after),
        predictor,
        in_,
        out_,
        group=group,
        batch=batch,
        max_wait_ms=max_wait_ms,
        concurrency=concurrency,
        log_to=log,
        idle_exit_s=idle_exit,
    )
    signal.signal(signal.SIGTERM, lambda *_: scorer.stop.set())  # drain, then stop
    if metrics_at is not None:
        _serve_metrics(*metrics_at, quiet=json_)
    if log is not None:
        log.start()
    if not json_:
        uri = predictor.version.uri if predictor.version else model
        err.print(
            f"Scoring {in_!r} -> {out_!r} with {uri} (group {group!r}); Ctrl-C or SIGTERM to stop."
        )
    try:
        stats = scorer.run()
    except KeyboardInterrupt:
        scorer.stop.set()
        stats = scorer.stats
    finally:
        if log is not None:
            log.close()
    if json_:
        print_json(stats.to_dict())
    else:
        s = stats.to_dict()
        out.print(
            f"Consumed {s['consumed']}, published {s['published']}, dead-lettered "
            f"{s['dead_lettered']} ({s['messages_per_s']:,.0f} messages/s)."
        )
