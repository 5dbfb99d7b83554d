"""Execute a built graph: run each step, store its outputs, record everything in the store.

Steps run in topological order in this process. Parallel execution, retries, caching
and other executors plug in here, behind :func:`execute`.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass, field
from typing import Any

from podium.core.clock import utcnow
from podium.core.context import run_id_var
from podium.core.errors import PipelineError, PodiumError
from podium.core.records import Run
from podium.pipelines import materializers
from podium.pipelines.graph import Graph, Node, OutputRef, resolve
from podium.workspace import Workspace


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


def execute(
    graph: Graph,
    *,
    pipeline: str,
    params: dict[str, Any],
    returned: Any,
    workspace: Workspace,
    trigger: str = "manual",
    raise_on_failure: bool = True,
) -> RunResult:
    runs = workspace.store.runs
    run = runs.create(
        pipeline,
        _plain_params(params),
        steps=[(n.name, n.upstream) for n in graph.nodes.values()],
        trigger=trigger,
    )
    token = run_id_var.set(run.id)
    ws_token = workspace.activate()
    results: dict[str, Any] = {}
    failed: dict[str, str] = {}
    try:
        for node in graph.nodes.values():
            blocked = [u for u in node.upstream if u in failed]
            if blocked:
                runs.update_step(
                    run.id,
                    node.name,
                    status="skipped",
                    error=f"upstream step {blocked[0]!r} failed",
                )
                failed[node.name] = f"upstream {blocked[0]!r} failed"
                continue
            error = _run_step(node, results, run.id, workspace)
            if error is not None:
                failed[node.name] = error
    finally:
        Workspace.deactivate(ws_token)
        run_id_var.reset(token)
    first = next(iter(failed.items()), None)
    error = f"step {first[0]!r} failed: {first[1]}" if first else None
    record = runs.finish(run.id, "failed" if failed else "succeeded", error)
    if failed and raise_on_failure:
        step_name, msg = first  # type: ignore[misc]
        raise PipelineError(
            f"Run {run.id} of pipeline {pipeline!r} failed in step {step_name!r}: {msg}",
            hint=f"See the whole error with `podium runs show {run.id}`.",
        )
    outputs = resolve(returned, results) if not failed else None
    return RunResult(record, outputs, results)


def _run_step(node: Node, results: dict[str, Any], run_id: str, ws: Workspace) -> str | None:
    runs = ws.store.runs
    started = utcnow()
    runs.update_step(
        run_id,
        node.name,
        status="running",
        started_at=started,
        attempts=1,
        inputs=_describe_inputs(node),
    )
    t0 = time.perf_counter()
    try:
        args = resolve(node.args, results)
        kwargs = resolve(node.kwargs, results)
        value = node.step.fn(*args, **kwargs)
        values = _split(node, value)
        artifact_ids = [
            _store(v, f"{node.name}.{name}", node.name, run_id, ws) for name, v in values
        ]
    except Exception as exc:
        duration = time.perf_counter() - t0
        message = exc.message if isinstance(exc, PodiumError) else f"{type(exc).__name__}: {exc}"
        runs.update_step(
            run_id,
            node.name,
            status="failed",
            ended_at=utcnow(),
            duration_s=duration,
            error=f"{message}\n\n{traceback.format_exc()}",
        )
        return message
    results[node.name] = value
    runs.update_step(
        run_id,
        node.name,
        status="succeeded",
        ended_at=utcnow(),
        duration_s=time.perf_counter() - t0,
        outputs=artifact_ids,
    )
    return None


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


def _store(value: Any, name: str, step: str, run_id: str, ws: Workspace) -> str:
    m = materializers.for_object(value, step)
    data, meta = m.dumps(value)
    digest = ws.artifacts.put(data)
    rec = ws.store.runs.add_artifact(
        digest=digest,
        size=len(data),
        materializer=m.name,
        type_name=f"{type(value).__module__}.{type(value).__qualname__}",
        name=name,
        run_id=run_id,
        step=step,
        meta=meta,
    )
    return rec.id


def load_artifact(artifact_id: str, ws: Workspace) -> Any:
    """The value of a stored step output, verified against its hash."""
    rec = ws.store.runs.get_artifact(artifact_id)
    return materializers.by_name(rec.materializer).loads(
        ws.artifacts.get(rec.digest), rec.meta, rec.digest
    )


def _describe_inputs(node: Node) -> dict[str, Any]:
    """Inputs as recorded: upstream references by name, parameters by value when small."""
    bound = node.step.signature.bind(*node.args, **node.kwargs).arguments
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
