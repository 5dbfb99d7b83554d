"""The DAG a pipeline function builds by calling steps: nodes, and references between them."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from podium.core.errors import PipelineError

if TYPE_CHECKING:
    from podium.pipelines.step import Step


class _BuildTimeAttributeError(PipelineError, AttributeError):
    """An attribute of a step output used while building: a PipelineError that hasattr()
    still understands."""


@dataclass(frozen=True, slots=True)
class OutputRef:
    """A placeholder for a step's output while the pipeline is being built.

    Passing it to another step draws an edge; its value exists only when the run executes.
    """

    node: str
    index: int | None = None  # which output of a multi-output step

    def __bool__(self) -> bool:
        raise PipelineError(
            f"The output of step {self.node!r} has no value while the pipeline is being built, "
            "so it cannot be used in an `if` or `while`.",
            hint="Move the condition into a step, which receives real values.",
        )

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # protocol probes (copy, pickle) get the usual answer
            raise AttributeError(name)
        raise _BuildTimeAttributeError(
            f"The output of step {self.node!r} has no value while the pipeline is being "
            f"built, so `.{name}` cannot be used on it there.",
            hint="Do that inside a step, which receives the real value.",
        )

    def __getitem__(self, key: Any) -> Any:
        raise PipelineError(
            f"The output of step {self.node!r} has no value while the pipeline is being "
            f"built, so `[{key!r}]` cannot be used on it there.",
            hint="Do that inside a step, which receives the real value.",
        )

    def __iter__(self) -> Any:
        raise PipelineError(
            f"Step {self.node!r} has a single output and cannot be unpacked.",
            hint="Declare several outputs with @step(outputs=['a', 'b']) or a tuple[...] "
            "return annotation.",
        )


@dataclass
class Node:
    name: str
    step: Step
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    upstream: list[str]
    outputs: tuple[str, ...] | None  # names when the step returns several values


@dataclass
class Graph:
    """Nodes in the order they were added, which is a topological order by construction."""

    nodes: dict[str, Node] = field(default_factory=dict)
    _calls: dict[str, int] = field(default_factory=dict)  # times each step name was used

    def add(self, step: Step, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        name = step.name
        n = self._calls.get(step.name, 1)
        while name in self.nodes:  # calls 2, 3 ... of a step are named step_2, step_3 ...
            n += 1
            name = f"{step.name}_{n}"
        self._calls[step.name] = n
        upstream = sorted({r.node for r in _refs((args, kwargs))})
        node = Node(name, step, args, kwargs, upstream, step.outputs)
        self.nodes[name] = node
        if step.outputs:
            return tuple(OutputRef(name, i) for i in range(len(step.outputs)))
        return OutputRef(name)

    def dependants(self) -> dict[str, list[str]]:
        """For each node, the nodes that take one of its outputs."""
        out: dict[str, list[str]] = {name: [] for name in self.nodes}
        for node in self.nodes.values():
            for up in node.upstream:
                out[up].append(node.name)
        return out


def _refs(value: Any) -> list[OutputRef]:
    """OutputRefs anywhere inside tuples, lists and dict values."""
    if isinstance(value, OutputRef):
        return [value]
    if isinstance(value, list | tuple):
        return [r for v in value for r in _refs(v)]
    if isinstance(value, dict):
        return [r for v in value.values() for r in _refs(v)]
    return []


def resolve(value: Any, results: dict[str, Any]) -> Any:
    """Replace OutputRefs inside ``value`` with the outputs of finished steps."""
    if isinstance(value, OutputRef):
        out = results[value.node]
        return out if value.index is None else out[value.index]
    if isinstance(value, tuple):
        return tuple(resolve(v, results) for v in value)
    if isinstance(value, list):
        return [resolve(v, results) for v in value]
    if isinstance(value, dict):
        return {k: resolve(v, results) for k, v in value.items()}
    return value


# The graph being built by the pipeline function currently running, if any.
building: ContextVar[Graph | None] = ContextVar("podium_building_graph", default=None)
