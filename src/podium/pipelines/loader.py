"""Find a pipeline from a reference: ``module:function`` or ``path/to/file.py:function``."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from pathlib import Path

from podium.core.errors import PipelineError
from podium.pipelines.pipeline import Pipeline
from podium.pipelines.runner import EventHook, RunResult
from podium.workspace import Workspace

HINT = "Use module:function (e.g. my_project.train:training) or path/to/file.py:function."


def load_pipeline(ref: str) -> Pipeline:
    """Import the module or file and return the pipeline named after the colon."""
    target, sep, attr = ref.rpartition(":")
    if not sep or not target or not attr:
        raise PipelineError(f"Invalid pipeline reference {ref!r}.", hint=HINT)
    if target.endswith(".py") or "/" in target:
        module = _load_file(Path(target), ref)
    else:
        try:
            module = importlib.import_module(target)
        except ModuleNotFoundError as exc:
            raise PipelineError(
                f"Cannot import {target!r} for pipeline {ref!r}: {exc}.",
                hint=HINT + " Run from the project folder, or install the project.",
            ) from None
    obj = module
    for part in attr.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            raise PipelineError(f"{target!r} has no attribute {attr!r}.", hint=HINT)
    if not isinstance(obj, Pipeline):
        raise PipelineError(
            f"{ref!r} is a {type(obj).__name__}, not a pipeline.",
            hint="Decorate the function with @podium.pipeline.",
        )
    return obj


def _load_file(path: Path, ref: str) -> object:
    if not path.is_file():
        raise PipelineError(f"No such file {str(path)!r} in pipeline reference {ref!r}.", hint=HINT)
    path = path.resolve()
    # A stable module name per file, so that the same file loaded twice is one module and
    # cloudpickle can tell that its functions travel by value.
    name = "podium_pipeline_file_" + hashlib.sha256(str(path).encode()).hexdigest()[:12]
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise PipelineError(f"Cannot load {str(path)!r} as Python.", hint=HINT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    sys.path.insert(0, str(path.parent))  # so the file can import its neighbours
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise PipelineError(
            f"Importing {str(path)!r} failed: {type(exc).__name__}: {exc}.",
            hint="Fix the error in the file, or run it with python to see the traceback.",
        ) from exc
    return module


def resume_run(
    run_id: str,
    *,
    workspace: Workspace | None = None,
    raise_on_failure: bool = True,
    max_workers: int | None = None,
    on_event: EventHook | None = None,
    executor: str | None = None,
) -> RunResult:
    """Resume a run, finding its pipeline from the reference recorded with the run."""
    ws = workspace or Workspace.current()
    run = ws.store.runs.get(run_id)
    if not run.pipeline_ref:
        raise PipelineError(
            f"Run {run_id} did not record where its pipeline lives, so it cannot be resumed.",
            hint="Resume it from Python: my_pipeline.resume(run_id).",
        )
    return load_pipeline(run.pipeline_ref).resume(
        run_id,
        workspace=ws,
        raise_on_failure=raise_on_failure,
        max_workers=max_workers,
        on_event=on_event,
        executor=executor,
    )
