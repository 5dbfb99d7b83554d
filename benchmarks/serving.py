"""Single-row HTTP prediction throughput and latency of podium, its ceiling and a hand-written app.

Run from the repository root (takes about a minute per 10 s of ``--duration``)::

    python benchmarks/serving.py --duration 10 --rounds 3
    python benchmarks/serving.py --only ceiling,podium-predict --duration 5 --rounds 1

What it compares, in one run and with the same load generator (``wrk``, one thread,
``--connections`` keep-alive connections, one JSON row per request):

``ceiling``
    A bare ASGI app on uvicorn (uvloop + httptools) that reads the body and returns a
    constant ``{"predictions":[0]}``: what the HTTP stack alone can do, no model.
``handwritten``
    A minimal FastAPI ``async def`` endpoint doing what a user would write by hand:
    records -> numpy row in the model's column order -> ``predict_proba`` on a joblib-loaded
    model (a DataFrame per request would cost 4x more in ``predict_proba`` alone).
``podium-predict`` / ``podium-v2``
    ``podium serve models:/bench@champion``, hit on ``/predict`` (JSON records) and on
    ``/v2/models/bench/infer`` (an Open Inference Protocol v2 tensor).
``podium-auth``
    ``podium serve models:/bench@champion --auth`` on ``/predict``, each request carrying a
    predictor token (``Authorization: Bearer pod_...``): what checking tokens costs.
``podium-onnx``
    ``podium serve models:/bench@champion --flavor onnx``: the same version exported with
    ``podium export --format onnx`` (parity checked), served by onnxruntime; skipped
    without ``podium[onnx]``.

The model is a scikit-learn ``StandardScaler`` + ``LogisticRegression`` pipeline fitted on the
breast-cancer data set (30 float features), registered in a throw-away podium workspace.
Each server runs alone, pinned to CPU 0 with one BLAS/OpenMP thread; ``wrk`` is pinned to
CPU 1. Each contender is warmed up, then measured ``--rounds`` times; the round with the
median req/s is reported with its p50/p99 latencies. Start-up time is from process start to
the first successful prediction; RSS is read from ``/proc`` after the load. The in-process
floor (``predict_proba`` on one row, no HTTP) is timed too, on CPU 0.

Results are printed as a table and written as JSON (``--out``). Any non-2xx response or
socket error flags the run: the script then exits with status 1.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

HOST = "127.0.0.1"
SERVER_CPU = 0
CLIENT_CPU = 1
MODEL_NAME = "bench"
THREAD_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
UVICORN_FLAGS = ["--loop", "uvloop", "--http", "httptools", "--no-access-log"]
DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "serving.json"
STARTUP_TIMEOUT_S = 60.0
WARMUP_S = 2
# Deployments served by `podium serve NAME`: each rollout pattern over the same model (a
# second version of it as the other variant), with the prediction log on.
PATTERNS: dict[str, dict[str, Any]] = {
    "direct": {"strategy": "single", "variants": {"main": "champion"}},
    "shadow": {
        "strategy": "shadow",
        "variants": {"main": "champion", "copy": "challenger"},
        "shadow": {"primary": "main", "shadows": ["copy"]},
    },
    "ab": {
        "strategy": "ab",
        "variants": {"a": "champion", "b": "challenger"},
        "ab": {"weights": {"a": 50, "b": 50}},
    },
    "bandit": {"strategy": "bandit", "variants": {"a": "champion", "b": "challenger"}},
    "canary": {
        "strategy": "canary",
        "variants": {"stable": "champion", "candidate": "challenger"},
        "canary": {"steps": [25, 100]},
    },
    "flags": {
        "strategy": "flags",
        "variants": {"main": "champion", "next": "challenger"},
        "flags": {
            "default": "main",
            "flags": [
                {
                    "name": "eu",
                    "variant": "next",
                    "rules": [{"attribute": "mean radius", "op": "gt", "value": 100}],
                }
            ],
        },
    },
    "batched": {
        "strategy": "single",
        "variants": {"main": "champion"},
        "batching": {"max_batch": 32, "max_wait_ms": 2},
    },
}
CONTENDERS = (
    "ceiling",
    "handwritten",
    "podium-predict",
    "podium-v2",
    "podium-auth",
    "podium-onnx",
    *(f"pattern-{p}" for p in PATTERNS),
)

CEILING_APP = '''\
"""The ceiling: read the body, answer a constant; no framework, no model."""

BODY = b'{"predictions":[0]}'
HEADERS = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(BODY))]


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})
'''

HANDWRITTEN_APP = '''\
"""What a careful user writes by hand: FastAPI, records -> numpy row -> predict_proba."""

import warnings

import joblib
import numpy as np
from fastapi import FastAPI
from pydantic import BaseModel

model = joblib.load({model_path!r})
columns = list(model.feature_names_in_)
# The row is built in the fitted column order, so the feature-name warning is noise.
warnings.filterwarnings("ignore", message="X does not have valid feature names")
app = FastAPI()


class PredictRequest(BaseModel):
    records: list[dict[str, float]]


@app.post("/predict")
async def predict(request: PredictRequest) -> dict:
    X = np.array([[r[c] for c in columns] for r in request.records])
    proba = model.predict_proba(X)
    labels = model.classes_[proba.argmax(axis=1)]
    return {{"predictions": labels.tolist(), "probabilities": proba.tolist()}}
'''

LUA_TEMPLATE = """\
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
{headers}wrk.body = [==[{body}]==]
"""


# -- data types ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Contender:
    """One route of one server, loaded with one fixed request body."""

    key: str
    label: str
    server: str
    path: str
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()  # sent with every request


@dataclass(frozen=True)
class ServerSpec:
    """How to start one server; ``argv`` maps a port to the command line."""

    name: str
    argv: Callable[[int], list[str]]


@dataclass
class WrkRun:
    """The figures parsed from one ``wrk --latency`` run."""

    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx: int
    socket_errors: int

    @property
    def errors(self) -> int:
        return self.non_2xx + self.socket_errors


@dataclass
class Result:
    """A contender's reported figures: the median round plus the context around it."""

    key: str
    label: str
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    startup_s: float
    rss_mb: float
    rounds: list[WrkRun]
    pct_of_ceiling: float | None = None
    ratio_vs_handwritten: float | None = None
    ratio_vs_direct: float | None = None  # a rollout pattern against the single deployment


# -- the model and the workspace -------------------------------------------------------------
def build_model(workdir: Path) -> tuple[Any, Any]:
    """Fit the reference pipeline, register it in a podium workspace and dump it with joblib."""
    import joblib
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    import podium

    data = load_breast_cancer(as_frame=True)
    x, y = data.data, data.target
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(x, y)
    os.environ["PODIUM_HOME"] = str(workdir / "podium-home")
    podium.register_model(model, MODEL_NAME, input_example=x, alias="champion")
    podium.register_model(model, MODEL_NAME, input_example=x, alias="challenger")
    from podium.deploy import apply
    from podium.workspace import Workspace

    for name, p in PATTERNS.items():
        variants = {v: {"model": f"models:/{MODEL_NAME}@{a}"} for v, a in p["variants"].items()}
        apply(Workspace.current(), {**p, "name": name, "variants": variants})
    joblib.dump(model, workdir / "model.joblib")
    if has_onnx():
        from podium.edge import export_onnx

        export_onnx(Workspace.current(), f"{MODEL_NAME}/1")  # the champion
    return model, x


def bench_token() -> str:
    """A predictor token in the benchmark's workspace (for ``podium-auth``)."""
    from podium.client import Client

    return Client().create_token("bench", "predictor")[1]


def has_onnx() -> bool:
    from importlib.util import find_spec

    return all(find_spec(m) is not None for m in ("onnxruntime", "skl2onnx"))


def contenders_for(x: Any, token: str = "") -> list[Contender]:
    """The contenders, all sending the first row of ``x``; ``token`` for podium-auth."""
    record = {k: float(v) for k, v in x.iloc[0].items()}
    records = json.dumps({"records": [record]}).encode()
    tensor = {
        "name": "input-0",
        "shape": [1, len(record)],
        "datatype": "FP64",
        "data": list(record.values()),
    }
    v2 = json.dumps({"inputs": [tensor]}).encode()
    return [
        Contender("ceiling", "ceiling", "ceiling", "/predict", records),
        Contender("handwritten", "handwritten", "handwritten", "/predict", records),
        Contender("podium-predict", "podium /predict", "podium", "/predict", records),
        Contender("podium-v2", "podium v2 infer", "podium", f"/v2/models/{MODEL_NAME}/infer", v2),
        Contender(
            "podium-auth",
            "podium auth",
            "podium-auth",
            "/predict",
            records,
            (("Authorization", f"Bearer {token}"),),
        ),
        *([Contender("podium-onnx", "podium onnx", "onnx", "/predict", records)] * has_onnx()),
        *(
            Contender(f"pattern-{p}", f"deploy {p}", f"pattern-{p}", "/predict", records)
            for p in PATTERNS
        ),
    ]


def server_specs(workdir: Path) -> dict[str, ServerSpec]:
    """Write the hand-made apps into ``workdir``; return how to start each server."""
    (workdir / "ceiling_app.py").write_text(CEILING_APP)
    model_path = str(workdir / "model.joblib")
    (workdir / "handwritten_app.py").write_text(HANDWRITTEN_APP.format(model_path=model_path))

    def uvicorn(module: str) -> Callable[[int], list[str]]:
        def argv(port: int) -> list[str]:
            app = f"{module}:app"
            cmd = [sys.executable, "-m", "uvicorn", app, "--host", HOST, "--port", str(port)]
            return [*cmd, *UVICORN_FLAGS, "--log-level", "warning"]

        return argv

    def podium(port: int) -> list[str]:
        uri = f"models:/{MODEL_NAME}@champion"
        return [*podium_command(), "serve", uri, "--host", HOST, "--port", str(port)]

    def onnx(port: int) -> list[str]:
        return [*podium(port), "--flavor", "onnx"]

    def podium_auth(port: int) -> list[str]:
        return [*podium(port), "--auth"]

    def deployment(name: str) -> Callable[[int], list[str]]:
        return lambda port: [*podium_command(), "serve", name, "--host", HOST, "--port", str(port)]

    return {
        "ceiling": ServerSpec("ceiling", uvicorn("ceiling_app")),
        "handwritten": ServerSpec("handwritten", uvicorn("handwritten_app")),
        "podium": ServerSpec("podium", podium),
        "podium-auth": ServerSpec("podium-auth", podium_auth),
        "onnx": ServerSpec("onnx", onnx),
        **{f"pattern-{p}": ServerSpec(f"pattern-{p}", deployment(p)) for p in PATTERNS},
    }


def podium_command() -> list[str]:
    """The ``podium`` console script of this interpreter (so the Popen pid is the server)."""
    script = Path(sys.executable).parent / "podium"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "podium"]


# -- the in-process floor --------------------------------------------------------------------
def time_per_call(fn: Callable[[], object], calls: int) -> float:
    """Seconds per call of ``fn``, after a short warm-up."""
    for _ in range(min(100, calls)):
        fn()
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - t0) / calls


def in_process_floor(model: Any, x: Any, calls: int = 3000) -> dict[str, dict[str, float]]:
    """``predict_proba`` on one row, as a DataFrame and as a numpy array, on the server CPU."""
    from threadpoolctl import threadpool_limits

    frame, array = x.iloc[:1], x.iloc[:1].to_numpy()
    previous = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {SERVER_CPU})
    try:
        with threadpool_limits(limits=1), warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "X does not have valid feature names"
            timings = {
                "dataframe": time_per_call(lambda: model.predict_proba(frame), calls),
                "numpy": time_per_call(lambda: model.predict_proba(array), calls),
            }
    finally:
        os.sched_setaffinity(0, previous)
    return {k: {"us_per_call": s * 1e6, "calls_per_s": 1 / s} for k, s in timings.items()}


# -- servers ---------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def server_env() -> dict[str, str]:
    return {**os.environ, **THREAD_ENV}


def log_tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def wait_for_prediction(
    proc: subprocess.Popen[bytes], url: str, probe: Contender, log: Path
) -> None:
    """Poll ``url`` with the probe's request until it answers 200; fail if the server dies."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    headers = {"content-type": "application/json", **dict(probe.headers)}
    body = probe.body
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"Server exited with code {proc.returncode} before answering:\n{log_tail(log)}"
                )
            try:
                if client.post(url, content=body, headers=headers).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.02)
    raise RuntimeError(f"No successful answer from {url} in {STARTUP_TIMEOUT_S:.0f}s")


@contextmanager
def running_server(
    spec: ServerSpec, probe: Contender, workdir: Path
) -> Iterator[tuple[subprocess.Popen[bytes], str, float]]:
    """Start ``spec`` pinned to the server CPU; yield (process, base URL, start-up seconds)."""
    port = free_port()
    base = f"http://{HOST}:{port}"
    log = workdir / f"{spec.name}.log"
    cmd = ["taskset", "-c", str(SERVER_CPU), *spec.argv(port)]
    with log.open("wb") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=workdir, env=server_env(), stdout=out, stderr=out)
    try:
        wait_for_prediction(proc, base + probe.path, probe, log)
        yield proc, base, time.perf_counter() - t0
    finally:
        stop(proc)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def check_response(url: str, contender: Contender) -> None:
    """One request before the load: it must answer 200 with predictions in it."""
    headers = {"content-type": "application/json", **dict(contender.headers)}
    r = httpx.post(url, content=contender.body, headers=headers, timeout=10)
    payload = r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
    if r.status_code != 200 or not (payload.get("predictions") or payload.get("outputs")):
        raise RuntimeError(f"Bad answer from {url}: HTTP {r.status_code} {r.text[:500]}")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024  # kB
    raise RuntimeError(f"No VmRSS for pid {pid}")


# -- wrk -------------------------------------------------------------------------------------
UNIT_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}
RPS_RE = re.compile(r"^Requests/sec:\s+([\d.]+)", re.M)
PCT_RE = re.compile(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s|m|h)\s*$", re.M)
REQUESTS_RE = re.compile(r"^\s+(\d+) requests in", re.M)
NON_2XX_RE = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
SOCKET_RE = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")


def parse_wrk(output: str) -> WrkRun:
    rps = RPS_RE.search(output)
    pcts = {p: float(v) * UNIT_MS[u] for p, v, u in PCT_RE.findall(output)}
    requests = REQUESTS_RE.search(output)
    if rps is None or requests is None or set(pcts) != {"50", "99"}:
        raise RuntimeError(f"Could not parse wrk output:\n{output}")
    non_2xx = NON_2XX_RE.search(output)
    sockets = SOCKET_RE.search(output)
    return WrkRun(
        rps=float(rps.group(1)),
        p50_ms=pcts["50"],
        p99_ms=pcts["99"],
        requests=int(requests.group(1)),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(map(int, sockets.groups())) if sockets else 0,
    )


def run_wrk(url: str, lua: Path, duration: int, connections: int) -> WrkRun:
    cmd = [
        "taskset", "-c", str(CLIENT_CPU), "wrk", "-t1", f"-c{connections}", f"-d{duration}s",
        "--latency", "-s", str(lua), url,
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stderr or proc.stdout}")
    return parse_wrk(proc.stdout)


def write_lua(contender: Contender, workdir: Path) -> Path:
    path = workdir / f"post-{contender.key}.lua"
    headers = "".join(f'wrk.headers["{k}"] = "{v}"\n' for k, v in contender.headers)
    path.write_text(LUA_TEMPLATE.format(headers=headers, body=contender.body.decode()))
    return path


# -- measuring -------------------------------------------------------------------------------
def measure(
    contender: Contender, base: str, workdir: Path, args: argparse.Namespace
) -> list[WrkRun]:
    """Check one answer, warm up, then run ``args.rounds`` measured wrk rounds."""
    url = base + contender.path
    check_response(url, contender)
    lua = write_lua(contender, workdir)
    run_wrk(url, lua, min(WARMUP_S, args.duration), args.connections)
    rounds = []
    for i in range(args.rounds):
        run = run_wrk(url, lua, args.duration, args.connections)
        print(f"  {contender.label:<16} round {i + 1}: {run.rps:>9.0f} req/s", flush=True)
        rounds.append(run)
    return rounds


def summarize(contender: Contender, rounds: list[WrkRun], startup: float, rss: float) -> Result:
    median = sorted(rounds, key=lambda r: r.rps)[len(rounds) // 2]
    return Result(
        key=contender.key,
        label=contender.label,
        rps=median.rps,
        p50_ms=median.p50_ms,
        p99_ms=median.p99_ms,
        errors=sum(r.errors for r in rounds),
        startup_s=startup,
        rss_mb=rss,
        rounds=rounds,
    )


def bench_server(
    spec: ServerSpec, contenders: list[Contender], workdir: Path, args: argparse.Namespace
) -> list[Result]:
    """Start one server, load each of its contenders in turn, stop it."""
    results = []
    with running_server(spec, contenders[0], workdir) as (proc, base, startup):
        print(f"{spec.name}: up in {startup:.2f}s (pid {proc.pid})", flush=True)
        for contender in contenders:
            rounds = measure(contender, base, workdir, args)
            results.append(summarize(contender, rounds, startup, rss_mb(proc.pid)))
    return results


def add_ratios(results: list[Result]) -> None:
    by_key = {r.key: r for r in results}
    ceiling, handwritten = by_key.get("ceiling"), by_key.get("handwritten")
    direct = by_key.get("pattern-direct")
    for r in results:
        if ceiling:
            r.pct_of_ceiling = 100 * r.rps / ceiling.rps
        if handwritten:
            r.ratio_vs_handwritten = r.rps / handwritten.rps
        if direct and r.key.startswith("pattern-"):
            r.ratio_vs_direct = r.rps / direct.rps


# -- reporting -------------------------------------------------------------------------------
COLUMNS = [
    ("contender", "<16"), ("req/s", ">8"), ("p50 ms", ">7"), ("p99 ms", ">7"), ("errors", ">6"),
    ("startup s", ">9"), ("RSS MB", ">7"), ("% ceiling", ">9"), ("vs handwritten", ">14"),
    ("vs direct", ">9"),
]  # fmt: skip


def fmt_row(cells: list[str]) -> str:
    return "  ".join(f"{c:{spec}}" for c, (_, spec) in zip(cells, COLUMNS, strict=True))


def table_cells(r: Result) -> list[str]:
    pct = "-" if r.pct_of_ceiling is None else f"{r.pct_of_ceiling:.1f}%"
    ratio = "-" if r.ratio_vs_handwritten is None else f"{r.ratio_vs_handwritten:.2f}x"
    direct = "-" if r.ratio_vs_direct is None else f"{r.ratio_vs_direct:.2f}x"
    errors = f"{r.errors}!" if r.errors else "0"
    return [
        r.label, f"{r.rps:.0f}", f"{r.p50_ms:.2f}", f"{r.p99_ms:.2f}", errors,
        f"{r.startup_s:.2f}", f"{r.rss_mb:.0f}", pct, ratio, direct,
    ]  # fmt: skip


def print_report(results: list[Result], floor: dict[str, dict[str, float]]) -> None:
    header = fmt_row([name for name, _ in COLUMNS])
    print()
    print(header)
    print("-" * len(header))
    for r in results:
        print(fmt_row(table_cells(r)))
    print()
    print("in-process floor (predict_proba, one row, no HTTP, CPU 0):")
    for kind, f in floor.items():
        print(f"  {kind:<10} {f['us_per_call']:8.1f} us/call  {f['calls_per_s']:9.0f} calls/s")
    by_key = {r.key: r for r in results}
    if "podium-onnx" in by_key and "podium-predict" in by_key:
        ratio = by_key["podium-onnx"].rps / by_key["podium-predict"].rps
        print(f"\nONNX flavor / scikit-learn flavor, same server and load: {ratio:.2f}x")
    if "podium-auth" in by_key and "podium-predict" in by_key:
        ratio = by_key["podium-auth"].rps / by_key["podium-predict"].rps
        print(f"With tokens checked (--auth) / without, same route and load: {ratio:.2f}x")
    flagged = [r.label for r in results if r.errors]
    if flagged:
        print(f"\nWARNING: non-2xx responses or socket errors in: {', '.join(flagged)}")


def environment() -> dict[str, Any]:
    from importlib.metadata import version

    wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
    packages = ["podium", "scikit-learn", "fastapi", "uvicorn", "uvloop", "httptools", "pandas"]
    return {
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "server_cpu": SERVER_CPU,
        "client_cpu": CLIENT_CPU,
        "wrk": (wrk.stdout or wrk.stderr).splitlines()[0],
        "packages": {p: version(p) for p in packages},
    }


def write_json(
    path: Path,
    args: argparse.Namespace,
    results: list[Result],
    floor: dict[str, dict[str, float]],
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "settings": {
            "duration_s": args.duration,
            "rounds": args.rounds,
            "connections": args.connections,
            "wrk_threads": 1,
            "warmup_s": min(WARMUP_S, args.duration),
        },
        "environment": environment(),
        "flagged": any(r.errors for r in results),
        "results": [asdict(r) for r in results],
        "in_process_floor": floor,
    }
    path.write_text(json.dumps(doc, indent=2) + "\n")


# -- main ------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--duration", type=int, default=10, help="seconds per wrk run (default 10)")
    p.add_argument("--rounds", type=int, default=3, help="measured rounds per contender")
    p.add_argument("--connections", type=int, default=16, help="wrk connections (default 16)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON results path")
    p.add_argument(
        "--only",
        default="",
        help=f"comma list of: {', '.join(CONTENDERS)} (default: all)",
    )
    args = p.parse_args(argv)
    if args.duration < 1 or args.rounds < 1 or args.connections < 1:
        p.error("--duration, --rounds and --connections must be positive")
    args.only = {n.strip() for n in args.only.split(",") if n.strip()} or set(CONTENDERS)
    unknown = args.only - set(CONTENDERS)
    if unknown:
        p.error(f"--only: unknown contender(s) {', '.join(sorted(unknown))}")
    return args


def check_tools() -> None:
    missing = [tool for tool in ("wrk", "taskset") if shutil.which(tool) is None]
    if missing:
        raise SystemExit(f"Missing tools: {', '.join(missing)}")
    if not {SERVER_CPU, CLIENT_CPU} <= os.sched_getaffinity(0):
        raise SystemExit(f"This benchmark needs CPUs {SERVER_CPU} and {CLIENT_CPU}.")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    check_tools()
    with tempfile.TemporaryDirectory(prefix="podium-bench-") as tmp:
        workdir = Path(tmp)
        model, x = build_model(workdir)
        token = bench_token() if "podium-auth" in args.only else ""
        contenders = [c for c in contenders_for(x, token) if c.key in args.only]
        floor = in_process_floor(model, x)
        specs = server_specs(workdir)
        results: list[Result] = []
        for name, spec in specs.items():
            mine = [c for c in contenders if c.server == name]
            if mine:
                results += bench_server(spec, mine, workdir, args)
    add_ratios(results)
    print_report(results, floor)
    write_json(args.out, args, results, floor)
    print(f"\nwrote {args.out}")
    return 1 if any(r.errors for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
