"""The default executor: threads of this process, or a child process when asked."""

from __future__ import annotations

from typing import Any

from podium.core.settings import Settings
from podium.pipelines.child import call_with_timeout


class LocalExecutor:
    name = "local"

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
        if not isolate and timeout is None:
            return fn(*args, **kwargs)
        return call_with_timeout(fn, args, kwargs, timeout, settings, run_id)
