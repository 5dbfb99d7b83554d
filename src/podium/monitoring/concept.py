"""Concept drift: online detectors over the stream of the model's errors, by River.

The error stream is built from feedback labels in prediction order: 0/1 for a classifier
(wrong or right), the absolute error for a regressor. ADWIN and Page-Hinkley watch any
stream; DDM needs 0/1 errors and is skipped for regressors.

Each detector reports a drift level and a warning level. DDM has its own warning threshold;
for ADWIN and Page-Hinkley the warning is a second, more sensitive instance of the same
detector (ADWIN's delta times 10, Page-Hinkley's threshold halved): it fires earlier and
more often, which is what a warning is for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

DETECTORS = ("adwin", "ddm", "page_hinkley")
# DDM compares the error rate with the lowest it has seen; River's default of 30 errors
# before that minimum counts lets a lucky start flag half of stable 3,000-error streams.
# From 300 it flags about one in ten, and still finds a 10% -> 35% jump within ~80 errors.
DDM_WARM_START = 300


@dataclass
class ConceptDrift:
    detector: str
    n: int  # errors seen
    warnings: list[int] = field(default_factory=list)  # positions in the stream
    drifts: list[int] = field(default_factory=list)
    state: str = "stable"  # drift if it drifted in the window, else warning if it warned

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _pair(name: str, binary: bool, params: dict[str, Any]) -> tuple[Any, Any] | None:
    """(drift detector, warning detector or None when the drift detector warns itself)."""
    from river import drift

    if name == "adwin":
        delta = float(params.get("delta", 0.002))
        return drift.ADWIN(delta=delta), drift.ADWIN(delta=min(delta * 10, 0.5))
    if name == "page_hinkley":
        threshold = float(params.get("threshold", 50.0))
        kw = {k: params[k] for k in ("min_instances", "delta", "alpha") if k in params}
        return (
            drift.PageHinkley(threshold=threshold, **kw),
            drift.PageHinkley(threshold=threshold / 2, **kw),
        )
    if name == "ddm":
        if not binary:
            return None
        from river.drift.binary import DDM

        keys = ("warm_start", "warning_threshold", "drift_threshold")
        options: dict[str, Any] = {"warm_start": DDM_WARM_START}
        options.update({k: params[k] for k in keys if k in params})
        options["warm_start"] = int(options["warm_start"])
        return DDM(**options), None
    raise ValueError(name)


def detect(
    errors: Sequence[float],
    *,
    binary: bool,
    detectors: Sequence[str] = DETECTORS,
    params: dict[str, dict[str, Any]] | None = None,
) -> dict[str, ConceptDrift]:
    """Run each detector over ``errors`` (oldest first); report where it warned and drifted.

    >>> out = detect([0.0] * 300 + [1.0] * 300, binary=True)
    >>> out["adwin"].state, out["adwin"].drifts[0] > 300
    ('drift', True)
    """
    from podium.core.errors import ValidationError

    out: dict[str, ConceptDrift] = {}
    for name in detectors:
        if name not in DETECTORS:
            raise ValidationError(
                f"Unknown concept drift detector {name!r}.",
                field="concept.detectors",
                hint=f"Choose among {', '.join(DETECTORS)}.",
            )
        made = _pair(name, binary, (params or {}).get(name, {}))
        if made is None:
            continue
        detector, warner = made
        result = ConceptDrift(name, len(errors))
        for i, e in enumerate(errors):
            detector.update(e)
            if detector.drift_detected:
                result.drifts.append(i)
                if warner is not None:  # watch for the next change afresh
                    warner = _pair(name, binary, (params or {}).get(name, {}))[1]  # type: ignore[index]
                continue
            if warner is None:
                warned = bool(getattr(detector, "warning_detected", False))
            else:
                warner.update(e)
                warned = bool(warner.drift_detected)
            if warned:
                result.warnings.append(i)
        result.state = "drift" if result.drifts else "warning" if result.warnings else "stable"
        out[name] = result
    return out
