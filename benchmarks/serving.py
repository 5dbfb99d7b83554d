"""Single-row HTTP prediction throughput and latency of podium, its ceiling, a hand-written app
and (with ``--peers``) MLflow and BentoML serving the same model.

Run from the repository root (about 35 s per contender at ``--duration 10 --rounds 3``)::

    python benchmarks/serving.py --duration 10 --rounds 3
    python benchmarks/serving.py --peers --duration 10 --rounds 3
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
    ``podium serve models:/bench@champion`` with podium's fast path, hit on ``/predict``
    (JSON records) and on ``/v2/models/bench/infer`` (an Open Inference Protocol v2 tensor).
    The fast path is podium's default flavor when ``podium serve --help`` lists ``auto``;
    before that it is ``--flavor onnx``. Either way the version is first exported with
    ``podium export --format onnx`` (parity checked; ``--no-export`` skips it, to measure
    what the default does with a plain registration). The flavor that answered (response
    header ``X-Podium-Flavor``) is recorded per contender.
``podium-auth``
    The same server with ``--auth`` on ``/predict``, each request carrying a predictor token
    (``Authorization: Bearer pod_...``): what checking tokens costs.
``podium-sklearn``
    ``podium serve models:/bench@champion --flavor sklearn``: the scikit-learn model itself.
``podium-batching``
    The fast-path server with adaptive micro-batching on (``PODIUM_MAX_BATCH=32``,
    ``PODIUM_MAX_WAIT_MS=2``).
``podium-workers1`` / ``podium-workers2``
    ``podium serve ... --workers 1`` and ``--workers 2``. Two workers cannot be pinned to
    one core of a 2-core machine: both of these servers may run on CPUs 0 and 1, and ``wrk``
    (still on CPU 1) shares a core with them. Compare the two with each other for scaling,
    not with the pinned contenders.
``pattern-*``
    ``podium serve NAME`` of a deployment: the same model behind each rollout pattern.
``mlflow`` / ``mlflow-inputs`` / ``mlflow-nosig`` / ``bentoml`` (``--peers``)
    ``mlflow models serve -m PATH --env-manager local`` of the model saved with an input
    example (so with the signature MLflow infers and enforces), ``POST /invocations`` with
    ``{"dataframe_split": ...}`` and with ``{"inputs": [record]}``; the same server of the
    model saved without a signature, with ``{"inputs": [[30 floats]]}`` (MLflow's fastest
    path, nothing checked); and ``bentoml serve`` of a minimal ``@bentoml.service`` doing
    what ``handwritten`` does (``POST /predict`` with ``{"records": [...]}``). Each peer is
    installed from PyPI into its own venv under ``~/.cache/podium/bench-venvs/`` (see
    ``serving_peers.py``) and serves the same fitted model.

The model is a scikit-learn ``StandardScaler`` + ``LogisticRegression`` pipeline fitted on the
breast-cancer data set (30 float features), registered in a throw-away podium workspace.
Each server runs alone, pinned to CPU 0 with one BLAS/OpenMP thread (but the ``workers``
contenders, above); ``wrk`` is pinned to CPU 1. Each contender is warmed up, then measured
``--rounds`` times; the round with the median req/s is reported with its p50/p99 latencies.
Start-up time is from process start to the first successful prediction. Memory is the sum
of the RSS of the server's whole process tree (workers, supervisors), read from ``/proc``
once idle (right after the first prediction) and again after the load; PSS is recorded too.
The in-process floor (``predict_proba`` on one row, no HTTP) is timed too, on CPU 0.

Results are printed as a table and written as JSON (``--out``). Any non-2xx response or
socket error flags the run: the script then exits with status 1.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
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
STARTUP_TIMEOUT_S = 120.0
WARMUP_S = 2
BATCHING_ENV = {"PODIUM_MAX_BATCH": "32", "PODIUM_MAX_WAIT_MS": "2"}
FLAVOR_HEADER = "x-podium-flavor"
PEERS = ("mlflow", "mlflow-inputs", "mlflow-nosig", "bentoml")
# Targets of issue 10, checked at the end of the report.
TARGET_PCT_OF_CEILING = 50.0
TARGET_P99_MS = 10.0
TARGET_STARTUP_S = 1.5
TARGET_IDLE_RSS_MB = 200.0
BUSY_CORES = 0.15  # other work on the machine above this (in cores) during a load is flagged
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
    "podium-sklearn",
    "podium-batching",
    "podium-workers1",
    "podium-workers2",
    *(f"pattern-{p}" for p in PATTERNS),
    *PEERS,
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
    flavor: str | None = None  # what serves it, when no X-Podium-Flavor header says


@dataclass(frozen=True)
class ServerSpec:
    """How to start one server; ``argv`` maps a port to the command line."""

    name: str
    argv: Callable[[int], list[str]]
    cpus: str = str(SERVER_CPU)  # taskset CPU list of the server
    env: dict[str, str] = field(default_factory=dict)  # on top of os.environ and THREAD_ENV
    note: str = ""


@dataclass
class WrkRun:
    """The figures parsed from one ``wrk --latency`` run."""

    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx: int
    socket_errors: int
    other_cores: float = 0.0  # cores busy with other work on the machine meanwhile
    redone: int = 0  # times this round was redone because other work disturbed it

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
    rss_mb: float  # the server's process tree, after the load
    rounds: list[WrkRun]
    rss_idle_mb: float = 0.0  # the same, right after the first prediction
    pss_mb: float = 0.0  # the process tree's PSS after the load (shared pages split)
    processes: int = 1  # in the server's process tree
    flavor: str | None = None  # X-Podium-Flavor when sent, else what is known to serve it
    flavor_header: str | None = None  # the X-Podium-Flavor response header, as sent
    server_cpus: str = str(SERVER_CPU)
    cores_by_process: list[float] = field(default_factory=list)  # while loaded, busiest first
    other_cores: float = 0.0  # the most other work took in a kept round, in cores
    note: str = ""
    pct_of_ceiling: float | None = None
    ratio_vs_handwritten: float | None = None
    ratio_vs_direct: float | None = None  # a rollout pattern against the single deployment


# -- the model and the workspace -------------------------------------------------------------
def build_model(workdir: Path, export: bool = True) -> tuple[Any, Any, str]:
    """Fit the reference pipeline, register it in a podium workspace and dump it with joblib;
    with ``export``, also export the champion to ONNX. Returns the model, the features and
    what became of the export."""
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
    return model, x, export_champion() if export else "not exported (--no-export)"


def export_champion() -> str:
    """``podium export --format onnx`` of the champion, unless it has an ONNX flavor already."""
    from podium.registry import Registry
    from podium.workspace import Workspace

    ws = Workspace.current()
    mv = Registry(ws.store, ws.artifacts).load(f"models:/{MODEL_NAME}@champion").version
    if mv is not None and any(f.flavor == "onnx" for f in mv.flavors):
        return "onnx flavor present at registration"
    if not has_onnx():
        return "not exported (onnxruntime or skl2onnx missing)"
    from podium.edge import export_onnx

    export_onnx(ws, f"{MODEL_NAME}/1")  # the champion
    return "exported with podium export --format onnx"


@dataclass(frozen=True)
class Flavors:
    """The ``--flavor`` options the podium contenders run with."""

    fast: str | None  # the fast path's (None: podium's default)
    fast_why: str
    sklearn: str  # podium-sklearn's: ``sklearn`` once podium serve lists it, else the native one


def podium_flavors() -> Flavors:
    """Ask ``podium serve --help`` which flavors it names; call after :func:`build_model`."""
    from podium.registry import Registry
    from podium.workspace import Workspace

    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"}
    proc = subprocess.run(
        [*podium_command(), "serve", "--help"], capture_output=True, text=True, env=env, check=False
    )
    ws = Workspace.current()
    mv = Registry(ws.store, ws.artifacts).load(f"models:/{MODEL_NAME}@champion").version
    registered = [f.flavor for f in mv.flavors] if mv is not None else []
    native = next((f for f in registered if not f.startswith("onnx")), "sklearn")
    sklearn = "sklearn" if re.search(r"\bsklearn\b", proc.stdout) else native
    if re.search(r"\bauto\b", proc.stdout):
        return Flavors(None, "podium's default (podium serve --help lists auto)", sklearn)
    if "onnx" in registered:
        return Flavors("onnx", "--flavor onnx (podium serve lists no auto flavor yet)", sklearn)
    return Flavors(None, "podium's default (no auto flavor, no ONNX export)", sklearn)


def bench_token() -> str:
    """A predictor token in the benchmark's workspace (for ``podium-auth``)."""
    from podium.client import Client

    return Client().create_token("bench", "predictor")[1]


def has_onnx() -> bool:
    from importlib.util import find_spec

    return all(find_spec(m) is not None for m in ("onnxruntime", "skl2onnx"))


def contenders_for(x: Any, token: str = "", flavors: Flavors | None = None) -> list[Contender]:
    """The contenders, all sending the first row of ``x``; ``token`` for podium-auth,
    ``flavors`` what the podium servers are asked to run (for the table when no header says)."""
    fast = flavors.fast if flavors else None
    native = flavors.sklearn if flavors else "sklearn"
    record = {k: float(v) for k, v in x.iloc[0].items()}
    records = json.dumps({"records": [record]}).encode()
    tensor = {
        "name": "input-0",
        "shape": [1, len(record)],
        "datatype": "FP64",
        "data": list(record.values()),
    }
    v2 = json.dumps({"inputs": [tensor]}).encode()
    split = {"columns": list(record), "data": [list(record.values())]}
    mlflow_split = json.dumps({"dataframe_split": split}).encode()
    mlflow_inputs = json.dumps({"inputs": [record]}).encode()
    mlflow_array = json.dumps({"inputs": [list(record.values())]}).encode()
    bearer = (("Authorization", f"Bearer {token}"),)
    sk = "sklearn"
    return [
        Contender("ceiling", "ceiling", "ceiling", "/predict", records, flavor="none"),
        Contender("handwritten", "handwritten", "handwritten", "/predict", records, flavor=sk),
        Contender("podium-predict", "podium /predict", "podium", "/predict", records, (), fast),
        Contender(
            "podium-v2", "podium v2 infer", "podium", f"/v2/models/{MODEL_NAME}/infer", v2, (), fast
        ),
        Contender("podium-auth", "podium auth", "podium-auth", "/predict", records, bearer, fast),
        Contender(
            "podium-sklearn", "podium sklearn", "podium-sklearn", "/predict", records, (), native
        ),
        Contender(
            "podium-batching", "podium batching", "podium-batching", "/predict", records, (), fast
        ),
        Contender(
            "podium-workers1", "podium 1 worker*", "podium-workers1", "/predict", records, (), fast
        ),
        Contender(
            "podium-workers2", "podium 2 workers*", "podium-workers2", "/predict", records, (), fast
        ),
        *(
            Contender(f"pattern-{p}", f"deploy {p}", f"pattern-{p}", "/predict", records)
            for p in PATTERNS
        ),
        Contender("mlflow", "mlflow split", "mlflow", "/invocations", mlflow_split, flavor=sk),
        Contender(
            "mlflow-inputs", "mlflow inputs", "mlflow", "/invocations", mlflow_inputs, (), sk
        ),
        Contender(
            "mlflow-nosig",
            "mlflow nosig array",
            "mlflow-nosig",
            "/invocations",
            mlflow_array,
            (),
            sk,
        ),
        Contender("bentoml", "bentoml", "bentoml", "/predict", records, flavor=sk),
    ]


def server_specs(
    workdir: Path, flavors: Flavors, peers: dict[str, Any] | None = None
) -> dict[str, ServerSpec]:
    """Write the hand-made apps into ``workdir``; return how to start each server.

    ``flavors`` are the ``--flavor`` options of the podium servers;
    ``peers`` maps a peer's name to its :class:`serving_peers.PeerEnv`."""
    (workdir / "ceiling_app.py").write_text(CEILING_APP)
    model_path = str(workdir / "model.joblib")
    (workdir / "handwritten_app.py").write_text(HANDWRITTEN_APP.format(model_path=model_path))

    def uvicorn(module: str) -> Callable[[int], list[str]]:
        def argv(port: int) -> list[str]:
            app = f"{module}:app"
            cmd = [sys.executable, "-m", "uvicorn", app, "--host", HOST, "--port", str(port)]
            return [*cmd, *UVICORN_FLAGS, "--log-level", "warning"]

        return argv

    def podium(*extra: str, flavor: str | None = flavors.fast) -> Callable[[int], list[str]]:
        def argv(port: int) -> list[str]:
            uri = f"models:/{MODEL_NAME}@champion"
            cmd = [*podium_command(), "serve", uri, "--host", HOST, "--port", str(port)]
            return [*cmd, *(["--flavor", flavor] if flavor else []), *extra]

        return argv

    def deployment(name: str) -> Callable[[int], list[str]]:
        return lambda port: [*podium_command(), "serve", name, "--host", HOST, "--port", str(port)]

    both = f"{SERVER_CPU},{CLIENT_CPU}"
    shared = f"server on CPUs {both}, wrk on CPU {CLIENT_CPU} shares a core with it"
    specs = {
        "ceiling": ServerSpec("ceiling", uvicorn("ceiling_app")),
        "handwritten": ServerSpec("handwritten", uvicorn("handwritten_app")),
        "podium": ServerSpec("podium", podium()),
        "podium-auth": ServerSpec("podium-auth", podium("--auth")),
        "podium-sklearn": ServerSpec("podium-sklearn", podium(flavor=flavors.sklearn)),
        "podium-batching": ServerSpec(
            "podium-batching",
            podium(),
            env=BATCHING_ENV,
            note=" ".join(f"{k}={v}" for k, v in BATCHING_ENV.items()),
        ),
        "podium-workers1": ServerSpec(
            "podium-workers1", podium("--workers", "1"), cpus=both, note=shared
        ),
        "podium-workers2": ServerSpec(
            "podium-workers2", podium("--workers", "2"), cpus=both, note=shared
        ),
        **{f"pattern-{p}": ServerSpec(f"pattern-{p}", deployment(p)) for p in PATTERNS},
    }
    if peers:
        import serving_peers

        def peer(name: str, env: Any, argv: Callable[..., list[str]], note: str) -> ServerSpec:
            return ServerSpec(
                name,
                lambda port: argv(env, workdir, HOST, port),
                env=serving_peers.peer_env_vars(name.split("-")[0], env, workdir),
                note=f"{env.name} {env.versions.get(env.name, '?')}, own venv{note}",
            )

        if "mlflow" in peers:
            mlflow = serving_peers.mlflow_argv
            specs["mlflow"] = peer("mlflow", peers["mlflow"], mlflow, ", signature enforced")
            specs["mlflow-nosig"] = peer(
                "mlflow-nosig",
                peers["mlflow"],
                lambda *a: mlflow(*a, signature=False),
                ", model saved without a signature",
            )
        if "bentoml" in peers:
            specs["bentoml"] = peer("bentoml", peers["bentoml"], serving_peers.bentoml_argv, "")
    return specs


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


def server_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    return {**os.environ, **THREAD_ENV, **(extra or {})}


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
    """Start ``spec`` pinned to its CPUs, in a session of its own (so stopping it stops every
    process it started); yield (process, base URL, start-up seconds)."""
    port = free_port()
    base = f"http://{HOST}:{port}"
    log = workdir / f"{spec.name}.log"
    cmd = ["taskset", "-c", spec.cpus, *spec.argv(port)]
    with log.open("wb") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            cmd,
            cwd=workdir,
            env=server_env(spec.env),
            stdout=out,
            stderr=out,
            start_new_session=True,
        )
    try:
        wait_for_prediction(proc, base + probe.path, probe, log)
        yield proc, base, time.perf_counter() - t0
    finally:
        stop(proc)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group, wait, then SIGKILL whatever of it is left."""
    pgid = proc.pid  # start_new_session: the server leads its own group

    def signal_group(sig: signal.Signals) -> None:
        with suppress(ProcessLookupError):
            os.killpg(pgid, sig)

    if proc.poll() is None:
        signal_group(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            signal_group(signal.SIGKILL)
            proc.wait()
    deadline = time.monotonic() + 5
    while group_members(pgid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if group_members(pgid):
        signal_group(signal.SIGKILL)


def group_members(pgid: int) -> list[int]:
    """Live processes of process group ``pgid``."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            out.append(int(stat.parent.name))
    return out


def check_response(url: str, contender: Contender) -> str | None:
    """One request before the load: it must answer 200 with predictions in it. Returns the
    ``X-Podium-Flavor`` response header, if any."""
    headers = {"content-type": "application/json", **dict(contender.headers)}
    r = httpx.post(url, content=contender.body, headers=headers, timeout=10)
    payload = r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
    if r.status_code != 200 or not (payload.get("predictions") or payload.get("outputs")):
        raise RuntimeError(f"Bad answer from {url}: HTTP {r.status_code} {r.text[:500]}")
    return r.headers.get(FLAVOR_HEADER)


@dataclass
class Memory:
    """RSS and PSS summed over a process tree, in MB."""

    rss_mb: float
    pss_mb: float
    processes: int


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(stat.parent.name))
    tree, todo = [], [pid]
    while todo:
        p = todo.pop()
        tree.append(p)
        todo += children.get(p, [])
    return tree


def _kb(path: Path, key: str) -> int:
    try:
        for line in path.read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1])
    except OSError:  # gone meanwhile
        pass
    return 0


def cpu_seconds(pid: int) -> dict[int, float]:
    """CPU seconds (user + system) so far of each process of ``pid``'s tree."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for p in process_tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[p] = (int(fields[11]) + int(fields[12])) / tick
    return out


def machine_busy_s() -> float:
    """CPU seconds all CPUs of the machine have been busy since boot."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def own_cpu_s() -> float:
    """CPU seconds of this process and its waited-for children (wrk, taskset)."""
    me, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def cores_used(before: dict[int, float], after: dict[int, float], wall_s: float) -> list[float]:
    """Cores each process used between two :func:`cpu_seconds` readings, busiest first."""
    used = [(after[p] - before.get(p, 0.0)) / wall_s for p in after]
    return sorted((round(u, 2) for u in used if u >= 0.01), reverse=True)


def memory(pid: int) -> Memory:
    tree = process_tree(pid)
    rss = sum(_kb(Path(f"/proc/{p}/status"), "VmRSS:") for p in tree)
    pss = sum(_kb(Path(f"/proc/{p}/smaps_rollup"), "Pss:") for p in tree)
    if not rss:
        raise RuntimeError(f"No VmRSS for pid {pid}")
    return Memory(rss / 1024, pss / 1024, len(tree))


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
class OtherWork:
    """Measures the CPU the rest of the machine takes while a server is under load: all
    busy CPU time minus the server's tree, this script and its children (wrk)."""

    def __init__(self, server_pid: int) -> None:
        self.pid = server_pid
        self.start()

    def start(self) -> None:
        self.t0, self.busy0, self.own0 = time.monotonic(), machine_busy_s(), own_cpu_s()
        self.cpu0 = cpu_seconds(self.pid)

    def cores(self) -> float:
        cpu1, wall = cpu_seconds(self.pid), time.monotonic() - self.t0
        server = sum(cpu1.values()) - sum(self.cpu0.get(p, 0.0) for p in cpu1)
        other = machine_busy_s() - self.busy0 - (own_cpu_s() - self.own0) - server
        return round(max(other, 0.0) / wall, 2)


def wait_idle(max_s: float, window_s: float = 5.0) -> float:
    """Wait until the machine (the idle server aside) is busy under BUSY_CORES for one
    ``window_s``, or ``max_s`` passed; return the last window's busy cores."""
    deadline = time.monotonic() + max_s
    while True:
        busy0 = machine_busy_s() - own_cpu_s()
        time.sleep(window_s)
        busy = (machine_busy_s() - own_cpu_s() - busy0) / window_s
        if busy < BUSY_CORES or time.monotonic() > deadline:
            return busy


def measure(
    contender: Contender, base: str, workdir: Path, args: argparse.Namespace, pid: int
) -> tuple[list[WrkRun], str | None]:
    """Check one answer, warm up, then run ``args.rounds`` measured wrk rounds; return them
    and the ``X-Podium-Flavor`` header of the checked answer. A round during which other
    work took more than BUSY_CORES is redone (after the machine quietens) up to
    ``args.retry_busy`` times, while the run's ``--wait-max`` budget for waiting lasts."""
    url = base + contender.path
    flavor = check_response(url, contender)
    lua = write_lua(contender, workdir)
    run_wrk(url, lua, min(WARMUP_S, args.duration), args.connections)
    rounds = []
    for i in range(args.rounds):
        for attempt in range(args.retry_busy + 1):
            other = OtherWork(pid)
            run = run_wrk(url, lua, args.duration, args.connections)
            run.other_cores, run.redone = other.cores(), attempt
            busy = f" (other work: {run.other_cores:.2f} cores)" if run.other_cores else ""
            print(f"  {contender.label:<18} round {i + 1}: {run.rps:>9.0f} req/s{busy}", flush=True)
            budget = args.wait_until - time.monotonic()
            if run.other_cores <= BUSY_CORES or attempt == args.retry_busy or budget <= 0:
                break
            left = wait_idle(min(budget, 300))
            print(f"  disturbed: redoing it (machine now {left:.2f} cores busy)", flush=True)
        rounds.append(run)
    return rounds, flavor


def summarize(
    contender: Contender,
    spec: ServerSpec,
    rounds: list[WrkRun],
    startup: float,
    idle: Memory,
    loaded: Memory,
    flavor_header: str | None,
) -> Result:
    median = sorted(rounds, key=lambda r: r.rps)[len(rounds) // 2]
    return Result(
        key=contender.key,
        label=contender.label,
        rps=median.rps,
        p50_ms=median.p50_ms,
        p99_ms=median.p99_ms,
        errors=sum(r.errors for r in rounds),
        startup_s=startup,
        rss_mb=loaded.rss_mb,
        rounds=rounds,
        rss_idle_mb=idle.rss_mb,
        pss_mb=loaded.pss_mb,
        processes=loaded.processes,
        flavor=flavor_header or contender.flavor,
        flavor_header=flavor_header,
        server_cpus=spec.cpus,
        note=spec.note,
    )


def bench_server(
    spec: ServerSpec, contenders: list[Contender], workdir: Path, args: argparse.Namespace
) -> list[Result]:
    """Start one server, load each of its contenders in turn, stop it."""
    results = []
    with running_server(spec, contenders[0], workdir) as (proc, base, startup):
        idle = memory(proc.pid)
        print(
            f"{spec.name}: up in {startup:.2f}s (pid {proc.pid}, {idle.processes} process(es), "
            f"{idle.rss_mb:.0f} MB idle)",
            flush=True,
        )
        for contender in contenders:
            cpu0, t0 = cpu_seconds(proc.pid), time.monotonic()
            rounds, flavor = measure(contender, base, workdir, args, proc.pid)
            cpu1, wall = cpu_seconds(proc.pid), time.monotonic() - t0
            loaded = memory(proc.pid)
            result = summarize(contender, spec, rounds, startup, idle, loaded, flavor)
            result.cores_by_process = cores_used(cpu0, cpu1, wall)
            result.other_cores = max(r.other_cores for r in rounds)
            results.append(result)
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
    ("contender", "<18"), ("req/s", ">8"), ("p50 ms", ">7"), ("p99 ms", ">7"), ("errors", ">6"),
    ("startup s", ">9"), ("idle MB", ">7"), ("RSS MB", ">7"), ("% ceiling", ">9"),
    ("vs handwritten", ">14"), ("vs direct", ">9"), ("other", ">5"), ("flavor", "<10"),
]  # fmt: skip


def fmt_row(cells: list[str]) -> str:
    return "  ".join(f"{c:{spec}}" for c, (_, spec) in zip(cells, COLUMNS, strict=True))


def table_cells(r: Result) -> list[str]:
    pct = "-" if r.pct_of_ceiling is None else f"{r.pct_of_ceiling:.1f}%"
    ratio = "-" if r.ratio_vs_handwritten is None else f"{r.ratio_vs_handwritten:.2f}x"
    direct = "-" if r.ratio_vs_direct is None else f"{r.ratio_vs_direct:.2f}x"
    errors = f"{r.errors}!" if r.errors else "0"
    flavor = r.flavor or "?"
    return [
        r.label, f"{r.rps:.0f}", f"{r.p50_ms:.2f}", f"{r.p99_ms:.2f}", errors,
        f"{r.startup_s:.2f}", f"{r.rss_idle_mb:.0f}", f"{r.rss_mb:.0f}", pct, ratio, direct,
        f"{r.other_cores:.2f}", flavor if r.flavor_header or not r.flavor else f"({flavor})",
    ]  # fmt: skip


def targets(results: list[Result]) -> list[dict[str, Any]]:
    """Issue 10's targets that this run's results bear on, each with its verdict."""
    by_key = {r.key: r for r in results}
    out: list[dict[str, Any]] = []

    def check(name: str, ok: bool, figure: str) -> None:
        out.append({"target": name, "met": ok, "figure": figure})

    for key in ("podium-predict", "podium-v2"):
        r = by_key.get(key)
        if r and r.pct_of_ceiling is not None:
            check(
                f"{r.label}: >= {TARGET_PCT_OF_CEILING:.0f}% of the ceiling's req/s",
                r.pct_of_ceiling >= TARGET_PCT_OF_CEILING,
                f"{r.pct_of_ceiling:.1f}%",
            )
        if r:
            check(
                f"{r.label}: p99 < {TARGET_P99_MS:.0f} ms",
                r.p99_ms < TARGET_P99_MS,
                f"{r.p99_ms:.2f} ms",
            )
    sk, hand = by_key.get("podium-sklearn"), by_key.get("handwritten")
    if sk and hand:
        check(
            "podium --flavor sklearn: at least the hand-written endpoint's req/s",
            sk.rps >= hand.rps,
            f"{sk.rps / hand.rps:.2f}x",
        )
    podium = by_key.get("podium-predict")
    if podium:
        check(
            f"podium: first prediction within {TARGET_STARTUP_S} s of start",
            podium.startup_s <= TARGET_STARTUP_S,
            f"{podium.startup_s:.2f} s",
        )
        check(
            f"podium: idle single-worker RSS under {TARGET_IDLE_RSS_MB:.0f} MB",
            podium.rss_idle_mb < TARGET_IDLE_RSS_MB,
            f"{podium.rss_idle_mb:.0f} MB",
        )
    return out


def comparisons(results: list[Result]) -> list[str]:
    """One-line ratios between contenders of this run."""
    by_key = {r.key: r for r in results}
    lines = []

    def ratio(a: str, b: str, text: str) -> None:
        if a in by_key and b in by_key:
            lines.append(f"{text}: {by_key[a].rps / by_key[b].rps:.2f}x")

    ratio("podium-predict", "podium-sklearn", "podium fast path / --flavor sklearn, /predict")
    ratio("podium-auth", "podium-predict", "podium with tokens checked (--auth) / without")
    ratio("podium-batching", "podium-predict", "podium with micro-batching / without")
    ratio(
        "podium-workers2",
        "podium-workers1",
        "podium --workers 2 / --workers 1 (both on CPUs 0-1, wrk sharing CPU 1; ideal 2.00x)",
    )
    ratio("podium-predict", "handwritten", "podium /predict / hand-written FastAPI")
    for peer in (p for p in PEERS if p in by_key):
        ratio("podium-predict", peer, f"podium /predict / {by_key[peer].label}")
        ratio("podium-v2", peer, f"podium v2 infer / {by_key[peer].label}")
    return lines


def print_report(
    results: list[Result], floor: dict[str, dict[str, float]], context: dict[str, Any]
) -> None:
    header = fmt_row([name for name, _ in COLUMNS])
    print()
    print(header)
    print("-" * len(header))
    for r in results:
        print(fmt_row(table_cells(r)))
    print()
    print(
        f"fast path: {context['fast_path']}; ONNX: {context['onnx_export']}. The flavor column "
        "is the X-Podium-Flavor response header; in parentheses where no header was sent. "
        "'other': cores busy with anything but the server, wrk and this script meanwhile."
    )
    notes = sorted({f"{r.label}: {r.note}" for r in results if r.note})
    for note in notes:
        print(f"* {note}")
    for r in results:
        if r.processes > 1:
            cores = ", ".join(f"{c:.2f}" for c in r.cores_by_process) or "-"
            print(f"{r.label}: {r.processes} processes; cores used per process under load: {cores}")
    for name, peer in context.get("peers", {}).items():
        made = "reused" if peer["reused"] else "made by this run"
        versions = ", ".join(f"{k} {v}" for k, v in peer["versions"].items())
        print(f"peer {name}: venv {made} (set-up took {peer['setup_s']:.0f}s): {versions}")
    print()
    print("in-process floor (predict_proba, one row, no HTTP, CPU 0):")
    for kind, f in floor.items():
        print(f"  {kind:<10} {f['us_per_call']:8.1f} us/call  {f['calls_per_s']:9.0f} calls/s")
    lines = comparisons(results)
    if lines:
        print()
        for line in lines:
            print(line)
    checked = targets(results)
    if checked:
        print("\ntargets (issue 10):")
        for t in checked:
            print(f"  [{'met' if t['met'] else 'MISSED':>6}] {t['target']}: {t['figure']}")
    busy = [f"{r.label} ({r.other_cores:.2f})" for r in results if r.other_cores > BUSY_CORES]
    if busy:
        print(f"\nWARNING: other work took CPU during: {', '.join(busy)}: figures disturbed")
    flagged = [r.label for r in results if r.errors]
    if flagged:
        print(f"\nWARNING: non-2xx responses or socket errors in: {', '.join(flagged)}")


def environment() -> dict[str, Any]:
    from importlib.metadata import version

    wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
    packages = [
        "podium", "scikit-learn", "fastapi", "uvicorn", "uvloop", "httptools", "pandas",
        "numpy", "onnxruntime", "skl2onnx",
    ]  # fmt: skip
    found = {}
    for p in packages:
        try:
            found[p] = version(p)
        except Exception:  # not installed
            continue
    return {
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "server_cpu": SERVER_CPU,
        "client_cpu": CLIENT_CPU,
        "load_average": list(os.getloadavg()),
        "wrk": (wrk.stdout or wrk.stderr).splitlines()[0],
        "packages": found,
    }


def podium_source() -> dict[str, Any]:
    """The commit of this checkout and a digest of its uncommitted changes to src/."""
    import hashlib

    root = Path(__file__).resolve().parent.parent

    def git(*a: str) -> str:
        proc = subprocess.run(["git", *a], cwd=root, capture_output=True, text=True, check=False)
        return proc.stdout

    diff = git("diff", "HEAD", "--", "src")
    untracked = git("ls-files", "--others", "--exclude-standard", "--", "src").split()
    digest = hashlib.sha256(diff.encode())
    for name in untracked:
        digest.update(name.encode() + (root / name).read_bytes())
    return {
        "commit": git("rev-parse", "HEAD").strip(),
        "src_changed": bool(diff or untracked),
        "src_changes_sha256": digest.hexdigest()[:16] if diff or untracked else None,
    }


def write_json(
    path: Path,
    args: argparse.Namespace,
    results: list[Result],
    floor: dict[str, dict[str, float]],
    context: dict[str, Any],
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "settings": {
            "duration_s": args.duration,
            "rounds": args.rounds,
            "connections": args.connections,
            "wrk_threads": 1,
            "warmup_s": min(WARMUP_S, args.duration),
            "batching_env": BATCHING_ENV,
        },
        "environment": environment(),
        **context,
        "flagged": any(r.errors for r in results),
        "results": [asdict(r) for r in results],
        "comparisons": comparisons(results),
        "targets": targets(results),
        "in_process_floor": floor,
    }
    path.write_text(json.dumps(doc, indent=2) + "\n")


# -- main ------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    p.add_argument("--duration", type=int, default=10, help="seconds per wrk run (default 10)")
    p.add_argument("--rounds", type=int, default=3, help="measured rounds per contender")
    p.add_argument("--connections", type=int, default=16, help="wrk connections (default 16)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON results path")
    p.add_argument(
        "--only",
        default="",
        help=f"comma list of: {', '.join(CONTENDERS)} (default: all; peers with --peers)",
    )
    p.add_argument(
        "--peers",
        action="store_true",
        help="also mlflow models serve and bentoml serve, each in its own venv "
        "(made under ~/.cache/podium/bench-venvs on first use: minutes)",
    )
    p.add_argument(
        "--no-export",
        action="store_true",
        help="do not podium export the model to ONNX first (the default flavor then decides)",
    )
    p.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        metavar="LOAD",
        help="first wait (up to half of --wait-max) for the 1-minute load average to drop "
        "below LOAD (default: do not wait)",
    )
    p.add_argument(
        "--wait-max",
        type=float,
        default=40.0,
        help="minutes of waiting for a quiet machine, all told (default 40)",
    )
    p.add_argument(
        "--retry-busy",
        type=int,
        default=0,
        metavar="N",
        help=f"redo a round up to N times when other work took over {BUSY_CORES} cores "
        "during it, after the machine quietens (default 0)",
    )
    args = p.parse_args(argv)
    if args.duration < 1 or args.rounds < 1 or args.connections < 1:
        p.error("--duration, --rounds and --connections must be positive")
    only = {n.strip() for n in args.only.split(",") if n.strip()}
    unknown = only - set(CONTENDERS)
    if unknown:
        p.error(f"--only: unknown contender(s) {', '.join(sorted(unknown))}")
    if only & set(PEERS):
        args.peers = True  # naming a peer asks for it
    args.only = only or {c for c in CONTENDERS if args.peers or c not in PEERS}
    return args


def check_tools() -> None:
    missing = [tool for tool in ("wrk", "taskset") if shutil.which(tool) is None]
    if missing:
        raise SystemExit(f"Missing tools: {', '.join(missing)} (Debian: apt-get install wrk)")
    if not {SERVER_CPU, CLIENT_CPU} <= os.sched_getaffinity(0):
        raise SystemExit(f"This benchmark needs CPUs {SERVER_CPU} and {CLIENT_CPU}.")


def wait_quiet(load: float, minutes: float) -> bool:
    """Wait until the 1-minute load average is below ``load``; False on giving up."""
    deadline = time.monotonic() + 60 * minutes / 2  # half of it: the rest for --retry-busy
    while (now := os.getloadavg()[0]) >= load:
        if time.monotonic() > deadline:
            print(f"load still {now:.2f} after {minutes:.0f} min: running anyway", flush=True)
            return False
        print(f"load {now:.2f} >= {load}: waiting", flush=True)
        time.sleep(30)
    print(f"load {now:.2f} < {load}: starting", flush=True)
    return True


def setup_peers(wanted: set[str]) -> dict[str, Any]:
    """The venvs of the wanted peers (all ``mlflow*`` contenders use the ``mlflow`` one)."""
    from importlib.metadata import version

    import serving_peers

    names = {"mlflow" if w.startswith("mlflow") else w for w in wanted & set(PEERS)}
    sklearn = version("scikit-learn")
    return {n: serving_peers.ensure_venv(n, sklearn) for n in sorted(names)}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    check_tools()
    sys.path.insert(0, str(Path(__file__).resolve().parent))  # serving_peers, when imported
    peers = setup_peers(args.only) if args.peers else {}
    args.wait_until = time.monotonic() + 60 * args.wait_max  # for waiting, all told
    quiet = wait_quiet(args.wait_quiet, args.wait_max) if args.wait_quiet else None
    load_at_start = list(os.getloadavg())
    source = podium_source()  # at the start: the code the servers run
    with tempfile.TemporaryDirectory(prefix="podium-bench-") as tmp:
        workdir = Path(tmp)
        model, x, exported = build_model(workdir, export=not args.no_export)
        flavors = podium_flavors()
        print(f"ONNX: {exported}; fast path: {flavors.fast_why}", flush=True)
        if peers:
            import serving_peers

            serving_peers.save_models(peers, workdir / "model.joblib", workdir)
        token = bench_token() if "podium-auth" in args.only else ""
        contenders = [c for c in contenders_for(x, token, flavors) if c.key in args.only]
        floor = in_process_floor(model, x)
        specs = server_specs(workdir, flavors, peers)
        results: list[Result] = []
        for name, spec in specs.items():
            mine = [c for c in contenders if c.server == name]
            if mine:
                results += bench_server(spec, mine, workdir, args)
    add_ratios(results)
    context = {
        "podium_source": source,
        "load_average_start": load_at_start,
        "waited_for_quiet": quiet,
        "fast_path": flavors.fast_why,
        "flavor_options": {"fast_path": flavors.fast, "podium-sklearn": flavors.sklearn},
        "onnx_export": exported,
        "peers": {
            name: {
                "venv": str(env.path),
                "requirements": env.requirements,
                "versions": env.versions,
                "setup_s": env.setup_s,
                "reused": env.reused,
            }
            for name, env in peers.items()
        },
    }
    print_report(results, floor, context)
    write_json(args.out, args, results, floor, context)
    print(f"\nwrote {args.out}")
    return 1 if any(r.errors for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
