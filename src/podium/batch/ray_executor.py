"""Batch parts as Ray tasks: each task scores one part and writes its files; the driver keeps
the manifest, so resumption works exactly as with the local executor.

Tasks load the model from the registry themselves (its digest checked, as everywhere), once
per worker process. Parquet parts are read by the task (row groups skipped to reach them);
CSV and JSON Lines parts are parsed by the driver and shipped through Ray's object store.
At most two tasks per CPU are in flight, so memory stays bounded on any input size.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from podium.batch.job import BatchResult, Written, _Job, _PartSpec, _score_to_files
from podium.batch.sources import InputFile
from podium.core.errors import ConfigError
from podium.core.settings import Settings
from podium.registry import Predictor

_PREDICTORS: dict[tuple[str, str, str], Predictor] = {}  # per Ray worker process


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ConfigError(
            "--executor ray needs Ray, which is not installed.", hint="pip install 'podium[ray]'"
        ) from None
    if not ray.is_initialized():
        ray.init(
            ignore_reinit_error=True,
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
        )
    return ray


def run_on_ray(
    predictor: Predictor,
    work: Iterator[tuple[InputFile, int, Any]],
    spec: _PartSpec,
    fs: Any,
    root: str,
    job: _Job,
    result: BatchResult,
) -> None:
    from podium.workspace import Workspace

    ray = _ray()
    settings = Workspace.current().settings
    assert predictor.version is not None  # checked by score()
    model = (predictor.version.uri, predictor.flavor)
    task = ray.remote(_task).options(max_retries=2)
    limit = max(2, 2 * int(ray.available_resources().get("CPU", 1)))
    pending: dict[Any, tuple[InputFile, int]] = {}

    def collect(block: bool) -> None:
        ready, _ = ray.wait(list(pending), num_returns=1, timeout=None if block else 0)
        for ref in ready:
            f, number = pending.pop(ref)
            try:
                written = ray.get(ref)
            except ray.exceptions.RayTaskError as exc:
                raise exc.as_instanceof_cause() from None  # the task's own error, e.g. bad input
            job.done(f, number, written, result)

    try:
        for f, number, table in work:
            while len(pending) >= limit:
                collect(block=True)
            ref = task.remote(settings, model, f, number, table, spec, fs, root)
            pending[ref] = (f, number)
        while pending:
            collect(block=True)
    finally:
        for ref in pending:  # --max-errors passed, or the driver stopped: no more writes
            ray.cancel(ref, force=True)


def _task(
    settings: Settings,
    model: tuple[str, str],
    f: InputFile,
    number: int,
    table: Any,
    spec: _PartSpec,
    fs: Any,
    root: str,
) -> Written:
    from podium.registry import Registry
    from podium.workspace import Workspace

    key = (repr(settings), *model)
    predictor = _PREDICTORS.get(key)
    if predictor is None:
        ws = Workspace(settings)
        predictor = Registry(ws.store, ws.artifacts).load(model[0], flavor=model[1] or None)
        _PREDICTORS[key] = predictor
    return _score_to_files(predictor, f, number, table, spec, fs, root)
