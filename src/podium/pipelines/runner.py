"""Execute a built graph: independent steps in parallel, each with retries, timeout, cache.

The scheduler loop lives in the calling thread; step tries run on a thread pool (or, for
steps with a timeout, in a child process). Every state change is written to the store as
it happens, so a run can be followed live and resumed after a failure.
"""

from __future__ import annotations

import contextvars
import logging
import os
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from podium._version import __version__
from podium.core import tracing
from podium.core.clock import new_id, utcnow
from podium.core.context import run_id_var, step_var
from podium.core.errors import PipelineError, PodiumError
from podium.core.records import ArtifactRecord, Run
from podium.pipelines import cache, materializers
from podium.pipelines.child import StepTimeout
from podium.pipelines.executors import Executor, get_executor
from podium.pipelines.graph import Graph, Node, OutputRef, resolve
from podium.pipelines.recorder import Recorder
from podium.workspace import Workspace

# Called with (step name, status) on every change; from worker threads.
EventHook = Callable[[str, str], None]
FINISHED = ("succeeded", "cached")
# Runs and steps starting, ending and retrying. Quiet unless logging is set up
# (PODIUM_LOG_FORMAT, PODIUM_LOG_LEVEL or your own): without a handler, Python would print the
# warnings of a failed run beside the error the run raises anyway.
log = logging.getLogger("podium.pipelines.runs")
log.addHandler(logging.NullHandler())
# Spans of runs and steps, when OpenTelemetry is configured (see podium.core.tracing).
TRACER = tracing.Tracer("podium.pipelines", __version__)


@dataclass
class RunResult:
    """What a run produced: its record and, in memory, the value of each step's output."""

    run: Run
    outputs: Any = None  # the pipeline function's return value, with real values
    step_outputs: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.run.id

    @property
    def status(self) -> str:
        return self.run.status


@dataclass
class Outcome:
    status: str  # succeeded, cached, failed, timed_out
    value: Any = None
    digests: list[str] = field(default_factory=list)
    error: str | None = None


def default_workers() -> int:
    """One thread per core (at least 2): steps are mostly CPU or numpy work, and more
    threads than cores only contend for the GIL (a fan-out of trivial steps ran 2.7x slower
    with cores + 4). I/O-bound pipelines can pass a larger ``max_workers``."""
    return max(2, os.cpu_count() or 1)


def heartbeat_seconds() -> float:
    """How often a running pipeline tells the store it is alive (``PODIUM_HEARTBEAT_SECONDS``)."""
    return float(os.environ.get("PODIUM_HEARTBEAT_SECONDS", "10"))


def recover_crashed(ws: Workspace) -> list[str]:
    """Mark runs whose process died as ``crashed`` (three missed heartbeats); return their ids."""
    return ws.store.runs.mark_crashed(3 * heartbeat_seconds())


class _Heartbeat:
    """Refreshes the run's heartbeat from a daemon thread while the run executes."""

    def __init__(self, ws: Workspace, run_id: str) -> None:
        self.stop = threading.Event()
        self.thread = threading.Thread(
            target=self._beat, args=(ws, run_id), name="podium-heartbeat", daemon=True
        )

    def _beat(self, ws: Workspace, run_id: str) -> None:
        interval = heartbeat_seconds()
        while not self.stop.wait(interval):
            try:
                ws.store.runs.heartbeat(run_id)
            except PodiumError:  # a busy or unreachable store: the next beat may pass
                continue

    def __enter__(self) -> _Heartbeat:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()


def execute(
    graph: Graph,
    *,
    pipeline: str,
    params: dict[str, Any],
    returned: Any,
    workspace: Workspace,
    trigger: str = "manual",
    raise_on_failure: bool = True,
    max_workers: int | None = None,
    fail_fast: bool = False,
    pipeline_ref: str | None = None,
    resume: Run | None = None,
    on_event: EventHook | None = None,
    scheduled_time: datetime | None = None,
    on_start: Callable[[Run], None] | None = None,
    executor: Executor | str | None = None,
) -> RunResult:
    runs = workspace.store.runs
    recover_crashed(workspace)
    runner = (
        executor
        if executor is not None and not isinstance(executor, str)
        else (get_executor(executor))
    )
    engine = _Engine(graph, workspace, pipeline, on_event, runner)
    if resume is None:
        run = runs.create(
            pipeline,
            _plain_params(params),
            steps=[(n.name, n.upstream) for n in graph.nodes.values()],
            trigger=trigger,
            pipeline_ref=pipeline_ref,
            scheduled_time=scheduled_time,
        )
    else:
        run = engine.restore(resume)
    if on_start is not None:
        on_start(run)
    token = run_id_var.set(run.id)
    ws_token = workspace.activate()
    engine.span = TRACER.start(
        f"pipeline {pipeline}", attributes={"podium.run_id": run.id, "podium.pipeline": pipeline}
    )
    log.info(
        "Run %s of pipeline %r %s (%d step%s).",
        run.id,
        pipeline,
        "started" if resume is None else "resumed",
        len(graph.nodes),
        "" if len(graph.nodes) == 1 else "s",
    )
    try:
        with _Heartbeat(workspace, run.id), Recorder(runs, run.id) as recorder:
            engine.recorder = recorder
            failed = engine.run(run.id, max_workers or default_workers(), fail_fast)
    except BaseException as exc:  # interrupted (Ctrl-C) or a bug: the span still ends
        if engine.span is not None:
            tracing.finish(engine.span, {"podium.run.status": "interrupted"}, repr(exc))
        raise
    finally:
        Workspace.deactivate(ws_token)
        run_id_var.reset(token)
    first = next(iter(failed.items()), None)
    error = f"step {first[0]!r} failed: {first[1]}" if first else None
    record = runs.finish(run.id, "failed" if failed else "succeeded", error)
    log.log(
        logging.WARNING if failed else logging.INFO,
        "Run %s of pipeline %r %s in %.2f s%s",
        run.id,
        pipeline,
        record.status,
        record.duration_s or 0.0,
        f": {error}." if error else ".",
        extra={"run_id": run.id},
    )
    if engine.span is not None:
        tracing.finish(engine.span, {"podium.run.status": record.status}, error)
    if first is not None and raise_on_failure:
        raise PipelineError(
            f"Run {run.id} of pipeline {pipeline!r} failed in step {first[0]!r}: {first[1]}",
            hint=f"See the whole error with `podium runs show {run.id}`; re-run the failed "
            f"steps with `podium runs resume {run.id}`.",
        )
    outputs = resolve(returned, engine.results) if not failed else None
    return RunResult(record, outputs, dict(engine.results))


class _Engine:
    def __init__(
        self,
        graph: Graph,
        ws: Workspace,
        pipeline: str,
        on_event: EventHook | None,
        executor: Executor,
    ) -> None:
        self.executor = executor
        self.recorder: Recorder | None = None
        self.graph = graph
        self.ws = ws
        self.runs = ws.store.runs
        self.pipeline = pipeline
        self.on_event = on_event
        self.results: dict[str, Any] = {}
        self.digests: dict[str, list[str]] = {}
        self.run_id = ""
        self.span: Any = None  # the run's OpenTelemetry span, when tracing

    # -- resume ----------------------------------------------------------------------------
    def restore(self, run: Run) -> Run:
        """Load the outputs of the run's finished steps; reset the others to pending."""
        recorded = {s.name: s for s in run.steps}
        if set(recorded) != set(self.graph.nodes):
            raise PipelineError(
                f"Run {run.id} cannot be resumed: the pipeline's steps changed since "
                f"(the run had {sorted(recorded)}, the pipeline now has "
                f"{sorted(self.graph.nodes)}).",
                hint="Start a new run instead; cached steps will still be reused.",
            )
        for name, s in recorded.items():
            if s.status in FINISHED:
                self.results[name], self.digests[name] = self._load(
                    self.graph.nodes[name], s.outputs
                )
        todo = [n for n in self.graph.nodes if n not in self.results]
        if not todo:
            raise PipelineError(
                f"Run {run.id} has nothing to resume: every step finished.",
                hint="Start a new run to execute the pipeline again.",
            )
        return self.runs.reopen(run.id, todo)

    def _load(self, node: Node, artifact_ids: list[str]) -> tuple[Any, list[str]]:
        recs = [self.runs.get_artifact(a) for a in artifact_ids]
        values = [_load_record(r, self.ws) for r in recs]
        digests = [r.digest for r in recs]
        if node.outputs is not None:
            return tuple(values), digests
        return (values[0] if values else None), digests

    # -- scheduling ---------------------------------------------------------------------------
    def run(self, run_id: str, workers: int, fail_fast: bool) -> dict[str, str]:
        """Submit each step once all its upstream steps finished; return the failed ones.

        Each node keeps a count of unfinished upstream steps, so scheduling costs O(edges)
        in total, whatever the size of the graph.
        """
        self.run_id = run_id
        dependants = self.graph.dependants()
        waiting = {
            name: sum(u not in self.results for u in node.upstream)
            for name, node in self.graph.nodes.items()
            if name not in self.results
        }
        pending = set(waiting)  # not submitted yet
        ready = deque(name for name, count in waiting.items() if count == 0)
        failed: dict[str, str] = {}
        running: dict[Future[Outcome], str] = {}
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="podium-step") as pool:
            window = 2 * workers  # wait() walks every pending future: keep them few
            while True:
                while ready and len(running) < window:
                    name = ready.popleft()
                    pending.discard(name)
                    ctx = contextvars.copy_context()
                    running[pool.submit(ctx.run, self._execute, self.graph.nodes[name])] = name
                if not running:
                    return failed
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for fut in done:
                    name = running.pop(fut)
                    outcome = fut.result()
                    if outcome.status in FINISHED:
                        self.results[name] = outcome.value
                        self.digests[name] = outcome.digests
                        for d in dependants[name]:
                            waiting[d] -= 1
                            if waiting[d] == 0 and d in pending:
                                ready.append(d)
                        continue
                    failed[name] = outcome.error or outcome.status
                    self._skip_downstream(name, dependants, pending, failed)
                    if fail_fast:
                        self._cancel(pending, ready, running, name, failed)

    def _skip_downstream(
        self,
        name: str,
        dependants: dict[str, list[str]],
        pending: set[str],
        failed: dict[str, str],
    ) -> None:
        todo = [name]
        while todo:
            up = todo.pop()
            for d in dependants[up]:
                if d in pending:
                    pending.discard(d)
                    failed[d] = f"upstream step {up!r} did not succeed"
                    self._record(d, "skipped", error=failed[d])
                    todo.append(d)

    def _cancel(
        self,
        pending: set[str],
        ready: deque[str],
        running: dict[Future[Outcome], str],
        culprit: str,
        failed: dict[str, str],
    ) -> None:
        """fail_fast: drop every step not started yet; running ones finish their try."""
        for fut, name in list(running.items()):
            if fut.cancel():
                running.pop(fut)
                pending.add(name)
        ready.clear()
        for name in [n for n in self.graph.nodes if n in pending]:
            failed[name] = f"cancelled: step {culprit!r} failed and the run fails fast"
            self._record(name, "cancelled", error=failed[name])
        pending.clear()

    # -- one step ------------------------------------------------------------------------------
    def _execute(self, node: Node) -> Outcome:
        step_var.set(node.name)  # in the step's own copy of the context: its log records
        started = time.perf_counter()
        span = None
        if self.span is not None:
            span = TRACER.start(
                node.name,
                parent=self.span,
                attributes={"podium.run_id": self.run_id, "podium.step": node.name},
            )
        otel = tracing.activate(span) if span is not None else None
        try:
            outcome = self._execute_unguarded(node)
        except Exception as exc:  # a bug in podium itself must not hang the scheduler
            message = f"{type(exc).__name__}: {exc}"
            self._record(node.name, "failed", error=f"{message}\n\n{traceback.format_exc()}")
            outcome = Outcome("failed", error=message)
        finally:
            if otel is not None:
                tracing.deactivate(otel)
        ok = outcome.status in FINISHED
        log.log(
            logging.INFO if ok else logging.WARNING,
            "Step %r %s in %.3f s%s",
            node.name,
            outcome.status,
            time.perf_counter() - started,
            "." if ok else f": {outcome.error}",
        )
        if span is not None:
            tracing.finish(
                span, {"podium.step.status": outcome.status}, None if ok else outcome.error
            )
        return outcome

    def _execute_unguarded(self, node: Node) -> Outcome:
        step = node.step
        bound = step.signature.bind(*node.args, **node.kwargs).arguments
        if step.cache:
            key = cache.compute(step.fn, bound, self.digests, node.name)
        else:
            key = cache.CacheKey(None, {}, "caching is off for this step")
        reason = key.disabled_reason
        if key.key is not None:
            hit = self._cache_hit(node, key)
            if hit is not None:
                return hit
            reason = cache.miss_reason(
                key.components, self.runs.previous_step(self.pipeline, node.name)
            )
        args = resolve(node.args, self.results)
        kwargs = resolve(node.kwargs, self.results)
        started = time.perf_counter()
        self._record(
            node.name, "running", started_at=utcnow(), attempts=1, inputs=_describe_inputs(bound)
        )
        attempt = 1
        while True:
            try:
                value = self._call(node, args, kwargs)
                values = _split(node, value)
                stored = [self._store(v, f"{node.name}.{n}", node.name) for n, v in values]
                break
            except Exception as exc:
                timed_out = isinstance(exc, StepTimeout)
                if not timed_out and step.retry.should_retry(exc, attempt):
                    self._record(node.name, "retrying", error=_message(exc))
                    wait_s = step.retry.wait(attempt)
                    log.info(
                        "Step %r failed on try %d (%s); retrying in %.2f s.",
                        node.name,
                        attempt,
                        _message(exc),
                        wait_s,
                    )
                    time.sleep(wait_s)
                    attempt += 1
                    self._record(node.name, "running", attempts=attempt)
                    continue
                status = "timed_out" if timed_out else "failed"
                message = _message(exc)
                self._record(
                    node.name,
                    status,
                    ended_at=utcnow(),
                    duration_s=time.perf_counter() - started,
                    error=f"{message}\n\n{traceback.format_exc()}",
                    cache_key=None,
                    cache_info={"hit": False, "reason": reason},
                )
                _hook(step.on_failure, node.name, exc)
                return Outcome(status, error=message)
        self._record(
            node.name,
            "succeeded",
            ended_at=utcnow(),
            duration_s=time.perf_counter() - started,
            outputs=[a for a, _ in stored],
            cache_key=key.key,
            cache_hit=False,
            cache_info={"hit": False, "reason": reason, "components": key.components},
        )
        if self.recorder is not None and time.perf_counter() - started > self.recorder.interval:
            self.recorder.flush()  # costly work is recorded at once: a crash never redoes it
        _hook(step.on_success, node.name, value)
        return Outcome("succeeded", value, [d for _, d in stored])

    def _cache_hit(self, node: Node, key: cache.CacheKey) -> Outcome | None:
        assert key.key is not None  # checked by the caller
        earlier = self.runs.find_cached(self.pipeline, node.name, key.key)
        if earlier is None:
            return None
        try:
            value, digests = self._load(node, earlier.outputs)
        except PodiumError:  # its artifacts were collected or corrupted: run the step
            return None
        now = utcnow()
        self._record(
            node.name,
            "cached",
            started_at=now,
            ended_at=now,
            duration_s=0.0,
            outputs=earlier.outputs,
            cache_key=key.key,
            cache_hit=True,
            cache_info={"hit": True, "from_run": earlier.run_id, "components": key.components},
        )
        return Outcome("cached", value, digests)

    def _call(self, node: Node, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        return self.executor.call(
            node.step.fn,
            args,
            kwargs,
            timeout=node.step.timeout,
            isolate=node.step.process,
            settings=self.ws.settings,
            run_id=self.run_id,
        )

    def _store(self, value: Any, name: str, step: str) -> tuple[str, str]:
        m = materializers.for_object(value, step)
        data, meta = m.dumps(value)
        digest = self.ws.artifacts.put(data)
        rec = ArtifactRecord(
            id=new_id(),
            digest=digest,
            size=len(data),
            materializer=m.name,
            type_name=f"{type(value).__module__}.{type(value).__qualname__}",
            run_id=self.run_id,
            step=step,
            name=name,
            meta=meta,
            created_at=utcnow(),
        )
        assert self.recorder is not None  # set by execute() for the run
        self.recorder.artifact(rec)
        return rec.id, digest

    def _record(self, name: str, status: str, **values: Any) -> None:
        if self.recorder is not None:
            self.recorder.step(name, status=status, **values)
        else:  # outside a run's execution (restore): write at once
            self.runs.update_step(self.run_id, name, status=status, **values)
        if self.on_event is not None:
            self.on_event(name, status)


def _split(node: Node, value: Any) -> list[tuple[str, Any]]:
    if node.outputs is None:
        return [] if value is None else [("output", value)]
    if not isinstance(value, tuple) or len(value) != len(node.outputs):
        raise PipelineError(
            f"Step {node.name!r} declares {len(node.outputs)} outputs but returned "
            f"{type(value).__name__}"
            + (f" of length {len(value)}" if isinstance(value, tuple) else "")
            + ".",
        )
    return list(zip(node.outputs, value, strict=True))


def _message(exc: BaseException) -> str:
    if isinstance(exc, PodiumError):
        return exc.message
    if isinstance(exc, StepTimeout):
        return f"timed out: {exc}"
    return f"{type(exc).__name__}: {exc}"


def _hook(hook: Callable[[str, Any], None] | None, name: str, arg: Any) -> None:
    if hook is None:
        return
    try:
        hook(name, arg)
    except Exception:  # a broken hook must not change the step's outcome
        import logging

        logging.getLogger("podium.pipelines").exception("Hook of step %r failed", name)


def load_artifact(artifact_id: str, ws: Workspace) -> Any:
    """The value of a stored step output, verified against its hash."""
    return _load_record(ws.store.runs.get_artifact(artifact_id), ws)


def _load_record(rec: ArtifactRecord, ws: Workspace) -> Any:
    return materializers.by_name(rec.materializer).loads(
        ws.artifacts.get(rec.digest), rec.meta, rec.digest
    )


def _describe_inputs(bound: dict[str, Any]) -> dict[str, Any]:
    """Inputs as recorded: upstream references by name, parameters by value when small."""
    return {key: _describe(value) for key, value in bound.items()}


def _describe(value: Any) -> Any:
    if isinstance(value, OutputRef):
        return {"step": value.node, "output": value.index}
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, list | tuple):
        return [_describe(v) for v in value[:20]]
    return f"<{type(value).__name__}>"


def _plain_params(params: dict[str, Any]) -> dict[str, Any]:
    return {k: _describe(v) for k, v in params.items()}
