"""The dashboard's list pages with 10,000 runs and 1,000 model versions in the store.

Run from the repository root::

    python benchmarks/dashboard.py                                   # SQLite
    python benchmarks/dashboard.py --postgres postgresql://postgres@127.0.0.1:5432/test
    python benchmarks/dashboard.py --postgres URL --no-sqlite --requests 20

Issue 11, point 7: pages with 10,000 runs and 1,000 versions in the store answer in under
300 ms server-side (paginated). For each backend the script

1. fills a throw-away workspace (a temporary folder; on PostgreSQL also a database of its
   own, created from ``--postgres`` and dropped at the end): 10,000 runs of six pipelines
   with their steps (a mix of statuses and of manual, schedule and event triggers), 1,000
   versions of four models (metrics, params, a signature, an input example; aliases moved
   as versions come), 300 data versions with their profiles, a few deployments, extra
   audit records and 20,000 logged predictions of the canary. Model versions, data
   versions and deployments go through the store's own write paths
   (``store.models.create_version``, ``store.data.create_version``, ``deploy.apply``):
   they write their audit records as in real use and are fast enough. Runs, steps, the
   extra audit records and the predictions are bulk-inserted into the store's SQLAlchemy
   tables (``podium.store.schema``): one transaction per run through ``store.runs.create``
   would take minutes and measure nothing the pages do. On PostgreSQL the fill ends with
   ``VACUUM ANALYZE``, what autovacuum does within a minute of a bulk load;
2. starts the real control API (``podium server``) on loopback over that store and times
   the requests the dashboard's list pages (and the canary's page) make, one at a time,
   ``--requests`` times each after a warm-up: p50 and p99 over HTTP (client-side,
   keep-alive), and the same requests in-process through ``httpx.ASGITransport`` on
   ``create_control_app`` (the server-side time: the app's work without the socket and
   HTTP parsing);
3. runs the physical floor in the same run: the page's main query as raw SQL
   (``SELECT ... LIMIT 51``) through SQLAlchemy on the same database, rows fetched.

The ``x floor`` column is the in-process p50 over the floor's p50: podium's overhead
(routing, validation, records, JSON). The 300 ms target is checked on the in-process p99 and
on the HTTP p99. Results are printed and written as JSON (``--out``). Compare numbers only
within one run: the machine is shared.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import hashlib
import json
import os
import platform
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from podium.workspace import Workspace

DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "dashboard.json"
TARGET_S = 0.300
PAGE = 50  # what the dashboard asks for a page
MARKER = "bench-filled.json"  # in a --workspace folder: what it holds, so a rerun skips filling

# Pipelines: name -> steps (a chain) and its share of the runs.
PIPELINES: dict[str, tuple[list[str], float]] = {
    "churn_training": (
        ["load", "clean", "features", "split", "train", "evaluate", "register"],
        0.3,
    ),
    "nightly_etl": (["extract", "transform", "load"], 0.25),
    "feature_refresh": (["read", "aggregate", "write"], 0.15),
    "fraud_training": (["load", "features", "train", "calibrate", "evaluate", "register"], 0.12),
    "report": (["query", "render"], 0.1),
    "retrain_loop": (["check_drift", "train", "shadow", "canary"], 0.08),
}
# Run statuses and their shares; "running" runs get a heartbeat in the future so that the
# crash recovery GET /runs does first leaves them alone during the benchmark.
STATUSES = {"succeeded": 0.78, "failed": 0.12, "crashed": 0.04, "running": 0.01, "cached": 0.05}
TRIGGERS = {"manual": 0.3, "schedule": 0.55, "event": 0.15}
MODELS = {"churn": 0.4, "fraud": 0.3, "ranker": 0.2, "pricing": 0.1}  # share of the versions


# -- filling the store --------------------------------------------------------------------
def _pick(rng: random.Random, shares: dict[str, Any]) -> str:
    names = list(shares)
    weights = [v[1] if isinstance(v, tuple) else v for v in shares.values()]
    return rng.choices(names, weights)[0]


def _id_at(at: datetime, rng: random.Random) -> str:
    """An id like ``podium.core.clock.new_id`` makes, for a run created at ``at``."""
    return f"{int(at.timestamp() * 1000):012x}{rng.randbytes(7).hex()}"


def fill_runs(ws: Workspace, n: int, rng: random.Random) -> dict[str, Any]:
    """Bulk-insert ``n`` runs and their steps (over the last 60 days, newest last)."""
    from sqlalchemy import insert

    from podium.store import schema as t

    now = datetime.now(UTC)
    start = now - timedelta(days=60)
    span = (now - start).total_seconds()
    runs: list[dict[str, Any]] = []
    steps: list[dict[str, Any]] = []
    for i in range(n):
        created = start + timedelta(seconds=span * i / n)
        pipeline = _pick(rng, PIPELINES)
        names = PIPELINES[pipeline][0]
        status = _pick(rng, STATUSES)
        kind = _pick(rng, TRIGGERS)  # recorded as the store does: schedule:NAME, event:NAME
        trigger = kind if kind == "manual" else f"{kind}:{pipeline}-{kind}"
        run_id = _id_at(created, rng)
        durations = [rng.uniform(0.05, 30.0) for _ in names]
        ended = created + timedelta(seconds=sum(durations) + 0.5)
        failing = rng.randrange(len(names)) if status in ("failed", "crashed", "running") else -1
        runs.append(
            {
                "id": run_id,
                "pipeline": pipeline,
                "status": status,
                "params": {"n_estimators": rng.choice([100, 200, 400]), "seed": i},
                "trigger": trigger,
                "created_at": created,
                "started_at": created,
                "ended_at": None if status == "running" else ended,
                "heartbeat_at": now + timedelta(days=1) if status == "running" else ended,
                "scheduled_time": created if kind == "schedule" else None,
                "pipeline_ref": f"pipelines/{pipeline}.py:{pipeline}",
                "error": f"ValueError: bad input in step {names[failing]}"
                if failing >= 0
                else None,
                "code_version": f"{rng.getrandbits(40):010x}",
            }
        )
        at = created
        for pos, (name, dur) in enumerate(zip(names, durations, strict=True)):
            if failing < 0 or pos < failing:
                st = "cached" if status == "cached" or rng.random() < 0.1 else "succeeded"
            elif pos == failing:
                st = {"failed": "failed", "crashed": "crashed", "running": "running"}[status]
            else:
                st = "pending" if status == "running" else "skipped"
            done = st in ("succeeded", "cached", "failed", "crashed")
            steps.append(
                {
                    "run_id": run_id,
                    "name": name,
                    "status": st,
                    "started_at": at if st != "pending" and st != "skipped" else None,
                    "ended_at": at + timedelta(seconds=dur) if done else None,
                    "duration_s": dur if done else None,
                    "error": runs[-1]["error"] if pos == failing else None,
                    "attempts": 1 + (rng.random() < 0.05) if st != "pending" else 0,
                    "cache_hit": st == "cached",
                    "cache_key": hashlib.sha256(f"{pipeline}{name}{i % 500}".encode()).hexdigest()
                    if done
                    else None,
                    "cache_info": {},
                    "inputs": {"x": f"{rng.getrandbits(100):026x}"} if pos else {},
                    "outputs": [f"{rng.getrandbits(100):026x}"] if done else [],
                    "upstream": [names[pos - 1]] if pos else [],
                    "position": pos,
                }
            )
            at += timedelta(seconds=dur)
    with ws.store.db.write() as conn:
        for chunk in range(0, len(runs), 2000):
            conn.execute(insert(t.runs), runs[chunk : chunk + 2000])
        for chunk in range(0, len(steps), 5000):
            conn.execute(insert(t.step_runs), steps[chunk : chunk + 5000])
    return {"runs": len(runs), "steps": len(steps), "run_ids": [r["id"] for r in runs]}


def fill_versions(ws: Workspace, n: int, run_ids: list[str], rng: random.Random) -> int:
    """``n`` versions of the models in MODELS through ``store.models.create_version``."""
    import pandas as pd
    from sklearn.datasets import load_breast_cancer

    from podium.core.records import FlavorRecord
    from podium.core.signature import Signature

    frame: pd.DataFrame = load_breast_cancer(as_frame=True).frame.drop(columns="target")
    signature = Signature.infer(frame).to_dict()
    example = {"columns": list(frame.columns), "data": frame.head(5).to_numpy().tolist()}
    counts = {m: round(n * share) for m, share in MODELS.items()}
    counts[next(iter(MODELS))] += n - sum(counts.values())
    order = [m for m, k in counts.items() for _ in range(k)]
    rng.shuffle(order)
    made = 0
    for i, model in enumerate(order):
        number = order[: i + 1].count(model)
        alias = "champion" if number % 25 == 1 else "challenger" if number % 10 == 0 else None
        digest = hashlib.sha256(f"{model}/{number}".encode()).hexdigest()
        ws.store.models.create_version(
            model,
            flavors=[
                FlavorRecord("skops", digest, 40_000 + number, {"sklearn": "1.5.2"}),
                FlavorRecord("joblib", digest[::-1], 38_000 + number, {}),
            ],
            signature=signature,
            input_example=example,
            reference_output={"data": [[0.1, 0.9]] * 5},
            metrics={
                "auc": rng.uniform(0.8, 0.99),
                "accuracy": rng.uniform(0.8, 0.99),
                "f1": rng.uniform(0.7, 0.95),
            },
            params={"C": rng.choice([0.1, 1.0, 10.0]), "max_iter": 1000},
            tags={"team": "risk", "dataset": "breast_cancer"},
            description=f"{model} retrained ({number})",
            run_id=rng.choice(run_ids),
            data_ref=f"data:/{model}/{1 + number % 50}",
            code_version=f"{rng.getrandbits(40):010x}",
            alias=alias,
            created_by="bench",
        )
        made += 1
    return made


def fill_data(ws: Workspace, n: int, rng: random.Random) -> int:
    """``n`` data versions of three datasets through ``store.data.create_version``."""
    from sklearn.datasets import load_breast_cancer

    from podium.core.signature import Signature
    from podium.data.profile import profile

    frame = load_breast_cancer(as_frame=True).frame
    schema = {"columns": Signature.infer(frame).to_dict()["inputs"]}
    prof = profile(frame)
    for i in range(n):
        ws.store.data.create_version(
            ("churn", "fraud", "pricing")[i % 3],
            digest=hashlib.sha256(f"data{i}".encode()).hexdigest(),
            format="parquet",
            source=f"s3://bucket/exports/{i}.parquet",
            rows=len(frame) + i,
            size=120_000 + i,
            schema=schema,
            profile=prof,
            created_by="bench",
            run_id=None,
        )
    return n


def fill_deployments(ws: Workspace) -> int:
    from podium import deploy

    specs = [
        {
            "name": "churn-api",
            "strategy": "single",
            "variants": {"main": {"model": "churn@champion"}},
        },
        {
            "name": "churn-canary",
            "strategy": "canary",
            "variants": {
                "stable": {"model": "churn@champion"},
                "candidate": {"model": "churn@challenger"},
            },
            "canary": {"stable": "stable", "candidate": "candidate", "steps": [5, 25, 50, 100]},
        },
        {
            "name": "fraud-api",
            "strategy": "single",
            "variants": {"main": {"model": "fraud@champion"}},
        },
        {
            "name": "ranker-ab",
            "strategy": "ab",
            "variants": {"a": {"model": "ranker@champion"}, "b": {"model": "ranker@challenger"}},
            "ab": {"weights": {"a": 90, "b": 10}},
        },
        {"name": "pricing-api", "strategy": "single", "variants": {"main": {"model": "pricing/3"}}},
    ]
    for spec in specs:
        deploy.apply(ws, spec, validate=False)
    return len(specs)


def fill_audit(ws: Workspace, n: int, rng: random.Random) -> int:
    """Bulk-insert ``n`` more audit records (traffic changes, token and flag actions)."""
    from sqlalchemy import insert

    from podium.store import schema as t

    now = datetime.now(UTC)
    rows = []
    for i in range(n):
        action = rng.choice(["deployment.traffic", "deployment.flag", "token.create", "run.delete"])
        rows.append(
            {
                "at": now - timedelta(seconds=(n - i) * 300),
                "actor": rng.choice(["alice", "bob", "ci", "scheduler"]),
                "action": action,
                "target": f"deployments:/{rng.choice(['churn-api', 'fraud-api', 'ranker-ab'])}",
                "before": {"shares": {"a": 50, "b": 50}},
                "after": {"shares": {"a": 40, "b": 60}},
                "request_id": uuid.uuid4().hex,
            }
        )
    with ws.store.db.write() as conn:
        for chunk in range(0, len(rows), 5000):
            conn.execute(insert(t.audit_log), rows[chunk : chunk + 5000])
    return n


def fill_predictions(ws: Workspace, n: int, rng: random.Random) -> int:
    """Bulk-insert ``n`` logged predictions of the canary (rows of 30 floats, as the server
    logs them) over the last hour, a tenth of them with feedback."""
    from sqlalchemy import insert

    from podium.store import schema as t

    now = datetime.now(UTC)
    preds, feedback = [], []
    for i in range(n):
        at = now - timedelta(seconds=3600 * (n - i) / n)
        variant = "candidate" if rng.random() < 0.1 else "stable"
        p1 = rng.random()
        pid = uuid.uuid4().hex
        preds.append(
            {
                "id": pid,
                "at": at,
                "deployment": "churn-canary",
                "variant": variant,
                "model_version": f"models:/churn/{400 if variant == 'stable' else 401}",
                "inputs": [[round(rng.gauss(0, 1), 4) for _ in range(30)]],
                "outputs": {"predictions": [int(p1 > 0.5)], "probabilities": [[1 - p1, p1]]},
                "latency_ms": rng.uniform(1, 8),
            }
        )
        if i % 10 == 0:
            feedback.append({"prediction_id": pid, "at": at, "label": 1, "reward": float(p1 > 0.5)})
    with ws.store.db.write() as conn:
        for chunk in range(0, n, 5000):
            conn.execute(insert(t.predictions), preds[chunk : chunk + 5000])
        conn.execute(insert(t.feedback), feedback)
    return n


def fill(ws: Workspace, args: argparse.Namespace, log: Callable[[str], None]) -> dict[str, Any]:
    rng = random.Random(args.seed)
    out: dict[str, Any] = {}
    started = time.perf_counter()
    got = fill_runs(ws, args.runs, rng)
    out["runs"], out["steps"] = got["runs"], got["steps"]
    out["runs_s"] = time.perf_counter() - started
    log(f"  {got['runs']} runs, {got['steps']} steps (bulk) in {out['runs_s']:.1f} s")
    started = time.perf_counter()
    out["versions"] = fill_versions(ws, args.versions, got["run_ids"], rng)
    out["versions_s"] = time.perf_counter() - started
    log(f"  {out['versions']} model versions (create_version) in {out['versions_s']:.1f} s")
    started = time.perf_counter()
    out["data_versions"] = fill_data(ws, args.data, rng)
    out["deployments"] = fill_deployments(ws)
    out["extra_audit"] = fill_audit(ws, args.audit, rng)
    out["predictions"] = fill_predictions(ws, args.predictions, rng)
    out["rest_s"] = time.perf_counter() - started
    log(f"  data, deployments, audit, predictions in {out['rest_s']:.1f} s")
    if ws.store.backend == "postgresql":
        # What autovacuum does within a minute of a bulk load: the planner's statistics and
        # the visibility map (index-only scans). SQLite gets nothing: podium never runs
        # ANALYZE there, so its planner works without statistics, as in real use.
        from sqlalchemy import text

        with ws.store.db.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
    return out


# -- the requests ---------------------------------------------------------------------------
@dataclass
class Request:
    label: str
    path: str
    params: dict[str, Any]
    floor: list[tuple[str, dict[str, Any]]]  # raw SQL statements (and binds) of the page


def _kind_sql(kind: str) -> str:
    """The floor's filter for runs of a trigger kind (as the store matches it)."""
    return f"(trigger = '{kind}' OR substr(trigger, 1, {len(kind) + 1}) = '{kind}:')"


def dashboard_requests(ws: Workspace, runs: int) -> list[Request]:
    """The requests of the dashboard's list pages, with the floor of each."""
    from sqlalchemy import text

    with ws.store.db.read() as conn:
        detail = conn.execute(
            text("SELECT id FROM runs WHERE pipeline = 'churn_training' ORDER BY id LIMIT 1")
        ).scalar_one()
        churn = conn.execute(
            text(
                "SELECT count(*) FROM model_versions v JOIN models m ON m.id = v.model_id "
                "WHERE m.name = 'churn'"
            )
        ).scalar_one()
    deep = max(0, runs - runs // 10)  # 90% down the list
    deep_versions = max(0, int(churn) - int(churn) // 10)
    order = "ORDER BY created_at DESC, id DESC LIMIT 51"
    versions = (
        "SELECT * FROM model_versions WHERE model_id = (SELECT id FROM models WHERE name = "
        "'churn') ORDER BY version DESC LIMIT 51"
    )
    # What the figures of a deployment read from the log (the inputs are not among them).
    predictions = (
        "SELECT id, at, variant, model_version, outputs, latency_ms FROM predictions "
        "WHERE deployment = 'churn-canary' ORDER BY at DESC"
    )
    return [
        Request(
            "runs: first page", "/runs", {"limit": PAGE}, [(f"SELECT * FROM runs {order}", {})]
        ),
        Request(
            f"runs: offset {deep}",
            "/runs",
            {"limit": PAGE, "offset": deep},
            [(f"SELECT * FROM runs {order} OFFSET {deep}", {})],
        ),
        Request(
            "runs: pipeline=report",
            "/runs",
            {"limit": PAGE, "pipeline": "report"},
            [(f"SELECT * FROM runs WHERE pipeline = 'report' {order}", {})],
        ),
        Request(
            "runs: status=failed",
            "/runs",
            {"limit": PAGE, "status": "failed"},
            [(f"SELECT * FROM runs WHERE status = 'failed' {order}", {})],
        ),
        Request(
            "runs: trigger=event",
            "/runs",
            {"limit": PAGE, "trigger": "event"},
            [(f"SELECT * FROM runs WHERE {_kind_sql('event')} {order}", {})],
        ),
        Request(
            "runs: trigger=schedule, deep",
            "/runs",
            {"limit": PAGE, "trigger": "schedule", "offset": 3000},
            [(f"SELECT * FROM runs WHERE {_kind_sql('schedule')} {order} OFFSET 3000", {})],
        ),
        Request(
            "runs: pipeline+status, deep",
            "/runs",
            {"limit": PAGE, "pipeline": "nightly_etl", "status": "succeeded", "offset": 1500},
            [
                (
                    "SELECT * FROM runs WHERE pipeline = 'nightly_etl' AND status = 'succeeded' "
                    f"{order} OFFSET 1500",
                    {},
                )
            ],
        ),
        Request(
            "run detail (7 steps)",
            f"/runs/{detail}",
            {},
            [
                ("SELECT * FROM runs WHERE id = :id", {"id": detail}),
                ("SELECT * FROM step_runs WHERE run_id = :id ORDER BY position", {"id": detail}),
            ],
        ),
        Request(
            "pipelines (runs page filter)",
            "/pipelines",
            {},
            [("SELECT pipeline, count(*), max(created_at) FROM runs GROUP BY pipeline", {})],
        ),
        Request(
            "models",
            "/models",
            {"limit": PAGE},
            [("SELECT * FROM models ORDER BY name LIMIT 51", {})],
        ),
        Request(
            "churn versions: first page",
            "/models/churn/versions",
            {"limit": PAGE},
            [(versions, {})],
        ),
        Request(
            f"churn versions: offset {deep_versions}",
            "/models/churn/versions",
            {"limit": PAGE, "offset": deep_versions},
            [(f"{versions} OFFSET {deep_versions}", {})],
        ),
        Request(
            "churn@champion history",
            "/models/churn/aliases/champion/history",
            {},
            [
                (
                    "SELECT * FROM audit_log WHERE target = 'models:/churn@champion' "
                    "ORDER BY id DESC LIMIT 1000",
                    {},
                )
            ],
        ),
        Request(
            "audit: first page",
            "/audit",
            {"limit": PAGE},
            [("SELECT * FROM audit_log ORDER BY id DESC LIMIT 50", {})],
        ),
        Request(
            "audit: action=alias.set",
            "/audit",
            {"limit": PAGE, "action": "alias.set"},
            [("SELECT * FROM audit_log WHERE action = 'alias.set' ORDER BY id DESC LIMIT 50", {})],
        ),
        Request(
            "audit: actor=alice",
            "/audit",
            {"limit": PAGE, "actor": "alice"},
            [("SELECT * FROM audit_log WHERE actor = 'alice' ORDER BY id DESC LIMIT 50", {})],
        ),
        Request(
            "data versions",
            "/data",
            {"limit": PAGE},
            [
                (
                    "SELECT * FROM data_versions ORDER BY created_at DESC, version DESC LIMIT 50",
                    {},
                )
            ],
        ),
        Request(
            "deployments",
            "/deployments",
            {},
            [("SELECT * FROM deployments ORDER BY name", {})],
        ),
        # The canary's page (issue 11, point 4; not a list): figures over its newest logged
        # predictions, and its history.
        Request(
            "canary status (10k window)",
            "/deployments/churn-canary/status",
            {},
            [(f"{predictions} LIMIT 10000", {})],
        ),
        Request(
            "canary history",
            "/deployments/churn-canary/history",
            {},
            [
                (
                    "SELECT * FROM deployment_events WHERE deployment = 'churn-canary' "
                    "ORDER BY id DESC LIMIT 200",
                    {},
                )
            ],
        ),
        *dashboard_only(predictions),
    ]


def dashboard_only(predictions: str) -> list[Request]:
    """The dashboard's own deployment figures (``podium.api.dashboard``), where it exists."""
    try:
        from podium.api import dashboard
    except ImportError:
        return []
    paths = {getattr(r, "path", "") for r in dashboard.router.routes}
    out = []
    if "/dashboard/deployments/{name}/timeline" in paths:
        out.append(
            Request(
                "canary timeline (dashboard)",
                "/dashboard/deployments/churn-canary/timeline",
                {},
                [(f"{predictions} LIMIT 5000", {})],
            )
        )
    if "/dashboard/deployments/{name}/rollout" in paths:
        out.append(
            Request(
                "canary rollout (dashboard)",
                "/dashboard/deployments/churn-canary/rollout",
                {},
                [("SELECT * FROM deployments WHERE name = 'churn-canary'", {})],
            )
        )
    return out


# -- measuring ------------------------------------------------------------------------------
@dataclass
class Timing:
    samples_s: list[float] = field(default_factory=list)

    @property
    def p50(self) -> float:
        return statistics.median(self.samples_s)

    @property
    def p99(self) -> float:
        s = sorted(self.samples_s)
        return s[min(len(s) - 1, round(0.99 * (len(s) - 1)))]

    def summary(self) -> dict[str, float]:
        return {
            "p50_s": self.p50,
            "p99_s": self.p99,
            "min_s": min(self.samples_s),
            "n": len(self.samples_s),
        }


@dataclass
class Result:
    label: str
    path: str
    params: dict[str, Any]
    items: int = 0
    errors: list[str] = field(default_factory=list)
    floor: Timing = field(default_factory=Timing)
    inproc: Timing = field(default_factory=Timing)
    http: Timing = field(default_factory=Timing)

    @property
    def ratio(self) -> float:
        return self.inproc.p50 / self.floor.p50 if self.floor.p50 > 0 else float("nan")

    @property
    def ok(self) -> bool:
        return not self.errors and max(self.inproc.p99, self.http.p99) < TARGET_S


def _count(body: Any) -> int:
    if isinstance(body, dict) and "items" in body:
        return len(body["items"])
    if isinstance(body, list):
        return len(body)
    return 1 if body else 0


def measure(
    ws: Workspace, url: str, base: str, reqs: list[Request], n: int, warmup: int
) -> list[Result]:
    """Each request: the floor, in-process and over HTTP, ``n`` times each after ``warmup``."""
    import httpx
    from sqlalchemy import text

    from podium.api import create_control_app
    from podium.store.engine import make_engine

    engine = make_engine(url)
    app = create_control_app(ws)
    results = [Result(r.label, r.path, r.params) for r in reqs]

    async def inprocess() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            for req, res in zip(reqs, results, strict=True):
                for i in range(warmup + n):
                    started = time.perf_counter()
                    got = await client.get(f"/api/v1{req.path}", params=req.params)
                    took = time.perf_counter() - started
                    if got.status_code != 200:
                        res.errors.append(f"in-process {got.status_code}: {got.text[:200]}")
                        break
                    if i >= warmup:
                        res.inproc.samples_s.append(took)
                res.items = _count(got.json())

    with httpx.Client(base_url=base, timeout=60) as http, engine.connect() as conn:
        for req, res in zip(reqs, results, strict=True):
            for i in range(warmup + n):
                started = time.perf_counter()
                for sql, binds in req.floor:
                    conn.execute(text(sql), binds).fetchall()
                took = time.perf_counter() - started
                conn.rollback()
                if i >= warmup:
                    res.floor.samples_s.append(took)
        # As `podium server` does before it serves (podium.serving.server.serve): what is
        # loaded so far (here also the fill's libraries) is kept out of full collections.
        gc.collect()
        gc.freeze()
        try:
            asyncio.run(inprocess())
        finally:
            gc.unfreeze()
        for req, res in zip(reqs, results, strict=True):
            for i in range(warmup + n):
                started = time.perf_counter()
                got = http.get(f"/api/v1{req.path}", params=req.params)
                took = time.perf_counter() - started
                if got.status_code != 200:
                    res.errors.append(f"HTTP {got.status_code}: {got.text[:200]}")
                    break
                if i >= warmup:
                    res.http.samples_s.append(took)
    engine.dispose()
    for res in results:
        for t in (res.floor, res.inproc, res.http):
            if not t.samples_s:
                t.samples_s.append(float("nan"))
    return results


# -- the server -------------------------------------------------------------------------------
def podium_command() -> list[str]:
    script = Path(sys.executable).parent / "podium"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "podium"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def control_server(home: Path, db_url: str) -> Iterator[str]:
    """``podium server`` on a free loopback port over the workspace; yields its base URL."""
    import httpx

    port = free_port()
    env = {**os.environ, "PODIUM_HOME": str(home), "PODIUM_DB_URL": db_url}
    env.pop("PODIUM_URL", None)
    env["PODIUM_ARTIFACTS_URL"] = str(home / "artifacts")
    log_path = home / "server.log"
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(
            [*podium_command(), "server", "--port", str(port)],
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"podium server exited {proc.returncode}:\n{log_path.read_text()}")
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"podium server did not answer in 60 s:\n{log_path.read_text()}")
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# -- backends ---------------------------------------------------------------------------------
@contextlib.contextmanager
def postgres_database(admin_url: str, name: str, keep: bool) -> Iterator[str]:
    """A database ``name`` next to ``admin_url``'s, created if missing, dropped unless kept."""
    import sqlalchemy as sa

    from podium.store.engine import normalize_url

    admin = sa.create_engine(normalize_url(admin_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(
            sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
        ).scalar()
        if not exists:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = normalize_url(admin_url).rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        if not keep:
            from podium.workspace import Workspace

            Workspace.close_all()
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def run_backend(
    backend: str, args: argparse.Namespace, log: Callable[[str], None]
) -> dict[str, Any]:
    from podium.core.settings import Settings
    from podium.workspace import Workspace

    keep = args.workspace is not None
    with contextlib.ExitStack() as stack:
        if keep:
            home = (args.workspace / backend).resolve()
            home.mkdir(parents=True, exist_ok=True)
        else:
            home = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="podium-bench-")))
        if backend == "sqlite":
            url = f"sqlite:///{home / 'podium.db'}"
        else:
            tag = (
                hashlib.sha256(str(home).encode()).hexdigest()[:8] if keep else uuid.uuid4().hex[:8]
            )
            url = stack.enter_context(postgres_database(args.postgres, f"podium_bench_{tag}", keep))
        settings = Settings.from_env(
            {
                "PODIUM_HOME": str(home),
                "PODIUM_DB_URL": url,
                "PODIUM_ARTIFACTS_URL": str(home / "artifacts"),
            }
        )
        ws = Workspace(settings)
        stack.callback(ws.close)
        marker = home / MARKER
        if marker.exists():
            filled = json.loads(marker.read_text())
            log(f"{backend}: reusing the filled store in {home}")
        else:
            log(f"{backend}: filling {home} ...")
            filled = fill(ws, args, log)
            if keep:
                marker.write_text(json.dumps(filled))
        reqs = dashboard_requests(ws, filled["runs"])
        log(f"{backend}: timing {len(reqs)} requests x {args.requests} ...")
        with control_server(home, url) as base:
            results = measure(ws, url, base, reqs, args.requests, args.warmup)
    return {"backend": backend, "filled": filled, "results": results}


# -- report -----------------------------------------------------------------------------------
def fmt_ms(s: float) -> str:
    return f"{s * 1000:.1f}"


def table(headers: list[str], rows: list[list[str]], left: int = 1) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows, strict=True)]

    def line(cells: list[str]) -> str:
        return "  ".join(
            str(c).ljust(w) if i < left else str(c).rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def report(section: dict[str, Any]) -> None:
    f = section["filled"]
    print(
        f"\n{section['backend']}: {f['runs']:,} runs ({f['steps']:,} steps), "
        f"{f['versions']:,} model versions, {f['data_versions']} data versions, "
        f"{f['deployments']} deployments, +{f['extra_audit']:,} audit records, "
        f"{f.get('predictions', 0):,} logged predictions"
    )
    rows = []
    for r in section["results"]:
        rows.append(
            [
                r.label,
                str(r.items),
                fmt_ms(r.floor.p50),
                fmt_ms(r.inproc.p50),
                fmt_ms(r.inproc.p99),
                fmt_ms(r.http.p50),
                fmt_ms(r.http.p99),
                f"{r.ratio:.1f}x",
                ("ok" if r.ok else "MISS") + (" !" if r.errors else ""),
            ]
        )
    print(
        table(
            [
                "request",
                "items",
                "floor p50",
                "server p50",
                "server p99",
                "HTTP p50",
                "HTTP p99",
                "x floor",
                "< 300 ms",
            ],
            rows,
        )
    )
    print("   ms; server = in-process (ASGITransport), HTTP = `podium server` over loopback;")
    print("   floor = the page's main query as raw SQL through SQLAlchemy; x floor = server/floor")
    for r in section["results"]:
        for e in r.errors[:1]:
            print(f"   ! {r.label}: {e}")


def podium_source() -> dict[str, Any]:
    """The commit of this checkout and a digest of its uncommitted changes to src/."""
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


def environment() -> dict[str, Any]:
    packages: dict[str, str | None] = {}
    for name in ("podium", "sqlalchemy", "fastapi", "psycopg", "uvicorn"):
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            packages[name] = None
    return {
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "loadavg": os.getloadavg(),
        "packages": packages,
        "source": podium_source(),
    }


# -- main ---------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--runs", type=int, default=10_000, help="runs in the store (10000)")
    p.add_argument("--versions", type=int, default=1000, help="model versions (1000)")
    p.add_argument("--data", type=int, default=300, help="data versions (300)")
    p.add_argument("--audit", type=int, default=10_000, help="extra audit records (10000)")
    p.add_argument(
        "--predictions", type=int, default=20_000, help="logged predictions of the canary (20000)"
    )
    p.add_argument("--requests", type=int, default=50, help="timed requests of each kind (50)")
    p.add_argument("--warmup", type=int, default=3, help="untimed requests first (3)")
    p.add_argument(
        "--postgres",
        metavar="URL",
        help="also on PostgreSQL: a URL of a database the script may create a database "
        "next to (e.g. postgresql://postgres@127.0.0.1:5432/test); dropped at the end",
    )
    p.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    p.add_argument(
        "--workspace",
        type=Path,
        help="fill (once) and keep the stores under this folder (and a PostgreSQL database "
        "named after it); a rerun reuses them and skips the filling",
    )
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"JSON path ({DEFAULT_OUT})")
    args = p.parse_args(argv)
    if args.no_sqlite and not args.postgres:
        p.error("--no-sqlite needs --postgres")
    if min(args.runs, args.versions, args.requests) < 1 or args.data < 3:
        p.error("--runs, --versions and --requests must be >= 1, --data >= 3")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    os.environ.pop("PODIUM_URL", None)
    for key in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(key, "1")

    def log(msg: str) -> None:
        print(f"  [{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)

    if shutil.which("git") is None:
        log("git not found: the JSON will not record the commit")
    env = environment()
    backends = ([] if args.no_sqlite else ["sqlite"]) + (["postgresql"] if args.postgres else [])
    sections = []
    for backend in backends:
        sections.append(run_backend(backend, args, log))
        report(sections[-1])
    misses = [f"{s['backend']}: {r.label}" for s in sections for r in s["results"] if not r.ok]
    print(
        f"\nTarget: every page under {TARGET_S * 1000:.0f} ms (p99, server and HTTP): "
        + ("met" if not misses else f"MISSED by {len(misses)}: " + "; ".join(misses))
    )
    env["loadavg_end"] = os.getloadavg()
    payload = {
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "environment": env,
        "target_s": TARGET_S,
        "backends": [
            {
                "backend": s["backend"],
                "filled": s["filled"],
                "requests": [
                    {
                        "label": r.label,
                        "path": r.path,
                        "params": r.params,
                        "items": r.items,
                        "errors": r.errors,
                        "floor": r.floor.summary(),
                        "server": r.inproc.summary(),
                        "http": r.http.summary(),
                        "x_floor": r.ratio,
                        "ok": r.ok,
                    }
                    for r in s["results"]
                ],
            }
            for s in sections
        ],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    print(f"\nWrote {args.out}")
    return 1 if any(r.errors for s in sections for r in s["results"]) else 0


if __name__ == "__main__":
    sys.exit(main())
