"""Steps as Ray tasks, on a local Ray instance or a cluster (``address=``)."""

from __future__ import annotations

import threading
from typing import Any

from podium.core.errors import ConfigError
from podium.core.settings import Settings
from podium.pipelines.child import StepTimeout

_init_lock = threading.Lock()


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ConfigError(
            "The Ray executor needs Ray, which is not installed.",
            hint="pip install 'podium[ray]'",
        ) from None
    return ray


class RayExecutor:
    """Each step try is one Ray task; arguments and results travel through Ray's store."""

    name = "ray"

    def __init__(self, address: str | None = None) -> None:
        self.address = address
        self.ray = _ray()
        with _init_lock:
            if not self.ray.is_initialized():
                self.ray.init(
                    address=address,
                    ignore_reinit_error=True,
                    include_dashboard=False,
                    log_to_driver=False,
                    configure_logging=False,
                )

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
        ray = self.ray
        ref = (
            ray.remote(_run_task).options(max_retries=0).remote(fn, args, kwargs, settings, run_id)
        )
        try:
            return ray.get(ref, timeout=timeout)
        except ray.exceptions.GetTimeoutError:
            ray.cancel(ref, force=True)
            raise StepTimeout(
                f"the step ran past its timeout of {timeout:g} s and was stopped"
            ) from None
        except ray.exceptions.RayTaskError as exc:
            raise exc.as_instanceof_cause() from None  # the step's own exception type


def _run_task(
    fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any], settings: Settings, run_id: str
) -> Any:
    """Inside the Ray worker: the step sees the run's workspace and run id, as locally."""
    from podium.core.context import run_id_var
    from podium.workspace import Workspace

    Workspace(settings).activate()
    run_id_var.set(run_id)
    return fn(*args, **kwargs)
