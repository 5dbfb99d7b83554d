"""Run one step try in a child process, so that a timeout can stop it.

The function, its arguments and the result cross the process boundary with cloudpickle
(functions defined in a script or notebook travel by value). Spawned, not forked: the
parent runs a thread pool, and forking a threaded process is unsafe.
"""

from __future__ import annotations

import multiprocessing
from typing import Any

from podium.core.context import run_id_var, step_var
from podium.core.errors import PipelineError
from podium.core.settings import Settings

START_TIMEOUT_S = 120.0  # for the child interpreter to start and unpickle the step
STARTED = b"started"


class StepTimeout(Exception):
    """A step try ran past its timeout and was stopped."""


def call_with_timeout(
    fn: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    timeout: float | None,
    settings: Settings,
    run_id: str,
) -> Any:
    import cloudpickle

    ctx = multiprocessing.get_context("spawn")
    receiver, sender = ctx.Pipe(duplex=False)
    payload = cloudpickle.dumps((fn, args, kwargs, settings, run_id, step_var.get()))
    proc = ctx.Process(target=_child, args=(payload, sender), daemon=True)
    proc.start()
    sender.close()
    try:
        # The clock starts when the step does, not when the interpreter does: a spawn and
        # podium's imports take seconds on a loaded machine.
        if not receiver.poll(START_TIMEOUT_S):
            proc.kill()
            raise PipelineError(
                f"The step's process did not start within {START_TIMEOUT_S:g} s "
                f"(exit code {proc.exitcode})."
            )
        try:
            first = receiver.recv_bytes()
        except EOFError:  # it died while starting (an import failed, memory ran out)
            proc.join()
            raise PipelineError(
                f"The step's process died with exit code {proc.exitcode} before starting."
            ) from None
        if first != STARTED:
            raise PipelineError("The step's process sent an unexpected first message.")
        if not receiver.poll(timeout):
            proc.kill()
            raise StepTimeout(
                f"the step ran past its timeout of {timeout or 0:g} s and was stopped"
            )
        try:
            ok, value = cloudpickle.loads(receiver.recv_bytes())
        except EOFError:
            proc.join()
            raise PipelineError(
                f"The step's process died with exit code {proc.exitcode} before answering."
            ) from None
    finally:
        receiver.close()
        proc.join(timeout=5)
    if not ok:
        raise value
    return value


def _child(payload: bytes, sender: Any) -> None:
    import cloudpickle

    from podium.core.logs import configure_logging
    from podium.workspace import Workspace

    fn, args, kwargs, settings, run_id, step = cloudpickle.loads(payload)
    configure_logging()  # the parent's PODIUM_LOG_FORMAT: JSON lines here too
    Workspace(settings).activate()
    run_id_var.set(run_id)
    step_var.set(step)
    sender.send_bytes(STARTED)
    try:
        out = (True, fn(*args, **kwargs))
    except BaseException as exc:  # sent to the parent, which raises it
        out = (False, exc)
    try:
        data = cloudpickle.dumps(out)
    except Exception as exc:  # an unpicklable result or exception
        data = cloudpickle.dumps((False, PipelineError(f"{type(exc).__name__}: {exc}")))
    sender.send_bytes(data)
    sender.close()
