"""``@step``: a plain function that, inside a pipeline, becomes a node of the DAG."""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable
from typing import Any, overload

from podium.core.errors import PipelineError
from podium.core.names import check_name
from podium.pipelines.graph import building


class Step:
    """A step: called inside a ``@pipeline`` it records a node; elsewhere it just runs.

    Args:
        fn: the function.
        name: the step name (default: the function name).
        outputs: names of the outputs when the function returns a tuple of several values;
            inferred from a ``tuple[...]`` return annotation when not given.
    """

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        outputs: list[str] | tuple[str, ...] | None = None,
    ) -> None:
        self.fn = fn
        self.name = check_name(name or fn.__name__, "step name")
        self.outputs = tuple(outputs) if outputs else _tuple_outputs(fn)
        self.signature = inspect.signature(fn)
        functools.update_wrapper(self, fn)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        graph = building.get()
        if graph is None:
            return self.fn(*args, **kwargs)
        try:
            self.signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise PipelineError(
                f"Step {self.name!r} called with wrong arguments: {exc}.",
                hint=f"Its signature is {self.name}{self.signature}.",
            ) from None
        return graph.add(self, args, kwargs)

    def __repr__(self) -> str:
        return f"<step {self.name}>"


def _tuple_outputs(fn: Callable[..., Any]) -> tuple[str, ...] | None:
    try:
        hints = typing.get_type_hints(fn)
    except Exception:  # unresolvable forward references: no inference
        return None
    ret = hints.get("return")
    if typing.get_origin(ret) is tuple:
        args = typing.get_args(ret)
        if args and args[-1] is not Ellipsis:
            return tuple(f"output_{i}" for i in range(len(args)))
    return None


@overload
def step(fn: Callable[..., Any], /) -> Step: ...
@overload
def step(
    *, name: str | None = None, outputs: list[str] | None = None
) -> Callable[[Callable[..., Any]], Step]: ...


def step(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    outputs: list[str] | None = None,
) -> Step | Callable[[Callable[..., Any]], Step]:
    """Declare a pipeline step.

    >>> @step
    ... def double(x: int) -> int:
    ...     return 2 * x
    >>> double(4)  # outside a pipeline, a step is the plain function
    8
    """
    if fn is not None:
        return Step(fn)
    return lambda f: Step(f, name=name, outputs=outputs)
