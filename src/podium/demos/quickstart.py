"""``podium quickstart``: train, validate, register, serve, send traffic, report.

Runs in a folder with no service and no network. The server is a real ``podium serve``
subprocess, started the way a user would start it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from podium.core.errors import PodiumError
from podium.core.settings import Settings
from podium.demos import quickstart_pipeline as qp
from podium.workspace import Workspace

Say = Callable[[str], None]


@dataclass
class QuickstartResult:
    home: Path
    run_id: str
    model_uri: str
    version: int
    metrics: dict[str, float]
    url: str
    requests: int
    served_accuracy: float
    matches_in_process: bool
    latency_ms: dict[str, dict[str, float]] = field(default_factory=dict)
    startup_s: float = 0.0
    total_s: float = 0.0
    server: subprocess.Popen[bytes] | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "server"}
        out["home"] = str(self.home)
        return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_quickstart(
    directory: Path,
    *,
    requests: int = 200,
    port: int | None = None,
    keep_serving: bool = False,
    say: Say = print,
) -> QuickstartResult:
    t0 = time.perf_counter()
    home = (directory / ".podium").absolute()
    ws = Workspace(Settings.at(home))
    say(f"Workspace: {home} (SQLite + local artifact folder)")

    say("1/4 Training pipeline: load -> split -> train -> evaluate -> gates -> register")
    result = qp.training.run(workspace=ws)
    registered, test = result.outputs
    mv = ws.store.models.get_version(registered["name"], registered["version"])
    say(
        f"    run {result.id}: {len(result.run.steps)} steps succeeded; "
        f"accuracy {mv.metrics['accuracy']:.3f}, ROC AUC {mv.metrics['roc_auc']:.3f}"
    )
    say(f"    registered {mv.uri} with alias 'champion'")

    say("2/4 Starting the model server (podium serve)")
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PODIUM_HOME": str(home)}
    env.pop("PODIUM_DB_URL", None)
    env.pop("PODIUM_ARTIFACTS_URL", None)
    env.pop("PODIUM_AUTH", None)  # the tour's own server, on loopback, in its own workspace
    log_path = home / "logs" / "quickstart-server.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "podium",
                "serve",
                f"models:/{qp.MODEL_NAME}@champion",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_ready(url, server, log_path)
        startup = time.perf_counter() - started
        say(f"    answering at {url} after {startup:.2f} s")

        say(f"3/4 Sending {requests} requests over /predict and {requests} over OIP v2")
        X = test.drop(columns=qp.TARGET)
        y = test[qp.TARGET].to_numpy()
        served, latency = _traffic(url, X, requests)
        expected = np.asarray(result.step_outputs["train"].predict(X))
        n = min(len(X), requests)
        served_acc = float(np.mean(np.asarray(served[:n]) == y[:n]))
        same = bool(np.array_equal(np.asarray(served[:n]), expected[:n]))
        say("4/4 Done")
    except BaseException:
        _stop(server)
        raise
    out = QuickstartResult(
        home=home,
        run_id=result.id,
        model_uri=mv.uri,
        version=mv.version,
        metrics=dict(mv.metrics),
        url=url,
        requests=2 * requests,
        served_accuracy=served_acc,
        matches_in_process=same,
        latency_ms=latency,
        startup_s=startup,
        total_s=time.perf_counter() - t0,
    )
    if keep_serving:
        out.server = server
    else:
        _stop(server)
    return out


def _wait_ready(
    url: str, server: subprocess.Popen[bytes], log_path: Path, timeout: float = 60
) -> float:
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        if server.poll() is not None:
            tail = log_path.read_text(errors="replace").strip().splitlines()[-5:]
            raise PodiumError(
                f"The model server exited with code {server.returncode} before it was ready: "
                + (" | ".join(tail) or "no output")
                + ".",
                hint=f"The whole server log is {log_path}.",
            )
        try:
            if httpx.get(f"{url}/v2/health/ready", timeout=1).status_code == 200:
                return time.perf_counter() - t0
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise PodiumError(f"The model server at {url} was not ready after {timeout:.0f} s.")


def _traffic(url: str, X: Any, requests: int) -> tuple[list[Any], dict[str, dict[str, float]]]:
    rows = X.to_dict(orient="records")
    values = X.to_numpy().tolist()
    served: list[Any] = []
    times: dict[str, list[float]] = {"/predict": [], "v2 infer": []}
    with httpx.Client(base_url=url, timeout=10) as client:
        for i in range(requests):
            j = i % len(rows)
            t = time.perf_counter()
            r = client.post("/predict", json={"records": [rows[j]]})
            times["/predict"].append(time.perf_counter() - t)
            r.raise_for_status()
            served.append(r.json()["predictions"][0])
            body = {
                "inputs": [
                    {
                        "name": "input-0",
                        "shape": [1, len(values[j])],
                        "datatype": "FP64",
                        "data": values[j],
                    }
                ]
            }
            t = time.perf_counter()
            r = client.post(f"/v2/models/{qp.MODEL_NAME}/infer", json=body)
            times["v2 infer"].append(time.perf_counter() - t)
            r.raise_for_status()
    latency = {
        k: {"p50": float(np.percentile(v, 50) * 1e3), "p99": float(np.percentile(v, 99) * 1e3)}
        for k, v in times.items()
    }
    return served, latency


def _stop(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
