"""Serving a deployment: route each request to a variant, mirror shadows, follow the store.

The store holds the desired state (spec and runtime state). A background task compares the
revision and state every ``poll_s`` seconds; new models are loaded off the event loop and
swapped in whole, so a change of traffic or a new revision takes effect without a restart
and without failing a request.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import socket
import sys
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from podium.core.clock import utcnow
from podium.core.context import request_id_var
from podium.core.errors import ConflictError, NotFoundError, PodiumError, ValidationError
from podium.deploy import revert
from podium.deploy.report import STALE_S
from podium.deploy.spec import variant_flavor
from podium.registry import Predictor, Registry
from podium.serving.app import (
    Limits,
    ModelServer,
    build_app,
    error_response,
    json_response,
    parse_json,
    read_body,
    request_id_of,
)
from podium.serving.batching import Batching, concat_inputs
from podium.serving.call import Call
from podium.serving.online import OnlineLearner
from podium.serving.predlog import PredictionLog
from podium.serving.router import Router
from podium.workspace import Workspace

log = logging.getLogger("podium.serving")
SHADOW_FLUSH_S = 0.02  # mirrored requests are scored in batches this often
SHADOW_BATCH = 512  # rows per shadow model call at most
SHADOW_QUEUE = 10_000  # requests waiting for shadows at most; beyond, mirroring skips
HEARTBEAT_S = 2.0  # how often a worker reports what it serves (STALE_S: when it is dead)


@dataclass
class ShadowStats:
    requests: int = 0
    agree: int = 0
    errors: int = 0
    dropped: int = 0
    seconds: float = 0.0  # model time, per batch

    def to_dict(self) -> dict[str, float]:
        n = max(self.requests - self.errors, 1)
        return {
            "requests": self.requests,
            "agreement": self.agree / n,
            "errors": self.errors,
            "dropped": self.dropped,
            "model_ms_per_request": 1000 * self.seconds / n,
        }


class DeploymentServer(ModelServer):
    def __init__(
        self,
        ws: Workspace,
        name: str,
        limits: Limits,
        poll_s: float = 0.5,
        flavor: str | None = None,
    ) -> None:
        self.ws = ws
        self.name = name
        self.poll_s = poll_s
        self.flavor = flavor  # overrides each variant's (podium serve NAME --flavor F)
        self.worker = f"{socket.gethostname()}:{os.getpid()}"
        self.registry = Registry(ws.store, ws.artifacts)
        dep = ws.store.deployments.get(name)
        self.revision, self.state, self.spec = dep.revision, dep.state, dep.spec
        self.variants = self._load(dep.spec)
        self.router = Router(dep.spec, dep.state)
        self.status, self.detail = "ready", ""
        self.failed_revision: int | None = None
        self.shadow_stats: dict[str, ShadowStats] = {}
        self.log = PredictionLog(ws, name)
        self._step_variants: dict[tuple[int, frozenset[str]], tuple[Predictor, Predictor]] = {}
        self.shadow_queue: deque[tuple[Any, ...]] = deque()
        self._shadow_task: asyncio.Task[None] | None = None
        batching = Batching.from_spec(dep.spec.get("batching")) or Batching.from_env()
        super().__init__(list(self.variants.values())[:1], limits, batching)
        self.online: OnlineLearner | None = None
        if dep.spec.get("online"):
            variant = next(iter(dep.spec["variants"]))
            self.online = OnlineLearner(
                ws,
                name,
                dep.spec["online"],
                get=lambda: self.variants[variant],
                set_=lambda p: self.variants.__setitem__(variant, p),
            )

    def _load(self, spec: dict[str, Any], only: set[str] | None = None) -> dict[str, Predictor]:
        """Load the variants and prove each predicts as at registration, before any traffic."""
        loaded = {}
        for variant, s in spec["variants"].items():
            if only is not None and variant not in only:
                continue
            predictor = self.registry.load(
                s["model"], flavor=variant_flavor(self.name, spec, variant, self.flavor)
            )
            self.registry.verify(predictor)
            loaded[variant] = predictor
        return loaded

    def _without(self, predictor: Predictor, steps: frozenset[str]) -> Predictor:
        """The predictor with flagged-off pipeline steps skipped (built once, then cached)."""
        key = (id(predictor), steps)
        found = self._step_variants.get(key)
        if found is None or found[0] is not predictor:
            found = (predictor, predictor.without_steps(steps))
            if len(self._step_variants) > 256:  # old models' entries
                self._step_variants.clear()
            self._step_variants[key] = found
        return found[1]

    def versions(self) -> dict[str, str]:
        return {v: p.version.uri if p.version else "" for v, p in self.variants.items()}

    def flavors(self) -> dict[str, str]:
        return {v: p.runtime for v, p in self.variants.items()}

    # -- routing -----------------------------------------------------------------------------
    def find(self, name: str, version: str | None = None) -> Predictor:
        if name != self.name:
            raise NotFoundError(
                f"This server serves deployment {self.name!r}, not {name!r}.",
                hint=f"Use /v2/models/{self.name}/infer.",
            )
        return next(iter(self.variants.values()))

    def select(self, call: Call, name: str | None, version: str | None, record: Any) -> Predictor:
        if name is not None:
            self.find(name)
        route = call.route = self.router.choose(call.headers, record)
        predictor = self.variants.get(route.variant)
        if predictor is None:  # only a blue-green colour past its keep-warm time
            raise ConflictError(
                f"Variant {route.variant!r} of {self.name!r} is cold: it was released "
                "keep_warm_s after traffic left it.",
                hint=f"`podium deployments rollback {self.name}` loads it again.",
            )
        if route.steps_off:
            predictor = self._without(predictor, route.steps_off)
        # Kept with the request: a swap while it runs must not change what it reports.
        call.version = predictor.version.uri if predictor.version else ""
        call.predictor = predictor
        return predictor

    def decorate(self, call: Call, payload: Any) -> list[tuple[bytes, bytes]]:
        route = call.route
        assert route is not None  # select() chose it
        rid = call.request_id
        if isinstance(payload, dict):
            payload["variant"] = route.variant
            payload["prediction_id"] = rid
        return [
            (b"x-podium-variant", route.variant.encode("latin-1")),
            (b"x-podium-model-version", call.version.encode("latin-1")),
            (b"x-podium-prediction-id", rid.encode("latin-1")),
        ]

    def failed(self, call: Call, code: int) -> None:
        route = call.route
        if route is not None and code >= 500:  # the variant failed, not the client
            self.log.add_error(call.request_id, route.variant, call.version, code)

    async def infer(
        self, predictor: Predictor, x: Any, call: Call | None = None
    ) -> tuple[list[Any], Any]:
        t0 = time.perf_counter()
        labels, proba = await super().infer(predictor, x, call)
        route = call.route if call is not None else None
        if route is None or call is None:
            return labels, proba
        rid = call.request_id
        version = predictor.version.uri if predictor.version else ""
        self.log.add(
            rid, route.variant, version, x, labels, proba, 1000 * (time.perf_counter() - t0)
        )
        if route.shadows:
            self.mirror(route.shadows, x, labels, rid)
        if self.online is not None:
            self.online.remember(rid, x, labels)
        return labels, proba

    def mirror(self, shadows: list[str], x: Any, primary: list[Any], pid: str) -> None:
        """Queue a request for its shadows; the answer does not wait for them."""
        if len(self.shadow_queue) >= SHADOW_QUEUE:  # shadows fell behind: skip, and count it
            for variant in shadows:
                self.shadow_stats.setdefault(variant, ShadowStats()).dropped += 1
            return
        self.shadow_queue.append((shadows, x, primary, pid))
        if self._shadow_task is None or self._shadow_task.done():
            self._shadow_task = asyncio.get_running_loop().create_task(self._shadows())

    async def _shadows(self) -> None:
        """Score queued requests on each shadow, many rows per model call, off the loop.

        Mirrored requests are never latency-critical, so they are always batched: a shadow
        costs a fraction of a model call per request instead of a whole one. Whatever a
        shadow does (raise, hang, disagree) is recorded, never raised.
        """
        while self.shadow_queue:
            await asyncio.sleep(SHADOW_FLUSH_S)
            items = [self.shadow_queue.popleft() for _ in range(len(self.shadow_queue))]
            for variant in dict.fromkeys(v for item in items for v in item[0]):
                mine = [i for i in items if variant in i[0]]
                for start in range(0, len(mine), SHADOW_BATCH):
                    await self._shadow(variant, mine[start : start + SHADOW_BATCH])

    async def _shadow(self, variant: str, items: list[tuple[Any, ...]]) -> None:
        stats = self.shadow_stats.setdefault(variant, ShadowStats())
        predictor = self.variants.get(variant)
        if predictor is None:  # dropped by a new revision meanwhile
            return
        version = predictor.version.uri if predictor.version else ""
        stats.requests += len(items)
        t0 = time.perf_counter()
        try:
            labels, proba = await run_in_threadpool(
                predictor.infer, concat_inputs([i[1] for i in items])
            )
        except Exception:
            stats.errors += len(items)
            for _, _, _, pid in items:
                self.log.add_error(
                    _shadow_id(pid, variant), variant, version, 500, {"shadow_of": pid}
                )
            return
        ms = 1000 * (time.perf_counter() - t0)
        stats.seconds += ms / 1000
        start = 0
        for _, _, primary, pid in items:
            end = start + len(primary)
            agrees = labels[start:end] == primary
            stats.agree += int(agrees)
            extra = {"shadow_of": pid, "agrees": agrees}
            p = proba[start:end] if proba is not None else None
            # The inputs are the primary's, logged once with it (joined by shadow_of).
            sid = _shadow_id(pid, variant)
            self.log.add(sid, variant, version, None, labels[start:end], p, ms, extra)
            start = end

    # -- reconciling to the store -------------------------------------------------------------
    async def reconcile_forever(self) -> None:
        while True:
            await asyncio.sleep(self.poll_s)
            try:
                await self.reconcile()
            except Exception as exc:  # the store may be briefly unavailable: keep serving
                log.warning("Deployment %s: could not reconcile: %s", self.name, exc)

    async def heartbeat_forever(self) -> None:
        while True:
            try:
                await run_in_threadpool(self.report)
            except Exception as exc:
                log.warning("Deployment %s: could not report: %s", self.name, exc)
            await asyncio.sleep(HEARTBEAT_S)

    def report(self) -> None:
        self.ws.store.deployments.report_worker(
            self.name,
            self.worker,
            self.revision,
            self.versions(),
            self.status,
            self.detail,
            rss_bytes(),
        )

    async def reconcile(self) -> bool:
        """Catch up with the store; return whether anything changed."""
        dep = await run_in_threadpool(self.ws.store.deployments.get, self.name)
        if dep.revision != self.revision and dep.revision != self.failed_revision:
            return await self._upgrade(dep)
        needed = _needed(dep.spec, dep.state)
        if dep.state == self.state and needed == set(self.variants):
            return False
        variants = {v: p for v, p in self.variants.items() if v in needed}
        missing = needed - set(variants)
        if missing:  # a cold colour is live again: load it before traffic moves to it
            variants.update(await run_in_threadpool(self._load, dep.spec, missing))
        self.variants, self.router = variants, Router(dep.spec, dep.state)
        self.state = dep.state
        return True

    async def _upgrade(self, dep: Any) -> bool:
        """Move to a new revision: load and verify its models off the event loop, then swap
        them in whole. Rolling deployments take turns, one worker at a time; a version that
        fails to load or to verify is never swapped in, and a rolling one is reverted."""
        rolling = dep.spec.get("strategy") == "rolling"
        before = self.status, self.detail
        self.status, self.detail = "upgrading", f"to revision {dep.revision}"
        if rolling:
            claim = self.ws.store.deployments.claim_upgrade
            slots = dep.spec.get("rolling", {}).get("max_parallel", 1)
            args = (self.name, self.worker, dep.revision, STALE_S, slots)
            if not await run_in_threadpool(claim, *args):
                self.status, self.detail = before  # another worker's turn
                return False
        try:
            variants = await run_in_threadpool(self._variants_for, dep.spec)
        except Exception as exc:
            reason = exc.message if isinstance(exc, PodiumError) else f"{type(exc).__name__}: {exc}"
            self.failed_revision = dep.revision
            self.status, self.detail = "failed", f"revision {dep.revision}: {reason}"
            log.error("Deployment %s: revision %s refused: %s", self.name, dep.revision, reason)
            await run_in_threadpool(self.report)
            if rolling:
                why = f"worker {self.worker} could not take revision {dep.revision}: {reason}"
                await run_in_threadpool(revert, self.ws, self.name, dep.revision, self.spec, why)
            return False
        # Swap together, between requests: a request sees the old or the new set, whole.
        self.variants, self.router = variants, Router(dep.spec, dep.state)
        self.revision, self.state, self.spec = dep.revision, dep.state, dep.spec
        self.batching = Batching.from_spec(dep.spec.get("batching")) or Batching.from_env()
        self.batchers = {}
        self.status, self.detail = "ready", ""
        log.info("Deployment %s now at revision %s", self.name, dep.revision)
        await run_in_threadpool(self._upgraded, rolling)
        return True

    def _variants_for(self, spec: dict[str, Any]) -> dict[str, Predictor]:
        """The new revision's models, reusing those already loaded at the same version and
        asked for with the same flavor."""
        wanted = {
            v: (self.registry.get(s["model"]).uri, variant_flavor(self.name, spec, v, self.flavor))
            for v, s in spec["variants"].items()
        }
        have = {
            (p.version.uri, variant_flavor(self.name, self.spec, v, self.flavor)): p
            for v, p in self.variants.items()
            if p.version is not None and v in self.spec["variants"]
        }
        if all(key in have for key in wanted.values()):
            return {v: have[key] for v, key in wanted.items()}
        return self._load(spec)

    def _upgraded(self, rolling: bool) -> None:
        self.report()
        if not rolling:
            return
        store = self.ws.store.deployments
        store.record(self.name, "worker_upgraded", {"worker": self.worker, **self.versions()})
        workers = store.workers(self.name, STALE_S)
        if all(w.revision == self.revision and w.status == "ready" for w in workers):
            store.record(self.name, "rolled_out", {"workers": len(workers), **self.versions()})


def _shadow_id(pid: str, variant: str) -> str:
    """A shadow's prediction id: ``PID~VARIANT`` (hashed past the log's 128 characters)."""
    sid = f"{pid}~{variant}"
    return sid if len(sid) <= 128 else hashlib.sha256(sid.encode()).hexdigest()


def _needed(spec: dict[str, Any], state: dict[str, Any]) -> set[str]:
    """The variants to keep loaded: all, but a blue-green pair's previous colour only for
    ``keep_warm_s`` after the switch (a rollback within that time is instant)."""
    names = set(spec["variants"])
    previous, at = state.get("previous"), state.get("switched_at")
    if spec["strategy"] == "bluegreen" and previous and at:
        age = (utcnow() - datetime.fromisoformat(at)).total_seconds()
        if age > spec["bluegreen"].get("keep_warm_s", 300):
            names.discard(previous)
    return names


def create_deployment_app(
    name: str,
    *,
    workspace: Workspace | None = None,
    limits: Limits | None = None,
    poll_s: float = 0.5,
    flavor: str | None = None,
) -> FastAPI:
    """The ASGI app serving deployment ``name`` and following its desired state.

    ``flavor`` (auto, sklearn or onnx) overrides each variant's ``flavor``; by default a
    variant answers through its ONNX fast path when the parity check held.
    """
    server = DeploymentServer(
        workspace or Workspace.current(), name, limits or Limits.from_env(), poll_s, flavor
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        tasks = [
            loop.create_task(server.reconcile_forever()),
            loop.create_task(server.heartbeat_forever()),
        ]
        server.log.start()
        if server.online is not None:
            server.online.start()
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            if server.online is not None:
                await run_in_threadpool(server.online.close)
            await run_in_threadpool(server.log.close)
            with contextlib.suppress(Exception):  # best effort: a stale row expires anyway
                await run_in_threadpool(
                    server.ws.store.deployments.remove_worker, server.name, server.worker
                )

    app = build_app(server, lifespan)

    @app.post("/feedback", tags=["deployment"], status_code=202)
    async def feedback(request: Request) -> Response:
        rid = request_id_of(request)
        request_id_var.set(rid)
        try:
            if server.rate_limiter is not None:
                server.rate_limiter.admit(request.scope, request.headers)
            body = parse_json(await read_body(request, server.limits.max_body_bytes))
            items = _feedback_items(body)
        except PodiumError as exc:
            return error_response(exc, rid)
        server.log.add_feedback(items)
        if server.online is not None:
            server.online.feedback(items)
        return json_response({"accepted": len(items)}, 202, rid)

    @app.get("/deployment", tags=["deployment"])
    async def deployment_status() -> dict[str, Any]:
        return {
            "name": server.name,
            "revision": server.revision,
            "state": server.state,
            "worker": server.worker,
            "status": server.status,
            "detail": server.detail,
            "variants": server.versions(),
            "flavors": server.flavors(),
            "shadows": {v: s.to_dict() for v, s in server.shadow_stats.items()},
            "online": server.online.status() if server.online is not None else None,
        }

    return app


def _feedback_items(body: Any) -> list[dict[str, Any]]:
    """``{"prediction_id", "reward"?, "label"?}``, a list of them, or ``{"feedback": [...]}``."""
    import math

    items = body.get("feedback", body) if isinstance(body, dict) else body
    items = [items] if isinstance(items, dict) else items
    if not isinstance(items, list) or not items:
        raise ValidationError(
            'Send {"prediction_id": ..., "reward": ...} or a list of them.', field="body"
        )
    for i, item in enumerate(items):
        where = f"feedback[{i}]"
        if not isinstance(item, dict):
            raise ValidationError(f"{where} must be an object.", field=where)
        extra = set(item) - {"prediction_id", "reward", "label"}
        if extra:
            raise ValidationError(
                f"{where} has unknown field {sorted(extra)[0]!r}.",
                field=f"{where}.{sorted(extra)[0]}",
            )
        pid = item.get("prediction_id")
        if not isinstance(pid, str) or not 0 < len(pid) <= 128:
            raise ValidationError(
                f"{where}.prediction_id must be the id a prediction returned.",
                field=f"{where}.prediction_id",
            )
        reward = item.get("reward")
        if reward is not None and (
            isinstance(reward, bool)
            or not isinstance(reward, int | float)
            or not math.isfinite(reward)
        ):
            raise ValidationError(f"{where}.reward must be a number.", field=f"{where}.reward")
        if reward is None and "label" not in item:
            raise ValidationError(f"{where} needs a reward, a label, or both.", field=where)
    return items


def rss_bytes() -> int | None:
    """This process's resident memory (Linux /proc; elsewhere the peak, from getrusage)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        try:
            import resource

            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            return int(peak) * (1 if sys.platform == "darwin" else 1024)
        except (ImportError, OSError):
            return None
