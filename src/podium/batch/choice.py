"""Which flavor scores a batch job: the faster one on this job's own rows.

The ONNX fast path answers a single row ~3x faster than scikit-learn, but on large batches
it can be slower: on the reference model (30 columns, StandardScaler + LogisticRegression)
onnxruntime on one thread does 3.1x scikit-learn's rows/s at 1,000 rows a call, 1.2x at
10,000 and 0.83x at 100,000. Where the two cross depends on the model and the machine, so
no rule is assumed: when no flavor is asked for and the version's fast path is ready, both
flavors score the input's first chunk (``chunk_size`` rows, at most :data:`MEASURE_ROWS`:
the size of the calls the job will make), twice each after a warm-up, and the one with more
rows/s scores the job. The choice and its figures are in the job's result, its manifest
and its log.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from podium.batch.rows import validate
from podium.batch.sources import InputFile, read_parts
from podium.registry import Predictor

log = logging.getLogger("podium.batch")
MEASURE_ROWS = 100_000  # rows each flavor scores to decide, at most
WARM_ROWS = 64


@dataclass
class FlavorChoice:
    """What scores the job, and why: ``asked`` (a flavor was named), ``only`` (one
    candidate: the fast path is not ready), or ``measured`` (rows/s of each on the job)."""

    flavor: str
    how: str
    reason: str
    rows: int = 0
    rows_per_s: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def candidates(uri: str, flavor: str | None, load: Any) -> list[Predictor]:
    """The predictors a job may run: the one asked for, or (auto) the registered model and,
    when its fast path is ready, the ONNX one. ``load(uri, flavor=...)`` loads."""
    if flavor not in (None, "auto"):
        return [load(uri, flavor=flavor)]
    auto: Predictor = load(uri, flavor="auto")  # checks a version never checked, once
    if auto.runtime != "onnx" or auto.version is None:
        return [auto]
    return [load(auto.version.uri, flavor="sklearn"), auto]


def choose(
    options: list[Predictor], inputs: list[InputFile], chunk_size: int, asked: str | None
) -> tuple[Predictor, FlavorChoice]:
    """The predictor to score with: the only one, or the faster on the input's first rows."""
    first = options[0]
    if len(options) == 1:
        if asked not in (None, "auto"):
            return first, FlavorChoice(first.runtime, "asked", f"--flavor {asked}")
        fast = first.version.fast_path if first.version is not None else None
        why = "the ONNX fast path is " + (
            "not checked" if fast is None else f"{fast.get('status')}: {fast.get('reason')}"
        )
        return first, FlavorChoice(first.runtime, "only", why)
    x = _sample(first, inputs, min(chunk_size, MEASURE_ROWS))  # the calls the job will make
    if x is None or len(x) == 0:
        return first, FlavorChoice(first.runtime, "only", "no valid row to measure on")
    rates = _measure(options, x)
    best = max(options, key=lambda p: rates[p.runtime])
    other = min(options, key=lambda p: rates[p.runtime])
    ratio = rates[best.runtime] / max(rates[other.runtime], 1e-9)
    choice = FlavorChoice(
        best.runtime,
        "measured",
        f"{ratio:.2f}x the rows/s of {other.runtime} on {len(x):,} rows of this input",
        len(x),
        {k: round(v, 1) for k, v in rates.items()},
    )
    log.info("Batch scoring with %s: %s", choice.flavor, choice.reason)
    return best, choice


def _sample(predictor: Predictor, inputs: list[InputFile], rows: int) -> Any:
    """The model input of the first ``rows`` rows of the first input (valid rows only)."""
    sig = predictor.signature
    if sig is None:
        return None
    parts = read_parts(inputs[0], rows, 0, tuple(sig.columns))
    try:
        for _, table in parts:
            names = table.column_names
            if not all(c in names for c in sig.columns):
                return None  # the job itself reports the missing columns
            x, _, _ = validate(table.select(list(sig.columns)).to_pandas(), sig)
            return x
    finally:
        close = getattr(parts, "close", None)
        if close is not None:  # a generator: release the file or the database cursor
            close()
    return None


def _measure(options: list[Predictor], x: Any) -> dict[str, float]:
    """Rows/s of each predictor on ``x``: the best of two runs, alternating, after a warm-up."""
    for p in options:
        p.infer_arrays(x[:WARM_ROWS])
    best = {p.runtime: float("inf") for p in options}
    for _ in range(2):
        for p in options:
            t0 = time.perf_counter()
            p.infer_arrays(x)
            best[p.runtime] = min(best[p.runtime], time.perf_counter() - t0)
    return {k: len(x) / max(v, 1e-9) for k, v in best.items()}
