"""Data and prediction drift: a window of production values against the reference profile.

Per column the method follows the column's type and the window's size:

- numeric: the two-sample Kolmogorov-Smirnov test on small windows; on large ones
  (``large_sample`` values or more) the Wasserstein distance in reference standard
  deviations, because there a p-value flags differences too small to matter. PSI on request.
- categorical: the chi-square test of homogeneity on small windows, the Jensen-Shannon
  distance on large ones.
- binary: the two-proportion z-test, with Cohen's h as the effect size on large windows.

Every result carries both the p-value (adjusted for testing many columns, Benjamini-Hochberg
by default) and the effect size. A column with fewer than ``min_samples`` values in the
window gets "not enough data", never "drift". The dataset drifts when the share of drifted
columns reaches ``drift_share``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from podium.monitoring.reference import (
    OTHER,
    CategoricalColumn,
    Column,
    NumericColumn,
    Reference,
    labels,
)

NUMERIC_METHODS = ("auto", "ks", "wasserstein", "psi")
CATEGORICAL_METHODS = ("auto", "chi2", "jensenshannon")
CORRECTIONS = ("bh", "bonferroni", "none")
PSI_BINS = 10
PSI_EPS = 1e-4
LARGE_KS_N = 10_000  # effective sample size from which the KS p-value is asymptotic


@dataclass(frozen=True)
class DriftSettings:
    """How drift is decided; every field has a default a reviewer would accept.

    Attributes:
        alpha: significance level of the tests, after correction.
        min_samples: fewer values than this in the window: "not enough data".
        large_sample: from this many values, decide by effect size (``auto`` methods).
        numeric: ``auto``, ``ks``, ``wasserstein`` or ``psi``.
        categorical: ``auto``, ``chi2`` or ``jensenshannon``.
        wasserstein: drift threshold, in reference standard deviations.
        psi: drift threshold of the population stability index (0.2: a significant shift).
        jensenshannon: drift threshold of the Jensen-Shannon distance (base 2, 0 to 1).
        cohen_h: drift threshold of Cohen's h for binary columns (0.2: a small effect).
        correction: ``bh`` (Benjamini-Hochberg), ``bonferroni`` or ``none``.
        drift_share: share of drifted columns at which the dataset drifts.
    """

    alpha: float = 0.05
    min_samples: int = 100
    large_sample: int = 1_000
    numeric: str = "auto"
    categorical: str = "auto"
    wasserstein: float = 0.1
    psi: float = 0.2
    jensenshannon: float = 0.1
    cohen_h: float = 0.2
    correction: str = "bh"
    drift_share: float = 0.5

    def __post_init__(self) -> None:
        from podium.core.errors import ValidationError

        for name, value, allowed in (
            ("numeric", self.numeric, NUMERIC_METHODS),
            ("categorical", self.categorical, CATEGORICAL_METHODS),
            ("correction", self.correction, CORRECTIONS),
        ):
            if value not in allowed:
                raise ValidationError(
                    f"drift.{name} must be one of {', '.join(allowed)}, got {value!r}.",
                    field=f"drift.{name}",
                )
        if not 0 < self.alpha < 1:
            raise ValidationError(
                f"drift.alpha must be between 0 and 1, got {self.alpha}.", field="drift.alpha"
            )


@dataclass
class ColumnDrift:
    column: str
    kind: str  # numeric, categorical, binary
    method: str  # the test or distance that decided
    n_reference: int
    n_current: int
    statistic: float | None = None  # of the test (KS D, chi-square, z)
    p_value: float | None = None
    p_adjusted: float | None = None
    effect: float | None = None  # Wasserstein in std, JS distance, Cohen's h, or PSI
    effect_name: str = ""
    threshold: float | None = None  # what the deciding figure was compared with
    drifted: bool | None = None  # None: not enough data
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        return {True: "drift", False: "no drift", None: "not enough data"}[self.drifted]

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "verdict": self.verdict}


@dataclass
class DriftReport:
    columns: list[ColumnDrift]
    predictions: list[ColumnDrift]
    settings: DriftSettings

    @property
    def tested(self) -> list[ColumnDrift]:
        return [c for c in self.columns if c.drifted is not None]

    @property
    def drifted(self) -> list[str]:
        return [c.column for c in self.columns if c.drifted]

    @property
    def share(self) -> float | None:
        tested = self.tested
        return len(self.drifted) / len(tested) if tested else None

    @property
    def dataset_drift(self) -> bool | None:
        share = self.share
        return None if share is None else share >= self.settings.drift_share

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset_drift": self.dataset_drift,
            "share": self.share,
            "drifted": self.drifted,
            "tested": len(self.tested),
            "columns": {c.column: c.to_dict() for c in self.columns},
            "predictions": {c.column: c.to_dict() for c in self.predictions},
            "settings": asdict(self.settings),
        }


def detect(
    reference: Reference,
    current: Any,
    predictions: dict[str, Any] | None = None,
    settings: DriftSettings | None = None,
) -> DriftReport:
    """Test every reference column found in ``current`` (a DataFrame), and the predictions.

    ``predictions`` maps the reference's prediction columns (``prediction``,
    ``prediction_score``) to the window's values.
    """
    settings = settings or DriftSettings()
    cols = [
        test_column(name, ref, current[name], settings)
        for name, ref in reference.columns.items()
        if name in current
    ]
    preds = [
        test_column(name, reference.predictions[name], values, settings)
        for name, values in (predictions or {}).items()
        if name in reference.predictions
    ]
    _correct(cols, settings)
    _correct(preds, settings)
    return DriftReport(cols, preds, settings)


def test_column(name: str, ref: Column, values: Any, settings: DriftSettings) -> ColumnDrift:
    """One column's test, before correction (``p_adjusted`` is the raw p-value)."""
    if isinstance(ref, NumericColumn):
        v = np.asarray(values, dtype=np.float64)
        v = v[np.isfinite(v)]
        return _numeric(name, ref, v, settings)
    import pandas as pd

    s = values if isinstance(values, pd.Series) else pd.Series(list(values), dtype=object)
    s = labels(s.dropna())
    return _categorical(name, ref, s, settings)


def ks_2samp(ref: NumericColumn, cur: np.ndarray) -> tuple[float, float]:
    """The two-sample KS statistic and two-sided p-value, as scipy computes them.

    With an exact reference this is scipy's ``ks_2samp`` itself; with a sketched one, the
    statistic is taken against the sketch's CDF and the p-value from scipy's asymptotic
    distribution with the reference's true size.
    """
    from scipy import stats

    if ref.exact:
        r = stats.ks_2samp(ref.values, cur)
        return float(r.statistic), float(r.pvalue)
    cur = np.sort(cur)
    points = np.concatenate([ref.values, cur])
    cdf_ref = np.searchsorted(ref.values, points, side="right") / ref.values.size
    cdf_cur = np.searchsorted(cur, points, side="right") / cur.size
    d = float(np.max(np.abs(cdf_ref - cdf_cur)))
    en = ref.n * cur.size / (ref.n + cur.size)
    # Past LARGE_KS_N the limit distribution: the exact one costs up to 0.1 s a call there.
    p = stats.kstwo.sf(d, np.round(en)) if en < LARGE_KS_N else stats.kstwobign.sf(d * np.sqrt(en))
    return d, float(np.clip(p, 0, 1))


def _numeric(name: str, ref: NumericColumn, cur: np.ndarray, s: DriftSettings) -> ColumnDrift:
    out = ColumnDrift(name, "numeric", "", ref.n, int(cur.size))
    if cur.size < s.min_samples or ref.n < s.min_samples:
        out.method = "ks"
        return out
    d, p = ks_2samp(ref, cur)
    out.statistic, out.p_value, out.p_adjusted = d, p, p
    cur = np.sort(cur)
    q_cur = _quantiles(cur, ref.values.size)
    scale = ref.std if ref.std > 0 else 1.0
    w = float(np.mean(np.abs(ref.values - q_cur))) / scale
    psi = _psi(ref.values, cur)
    out.detail = {
        "wasserstein": w,
        "psi": psi,
        "mean": {"reference": ref.mean, "current": float(cur.mean())},
        "std": {"reference": ref.std, "current": float(cur.std(ddof=1)) if cur.size > 1 else 0},
    }
    method = s.numeric
    if method == "auto":
        method = "ks" if cur.size < s.large_sample else "wasserstein"
    out.method = method
    if method == "psi":
        out.effect, out.effect_name, out.threshold = psi, "psi", s.psi
    else:
        out.effect, out.effect_name = w, "wasserstein (std)"
        out.threshold = s.alpha if method == "ks" else s.wasserstein
    return out


def _quantiles(sorted_values: np.ndarray, k: int) -> np.ndarray:
    """The quantiles at levels (i + 0.5) / k of sorted values (numpy's linear method)."""
    pos = ((np.arange(k) + 0.5) / k) * (sorted_values.size - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, sorted_values.size - 1)
    frac = pos - lo
    return sorted_values[lo] * (1 - frac) + sorted_values[hi] * frac


def _psi(ref_sorted: np.ndarray, cur: np.ndarray) -> float:
    """Population stability index over the reference's deciles."""
    edges = np.unique(np.quantile(ref_sorted, np.linspace(0, 1, PSI_BINS + 1))[1:-1])
    ref_share = np.bincount(
        np.searchsorted(edges, ref_sorted, side="right"), minlength=edges.size + 1
    )
    cur_share = np.bincount(np.searchsorted(edges, cur, side="right"), minlength=edges.size + 1)
    r = np.clip(ref_share / ref_share.sum(), PSI_EPS, None)
    c = np.clip(cur_share / cur_share.sum(), PSI_EPS, None)
    return float(np.sum((c - r) * np.log(c / r)))


def _categorical(name: str, ref: CategoricalColumn, cur: Any, s: DriftSettings) -> ColumnDrift:
    from scipy import stats
    from scipy.spatial.distance import jensenshannon

    out = ColumnDrift(name, ref.kind, "", ref.n, int(cur.size))
    if cur.size < s.min_samples or ref.n < s.min_samples:
        out.method = "z" if ref.binary else "chi2"
        return out
    counts = cur.value_counts()
    known = set(ref.counts)
    cur_counts: dict[str, int] = {}
    for k, c in counts.items():
        key = str(k) if (k in known or OTHER not in known) else OTHER
        cur_counts[key] = cur_counts.get(key, 0) + int(c)
    cats = sorted(set(ref.counts) | set(cur_counts))
    r = np.array([ref.counts.get(c, 0) for c in cats], dtype=np.float64)
    k = np.array([cur_counts.get(c, 0) for c in cats], dtype=np.float64)
    js = float(jensenshannon(r / r.sum(), k / k.sum(), base=2))
    out.detail = {
        "jensenshannon": js,
        "new_categories": sorted(set(cur_counts) - set(ref.counts))[:20],
        "top": {
            "reference": dict(sorted(ref.counts.items(), key=lambda x: -x[1])[:10]),
            "current": dict(sorted(cur_counts.items(), key=lambda x: -x[1])[:10]),
        },
    }
    large = cur.size >= s.large_sample
    if ref.binary and len(cats) <= 2:
        positive = sorted(ref.counts)[-1]
        p1 = ref.counts.get(positive, 0) / ref.n
        p2 = cur_counts.get(positive, 0) / k.sum()
        pooled = (ref.counts.get(positive, 0) + cur_counts.get(positive, 0)) / (ref.n + k.sum())
        se = math.sqrt(pooled * (1 - pooled) * (1 / ref.n + 1 / k.sum()))
        z = 0.0 if se == 0 else (p2 - p1) / se
        out.statistic, out.p_value = z, float(2 * stats.norm.sf(abs(z)))
        out.effect = abs(2 * math.asin(math.sqrt(p2)) - 2 * math.asin(math.sqrt(p1)))
        out.effect_name, out.method = "cohen h", "z" if not large else "cohen_h"
        out.threshold = s.alpha if not large else s.cohen_h
        out.detail["share"] = {"value": positive, "reference": p1, "current": p2}
    else:
        method = s.categorical
        if method == "auto":
            method = "chi2" if not large else "jensenshannon"
        table = np.vstack([r, k])
        table = table[:, table.sum(axis=0) > 0]
        if table.shape[1] > 1:
            chi2 = stats.chi2_contingency(table, correction=False)
            out.statistic, out.p_value = float(chi2.statistic), float(chi2.pvalue)
        else:
            out.statistic, out.p_value = 0.0, 1.0
        out.effect, out.effect_name, out.method = js, "jensen-shannon", method
        out.threshold = s.alpha if method == "chi2" else s.jensenshannon
    out.p_adjusted = out.p_value
    return out


def _correct(results: list[ColumnDrift], s: DriftSettings) -> None:
    """Adjust the p-values for testing many columns, then decide each column."""
    tested = [r for r in results if r.p_value is not None]
    if tested and s.correction != "none":
        p = np.array([r.p_value for r in tested], dtype=np.float64)
        if s.correction == "bh":
            from scipy.stats import false_discovery_control

            adjusted = false_discovery_control(p, method="bh")
        else:
            adjusted = np.minimum(p * len(tested), 1.0)
        for r, a in zip(tested, adjusted, strict=True):
            r.p_adjusted = float(a)
    for r in results:
        if r.effect is None and r.p_value is None:
            continue  # not enough data
        if r.method in ("ks", "chi2", "z"):
            r.drifted = r.p_adjusted is not None and r.p_adjusted < s.alpha
        else:
            r.drifted = r.effect is not None and r.effect >= (r.threshold or 0.0)
