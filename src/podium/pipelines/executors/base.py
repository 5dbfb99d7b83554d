"""The executor interface: where one try of a step runs."""

from __future__ import annotations

from typing import Any, Protocol

from podium.core.settings import Settings


class Executor(Protocol):
    """Runs ``fn(*args, **kwargs)`` somewhere and returns its value or raises its error.

    The engine keeps everything else (scheduling, caching, storing outputs, records) in the
    calling process, so a run's records are the same whatever the executor.
    """

    name: str

    def call(
        self,
        fn: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        *,
        timeout: float | None,
        isolate: bool,
        settings: Settings,
        run_id: str,
    ) -> Any:
        """Run one try. Raise :class:`~podium.pipelines.child.StepTimeout` past ``timeout``."""
        ...
