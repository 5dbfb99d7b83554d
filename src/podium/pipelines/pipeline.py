"""``@pipeline``: a function that calls steps; the data passed between them is the DAG."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, overload

from podium.core.errors import PipelineError, PodiumError
from podium.core.names import check_name
from podium.core.records import Run
from podium.pipelines.executors import Executor
from podium.pipelines.graph import Graph, building
from podium.pipelines.runner import EventHook, RunResult, execute, recover_crashed
from podium.workspace import Workspace


class Pipeline:
    """A pipeline. ``build(**params)`` returns its DAG; ``run(**params)`` executes it.

    >>> from podium import pipeline, step
    >>> @step
    ... def load() -> list[int]:
    ...     return [1, 2, 3]
    >>> @step
    ... def total(xs: list[int]) -> int:
    ...     return sum(xs)
    >>> @pipeline
    ... def demo():
    ...     return total(load())
    >>> list(demo.build().nodes)
    ['load', 'total']
    """

    def __init__(self, fn: Callable[..., Any], *, name: str | None = None) -> None:
        self.fn = fn
        self.name = check_name(name or fn.__name__, "pipeline name")
        self.signature = inspect.signature(fn)
        functools.update_wrapper(self, fn)

    def bind(self, params: dict[str, Any]) -> dict[str, Any]:
        """Validate ``params`` against the function's signature and apply its defaults."""
        try:
            bound = self.signature.bind(**params)
        except TypeError as exc:
            names = ", ".join(self.signature.parameters) or "none"
            raise PipelineError(
                f"Pipeline {self.name!r}: {exc}.",
                hint=f"Its parameters are: {names}.",
            ) from None
        bound.apply_defaults()
        return dict(bound.arguments)

    def build(self, **params: Any) -> Graph:
        return self._build(self.bind(params))[0]

    def _build(self, params: dict[str, Any]) -> tuple[Graph, Any]:
        graph = Graph()
        token = building.set(graph)
        try:
            returned = self.fn(**params)
        except PodiumError:
            raise
        except Exception as exc:
            raise PipelineError(
                f"Building pipeline {self.name!r} failed: {type(exc).__name__}: {exc}.",
                hint="A pipeline function only calls steps and passes their outputs on; "
                "work on values belongs inside steps.",
            ) from exc
        finally:
            building.reset(token)
        if not graph.nodes:
            raise PipelineError(
                f"Pipeline {self.name!r} calls no step.",
                hint="Decorate the functions it calls with @podium.step.",
            )
        return graph, returned

    @property
    def ref(self) -> str:
        """Where to find this pipeline again: ``module:function`` or ``file.py:function``."""
        module = self.fn.__module__
        if module == "__main__" or module.startswith("podium_pipeline_file_"):
            return f"{inspect.getfile(self.fn)}:{self.fn.__name__}"
        return f"{module}:{self.fn.__qualname__}"

    def run(
        self,
        *,
        workspace: Workspace | None = None,
        raise_on_failure: bool = True,
        trigger: str = "manual",
        max_workers: int | None = None,
        fail_fast: bool = False,
        on_event: EventHook | None = None,
        scheduled_time: datetime | None = None,
        on_start: Callable[[Run], None] | None = None,
        executor: Executor | str | None = None,
        **params: Any,
    ) -> RunResult:
        """Execute the pipeline and record the run; raise :class:`PipelineError` on failure.

        Independent steps run in parallel on up to ``max_workers`` threads. A failed step
        fails the steps that depend on it and nothing else, unless ``fail_fast`` cancels
        every step not started yet.
        """
        bound = self.bind(params)
        graph, returned = self._build(bound)
        return execute(
            graph,
            pipeline=self.name,
            params=bound,
            returned=returned,
            workspace=workspace or Workspace.current(),
            trigger=trigger,
            raise_on_failure=raise_on_failure,
            max_workers=max_workers,
            fail_fast=fail_fast,
            pipeline_ref=self.ref,
            on_event=on_event,
            scheduled_time=scheduled_time,
            on_start=on_start,
            executor=executor,
        )

    def check(self, *, workspace: Workspace | None = None, **params: Any) -> CheckResult:
        """Run the pipeline's validation gates and the steps they depend on, nothing else.

        Steps downstream of every gate (registering, deploying) never run, so this is safe
        in a CI job. The result says which gates passed and why the others failed.
        """
        bound = self.bind(params)
        graph, _ = self._build(bound)
        gates = [n.name for n in graph.nodes.values() if n.step.gate]
        if not gates:
            raise PipelineError(
                f"Pipeline {self.name!r} has no validation gate to check.",
                hint="Add gates from podium.pipelines.gates, or mark a step @step(gate=True).",
            )
        keep: set[str] = set()
        todo = list(gates)
        while todo:
            name = todo.pop()
            if name not in keep:
                keep.add(name)
                todo.extend(graph.nodes[name].upstream)
        sub = Graph(nodes={n: node for n, node in graph.nodes.items() if n in keep})
        result = execute(
            sub,
            pipeline=self.name,
            params=bound,
            returned=None,
            workspace=workspace or Workspace.current(),
            trigger="check",
            raise_on_failure=False,
            pipeline_ref=self.ref,
        )
        steps = {s.name: s for s in result.run.steps}
        return CheckResult(
            result.run,
            [GateResult(g, steps[g].status, _first_line(steps[g].error)) for g in gates],
        )

    def resume(
        self,
        run_id: str,
        *,
        workspace: Workspace | None = None,
        raise_on_failure: bool = True,
        max_workers: int | None = None,
        on_event: EventHook | None = None,
        executor: Executor | str | None = None,
    ) -> RunResult:
        """Re-run the failed and not-yet-run steps of ``run_id``, reusing stored outputs."""
        ws = workspace or Workspace.current()
        recover_crashed(ws)
        run = ws.store.runs.get(run_id)
        if run.pipeline != self.name:
            raise PipelineError(
                f"Run {run_id} belongs to pipeline {run.pipeline!r}, not {self.name!r}.",
                hint=f"Resume it with `podium runs resume {run_id}`.",
            )
        if run.status == "running":
            raise PipelineError(
                f"Run {run_id} is still running.",
                hint="Wait for it to finish or fail before resuming it.",
            )
        bound = self.bind(dict(run.params))
        graph, returned = self._build(bound)
        return execute(
            graph,
            pipeline=self.name,
            params=bound,
            returned=returned,
            workspace=ws,
            raise_on_failure=raise_on_failure,
            max_workers=max_workers,
            pipeline_ref=self.ref,
            resume=run,
            on_event=on_event,
            executor=executor,
        )

    def __call__(self, **params: Any) -> RunResult:
        return self.run(**params)

    def __repr__(self) -> str:
        return f"<pipeline {self.name}>"


@dataclass(frozen=True)
class GateResult:
    name: str
    status: str  # succeeded/cached: passed; failed; skipped (an upstream step failed)
    message: str | None

    @property
    def passed(self) -> bool:
        return self.status in ("succeeded", "cached")


@dataclass(frozen=True)
class CheckResult:
    run: Run
    gates: list[GateResult]

    @property
    def passed(self) -> bool:
        return all(g.passed for g in self.gates)


def _first_line(error: str | None) -> str | None:
    return error.split("\n\n", 1)[0] if error else None


@overload
def pipeline(fn: Callable[..., Any], /) -> Pipeline: ...
@overload
def pipeline(*, name: str | None = None) -> Callable[[Callable[..., Any]], Pipeline]: ...


def pipeline(
    fn: Callable[..., Any] | None = None, /, *, name: str | None = None
) -> Pipeline | Callable[[Callable[..., Any]], Pipeline]:
    """Declare a pipeline: a function whose body calls steps."""
    if fn is not None:
        return Pipeline(fn)
    return lambda f: Pipeline(f, name=name)
