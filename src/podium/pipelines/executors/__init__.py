"""Executors: where step tries run. ``local`` (default) or ``ray``."""

from __future__ import annotations

import os

from podium.core.errors import ConfigError
from podium.pipelines.executors.base import Executor
from podium.pipelines.executors.local import LocalExecutor

__all__ = ["Executor", "LocalExecutor", "get_executor"]

NAMES = ("local", "ray")


def get_executor(name: str | None = None, address: str | None = None) -> Executor:
    """The executor ``name``, else ``$PODIUM_EXECUTOR``, else local.

    ``address`` (else ``$PODIUM_RAY_ADDRESS``) points Ray at a cluster; none starts Ray here.
    """
    chosen = name or os.environ.get("PODIUM_EXECUTOR") or "local"
    if chosen == "local":
        return LocalExecutor()
    if chosen == "ray":
        from podium.pipelines.executors.ray_executor import RayExecutor

        return RayExecutor(address or os.environ.get("PODIUM_RAY_ADDRESS") or None)
    raise ConfigError(
        f"Unknown executor {chosen!r}; known executors: {', '.join(NAMES)}.",
        hint="Use --executor local|ray (or PODIUM_EXECUTOR).",
    )
