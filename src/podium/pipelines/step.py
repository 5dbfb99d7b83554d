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
from podium.pipelines.retry import RetryPolicy

Hook = Callable[[str, Any], None]


class Step:
    """A step: called inside a ``@pipeline`` it records a node; elsewhere it just runs.

    Args:
        fn: the function.
        name: the step name (default: the function name).
        outputs: names of the outputs when the function returns a tuple of several values;
            inferred from a ``tuple[...]`` return annotation when not given.
        retries: how many times to retry after a failure (0: never).
        retry_delay, backoff, max_delay, jitter: the wait before retry ``n`` is
            ``min(max_delay, retry_delay * backoff ** (n - 1))`` times a random factor in
            ``[1 - jitter, 1 + jitter]``.
        retry_on: exception types worth a retry (others fail at once).
        timeout: seconds one try may take; a try past it is stopped and the step marked
            ``timed_out``. Such a step runs in a child process so that it can be stopped.
        cache: skip the step when its code, parameters and inputs were seen before.
        process: run each try in its own process (isolation from the run's memory and
            the GIL; the arguments and the result are pickled with cloudpickle).
        on_failure: called as ``on_failure(step_name, exception)`` when the step fails.
        on_success: called as ``on_success(step_name, value)`` when it succeeds.
    """

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        outputs: list[str] | tuple[str, ...] | None = None,
        retries: int = 0,
        retry_delay: float = 1.0,
        backoff: float = 2.0,
        max_delay: float = 60.0,
        jitter: float = 0.1,
        retry_on: tuple[type[BaseException], ...] = (Exception,),
        timeout: float | None = None,
        cache: bool = True,
        on_failure: Hook | None = None,
        on_success: Hook | None = None,
        gate: bool = False,
        process: bool = False,
    ) -> None:
        self.fn = fn
        self.process = process or timeout is not None
        self.gate = gate  # a validation gate: run by `podium check`
        self.name = check_name(name or fn.__name__, "step name")
        self.outputs = tuple(outputs) if outputs else _tuple_outputs(fn)
        self.signature = inspect.signature(fn)
        self.retry = RetryPolicy(retries, retry_delay, backoff, max_delay, jitter, retry_on)
        if timeout is not None and timeout <= 0:
            raise PipelineError(f"Step {self.name!r}: timeout must be > 0, got {timeout}.")
        self.timeout = timeout
        self.cache = cache
        self.on_failure = on_failure
        self.on_success = on_success
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
    *,
    name: str | None = None,
    outputs: list[str] | None = None,
    retries: int = 0,
    retry_delay: float = 1.0,
    backoff: float = 2.0,
    max_delay: float = 60.0,
    jitter: float = 0.1,
    retry_on: tuple[type[BaseException], ...] = (Exception,),
    timeout: float | None = None,
    cache: bool = True,
    on_failure: Hook | None = None,
    on_success: Hook | None = None,
    gate: bool = False,
    process: bool = False,
) -> Callable[[Callable[..., Any]], Step]: ...


def step(
    fn: Callable[..., Any] | None = None, /, **options: Any
) -> Step | Callable[[Callable[..., Any]], Step]:
    """Declare a pipeline step; options are those of :class:`Step`.

    >>> @step
    ... def double(x: int) -> int:
    ...     return 2 * x
    >>> double(4)  # outside a pipeline, a step is the plain function
    8
    >>> @step(retries=2, retry_delay=0.5, timeout=60)
    ... def fetch() -> list[int]:
    ...     return [1, 2]
    """
    if fn is not None:
        return Step(fn, **options)
    return lambda f: Step(f, **options)
