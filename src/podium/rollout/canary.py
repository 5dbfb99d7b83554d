"""Canary analysis: at each traffic step, gates on the candidate decide the next move.

``analyze`` is a pure function of the settings, the rollout state, the figures observed for
the candidate and the stable variant since the step began, and the time. It never promotes
on too little data: without enough requests it waits, and past ``max_wait_s`` it pauses.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from podium.core.errors import ValidationError


@dataclass(frozen=True)
class Gates:
    max_error_rate: float = 0.01  # candidate errors / requests
    max_p99_ratio: float = 1.5  # candidate p99 over stable p99 ...
    p99_slack_ms: float = 5.0  # ... or stable p99 plus this, whichever is larger: a ratio of
    # sub-millisecond latencies is noise
    max_p99_ms: float | None = None  # an absolute bound too, when set
    max_prediction_drift: float = 0.2  # Jensen-Shannon distance of prediction distributions
    feedback_alpha: float = 0.05  # one-sided test: candidate's feedback worse than stable's
    min_feedback: int = 30


@dataclass(frozen=True)
class Canary:
    """Traffic steps in percent, each held for ``min_duration_s`` and ``min_requests``.

    >>> Canary(steps=(5, 25, 50, 100)).steps[-1]
    100
    """

    steps: tuple[float, ...] = (5, 25, 50, 100)
    min_duration_s: float = 60.0
    min_requests: int = 100
    max_wait_s: float = 3600.0  # a step without enough traffic this long pauses the rollout
    gates: Gates = field(default_factory=Gates)

    def __post_init__(self) -> None:
        steps = list(self.steps)
        if not steps or steps != sorted(steps) or steps[0] <= 0 or steps[-1] != 100:
            raise ValidationError(
                f"Canary steps must rise from above 0 to 100, got {steps}.",
                field="steps",
                hint="E.g. steps: [5, 25, 50, 100].",
            )


@dataclass
class VariantStats:
    """What a variant did since the current step began."""

    requests: int = 0
    errors: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    predictions: list[Any] = field(default_factory=list)
    feedback: list[float] = field(default_factory=list)

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    @property
    def p99_ms(self) -> float | None:
        return float(np.percentile(self.latencies_ms, 99)) if self.latencies_ms else None


@dataclass(frozen=True)
class GateResult:
    gate: str
    passed: bool
    figure: float | None
    limit: float | None
    detail: str


@dataclass(frozen=True)
class Decision:
    action: str  # wait, advance, promote, rollback, pause
    step: int  # index of the step the decision is about
    percent: float  # traffic share of the candidate after the decision
    reason: str
    gates: tuple[GateResult, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "gates": [g.__dict__ for g in self.gates]}


def analyze(
    canary: Canary, step: int, elapsed_s: float, candidate: VariantStats, stable: VariantStats
) -> Decision:
    """The decision at step ``step`` (0-based) held for ``elapsed_s`` seconds so far."""
    percent = canary.steps[step]
    if candidate.requests < canary.min_requests:
        if elapsed_s >= canary.max_wait_s:
            return Decision(
                "pause",
                step,
                percent,
                f"only {candidate.requests} request(s) in {elapsed_s:.0f} s, fewer "
                f"than {canary.min_requests}: not promoting on too little data",
            )
        return Decision(
            "wait", step, percent, f"{candidate.requests}/{canary.min_requests} requests"
        )
    gates = _gates(canary.gates, candidate, stable)
    failed = [g for g in gates if not g.passed]
    if failed:
        return Decision("rollback", step, 0.0, "; ".join(g.detail for g in failed), gates)
    if elapsed_s < canary.min_duration_s:
        return Decision(
            "wait",
            step,
            percent,
            f"{elapsed_s:.0f}/{canary.min_duration_s:.0f} s at {percent:g}%",
            gates,
        )
    if step + 1 >= len(canary.steps):
        return Decision("promote", step, 100.0, "every gate passed at every step", gates)
    nxt = canary.steps[step + 1]
    return Decision(
        "advance", step + 1, nxt, f"gates passed at {percent:g}%: on to {nxt:g}%", gates
    )


def _gates(g: Gates, cand: VariantStats, stable: VariantStats) -> tuple[GateResult, ...]:
    out = [
        GateResult(
            "error_rate",
            cand.error_rate <= g.max_error_rate,
            cand.error_rate,
            g.max_error_rate,
            f"error rate {cand.error_rate:.2%} (max {g.max_error_rate:.2%})",
        )
    ]
    latency = _latency_gate(g, cand, stable)
    if latency is not None:
        out.append(latency)
    if cand.predictions and stable.predictions:
        drift = prediction_drift(cand.predictions, stable.predictions)
        out.append(
            GateResult(
                "prediction_drift",
                drift <= g.max_prediction_drift,
                drift,
                g.max_prediction_drift,
                f"prediction drift {drift:.3f} vs stable (max {g.max_prediction_drift:g})",
            )
        )
    if len(cand.feedback) >= g.min_feedback and len(stable.feedback) >= g.min_feedback:
        p = _worse_p_value(cand.feedback, stable.feedback)
        out.append(
            GateResult(
                "feedback",
                p >= g.feedback_alpha,
                p,
                g.feedback_alpha,
                f"feedback mean {np.mean(cand.feedback):.3f} vs stable "
                f"{np.mean(stable.feedback):.3f} (p = {p:.3g} that it is worse; alpha "
                f"{g.feedback_alpha:g})",
            )
        )
    return tuple(out)


P99_MIN_SAMPLES = 100  # below this a sample's p99 is just its maximum: compare medians


def _latency_gate(g: Gates, cand: VariantStats, stable: VariantStats) -> GateResult | None:
    """p99 against the stable p99 (ratio or slack, and the absolute bound), or the medians
    when either side has too few samples for a p99 to mean anything."""
    if not cand.latencies_ms:
        return None
    enough = min(len(cand.latencies_ms), len(stable.latencies_ms)) >= P99_MIN_SAMPLES
    q, label = (99, "p99 latency") if enough else (50, "median latency")
    figure = float(np.percentile(cand.latencies_ms, q))
    limit = g.max_p99_ms if g.max_p99_ms is not None else math.inf
    against = ""
    if stable.latencies_ms:
        base = float(np.percentile(stable.latencies_ms, q))
        limit = min(limit, max(base * g.max_p99_ratio, base + g.p99_slack_ms))
        against = f" vs stable {base:.1f} ms"
    if not math.isfinite(limit):
        return None
    why = "" if enough else f"; medians: a side has under {P99_MIN_SAMPLES} timed requests"
    return GateResult(
        "p99_latency",
        figure <= limit,
        figure,
        limit,
        f"{label} {figure:.1f} ms{against} (max {limit:.1f} ms{why})",
    )


def prediction_drift(a: list[Any], b: list[Any], bins: int = 20) -> float:
    """Jensen-Shannon distance (0 same, 1 disjoint) between two prediction samples."""
    from scipy.spatial.distance import jensenshannon

    numeric = all(isinstance(x, int | float) and not isinstance(x, bool) for x in (*a, *b))
    if numeric and len(set(a) | set(b)) > bins:
        lo, hi = float(min(min(a), min(b))), float(max(max(a), max(b)))
        pa, _ = np.histogram(a, bins=bins, range=(lo, hi))
        pb, _ = np.histogram(b, bins=bins, range=(lo, hi))
    else:
        labels = sorted({str(x) for x in (*a, *b)})
        pa = np.array([sum(str(x) == lab for x in a) for lab in labels])
        pb = np.array([sum(str(x) == lab for x in b) for lab in labels])
    return float(jensenshannon(pa, pb, base=2))


def _worse_p_value(cand: list[float], stable: list[float]) -> float:
    """p-value of 'the candidate's feedback is lower than the stable's' (Welch, one-sided)."""
    from scipy import stats

    if len(set(cand)) == 1 and len(set(stable)) == 1:  # no variance at all: the means decide
        return 0.0 if cand[0] < stable[0] else 1.0
    with warnings.catch_warnings():
        # One constant sample (every answer right) has a variance of exactly 0; scipy warns
        # about precision it does not lose here.
        warnings.filterwarnings("ignore", "Precision loss occurred", RuntimeWarning)
        return float(stats.ttest_ind(cand, stable, equal_var=False, alternative="less").pvalue)
