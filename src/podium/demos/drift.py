"""``podium demo drift``: the closed loop in one command, on generated data.

A model is trained and served; a labelled stream flows through it; half-way the world
changes (two inputs move and what they mean changes). Monitoring sees the drift and the
accuracy fall, the retraining pipeline refits the model on the latest labelled traffic, the
candidate is shadowed, canaried and promoted, and accuracy comes back. Everything runs
against a real ``podium serve`` process and ends with the HTML report.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from podium.core.settings import Settings
from podium.demos.quickstart import _stop, _wait_ready, free_port
from podium.deploy import apply
from podium.registry import Registry
from podium.watch import Monitor, snapshot
from podium.watch.report import build as build_report
from podium.watch.report import html
from podium.workspace import Workspace

Say = Callable[[str], None]
NAME = "drift-demo"
COLUMNS = ["age", "income", "visits", "tenure"]
MARKER = ".podium-drift-demo"


@dataclass
class DriftDemoResult:
    home: Path
    report: Path
    accuracy_before: float | None
    accuracy_drifted: float | None
    accuracy_after: float | None
    champion_before: str
    champion_after: str
    outcome: str  # the retraining loop's final phase
    timeline: list[dict[str, Any]] = field(default_factory=list)
    requests: int = 0
    total_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["home"], d["report"] = str(self.home), str(self.report)
        return d


def world(rng: np.random.Generator, n: int, changed: bool) -> tuple[pd.DataFrame, np.ndarray]:
    """Customers and whether they churn. After the change, ages and visits move and churn
    follows income, no longer age."""
    x = pd.DataFrame(rng.normal(0, 1, (n, len(COLUMNS))), columns=COLUMNS)
    if changed:
        x["age"] += 0.8
        x["visits"] += 1.0
        y = (x.income - 0.5 * x.tenure > 0).astype(int)
    else:
        y = (x.age + 0.5 * x.tenure > 0).astype(int)
    return x, y.to_numpy()


def spec() -> dict[str, Any]:
    return {
        "name": NAME,
        "description": "podium demo drift",
        "variants": {"main": {"model": f"models:/{NAME}@champion"}},
        "monitoring": {
            "window": {"rows": 300},
            "alerts": [
                {"name": "data-drift", "figure": "drift.share", "op": ">=", "threshold": 0.3},
                {
                    "name": "accuracy",
                    "figure": "performance.accuracy",
                    "op": "<",
                    "threshold": 0.8,
                    "severity": "critical",
                    "retrain": True,
                },
            ],
        },
        "retrain": {
            "pipeline": "podium.watch.retrain:from_log",
            "params": {"rows": 200},  # only traffic since the change: it is what to learn
            "shadow": {"requests": 100},
            "canary": {
                "steps": [25, 50, 100],
                "min_duration_s": 1,
                "min_requests": 60,
                # After a change of concept the new model is meant to answer differently.
                "gates": {"max_prediction_drift": 1.0, "p99_slack_ms": 50},
            },
        },
    }


def run_drift_demo(
    directory: Path, *, batch: int = 100, max_batches: int = 40, say: Say = print
) -> DriftDemoResult:
    import httpx
    from sklearn.linear_model import LogisticRegression

    t0 = time.perf_counter()
    home = _fresh(directory / NAME) / ".podium"
    ws = Workspace(Settings.at(home))
    rng = np.random.default_rng(42)
    say(f"Workspace: {home}")

    say("1/5 Training the first model on the world as it is, with a reference profile")
    x, y = world(rng, 4_000, changed=False)
    model = LogisticRegression().fit(x[:3_000], y[:3_000])
    registry = Registry(ws.store, ws.artifacts)
    mv = registry.register(
        model, NAME, input_example=x[3_000:3_050], reference_data=x[3_000:], alias="champion"
    )
    apply(ws, spec())
    say(f"    {mv.uri} is champion; deployment {NAME!r} watches accuracy and drift")

    say(f"2/5 Serving it: podium serve {NAME}")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = home / "logs" / "drift-demo-server.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PODIUM_HOME": str(home)}
    for var in ("PODIUM_DB_URL", "PODIUM_ARTIFACTS_URL", "PODIUM_AUTH"):
        env.pop(var, None)
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "podium", "serve", NAME, "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    monitor = Monitor(ws)
    timeline: list[dict[str, Any]] = []
    sent = 0
    try:
        _wait_ready(url, server, log_path)
        with httpx.Client(base_url=url, timeout=30) as http:

            def stream(n: int, changed: bool) -> None:
                nonlocal sent
                xs, ys = world(rng, n, changed)
                fb = []
                for i in range(n):
                    r = http.post("/predict", json={"records": [xs.iloc[i].to_dict()]})
                    r.raise_for_status()
                    fb.append({"prediction_id": r.json()["prediction_id"], "label": int(ys[i])})
                http.post("/feedback", json=fb).raise_for_status()
                sent += n
                time.sleep(0.5)  # the prediction log flushes every 0.2 s

            def look(stage: str) -> dict[str, Any]:
                result = monitor.once()[NAME]
                perf = snapshot(ws, NAME)["performance"]
                loop = result.get("loop")
                if loop == "canary":
                    loop = f"canary at {ws.store.deployments.get(NAME).state.get('percent', 0):g}%"
                event = {
                    "requests": sent,
                    "stage": stage,
                    "accuracy": perf["accuracy"],
                    "alerts": [a["rule"] for a in result.get("alerts", [])],
                    "loop": result.get("loop"),
                }
                shown = loop or "-"
                timeline.append(event)
                fired = f", alerts: {', '.join(event['alerts'])}" if event["alerts"] else ""
                acc = "-" if perf["accuracy"] is None else f"{perf['accuracy']:.3f}"
                say(f"    {sent:>5} requests: accuracy {acc}{fired}; retraining: {shown}")
                return event

            say("3/5 A labelled stream from the same world: nothing to report")
            for _ in range(3):
                stream(batch, changed=False)
            before = look("before")

            say("4/5 The world changes: monitoring, retraining, shadow, canary")
            drifted: float | None = None
            outcome = "none"
            for _ in range(max_batches):
                stream(batch, changed=True)
                event = look("changed")
                if drifted is None and event["alerts"]:
                    drifted = event["accuracy"]
                if event["loop"] in ("promoted", "rolled_back", "failed"):
                    outcome = str(event["loop"])
                    break
            say("5/5 After the loop: the stream goes on")
            for _ in range(3):
                stream(batch, changed=True)
            after = look("after")
    finally:
        _stop(server)
    report_path = directory / NAME / "report.html"
    report_path.write_text(html(build_report(ws, NAME)), encoding="utf-8")
    champion = registry.get(f"{NAME}@champion").uri
    ws.close()
    return DriftDemoResult(
        home=home,
        report=report_path,
        accuracy_before=before["accuracy"],
        accuracy_drifted=drifted,
        accuracy_after=after["accuracy"],
        champion_before=mv.uri,
        champion_after=champion,
        outcome=outcome,
        timeline=timeline,
        requests=sent,
        total_s=time.perf_counter() - t0,
    )


def _fresh(folder: Path) -> Path:
    """The demo's own folder, emptied if an earlier demo made it; never someone else's."""
    if folder.exists():
        if not (folder / MARKER).exists():
            from podium.core.errors import ConflictError

            raise ConflictError(
                f"{folder} exists and was not made by `podium demo drift`.",
                hint="Run the demo with --dir pointing at another folder.",
            )
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    (folder / MARKER).write_text("made by podium demo drift; deleted by its next run\n")
    return folder
