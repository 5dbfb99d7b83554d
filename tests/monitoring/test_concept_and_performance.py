"""Concept drift detectors on error streams; performance metrics equal scikit-learn's."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics

from podium.core.errors import ValidationError
from podium.monitoring import concept, performance


def errors(rng: np.random.Generator, *rates: float, n: int = 1_500) -> list[float]:
    return [float(e) for r in rates for e in rng.random(n) < r]


def test_each_detector_finds_a_jump_in_the_error_rate_after_it_happens() -> None:
    rng = np.random.default_rng(0)
    out = concept.detect(errors(rng, 0.1, 0.35), binary=True)
    assert set(out) == {"adwin", "ddm", "page_hinkley"}
    for name, r in out.items():
        assert r.state == "drift", name
        assert 1_500 <= r.drifts[0] < 1_500 + 400, (name, r.drifts[:3])


def test_no_drift_alarm_on_stable_streams() -> None:
    """20 streams of 3,000 errors at a constant 10% rate: ADWIN and Page-Hinkley never fire;
    DDM, which is known to be jumpy, fires on few (about 1 in 10 measured over 40)."""
    rng = np.random.default_rng(1)
    false = dict.fromkeys(concept.DETECTORS, 0)
    for _ in range(20):
        for name, r in concept.detect(errors(rng, 0.1, n=3_000), binary=True).items():
            false[name] += bool(r.drifts)
    assert false["adwin"] == 0 and false["page_hinkley"] == 0 and false["ddm"] <= 4


def test_warning_comes_before_drift() -> None:
    rng = np.random.default_rng(2)
    out = concept.detect(errors(rng, 0.1, 0.3), binary=True)
    for name, r in out.items():
        assert r.warnings and r.warnings[0] <= r.drifts[0], name


def test_regression_errors_skip_ddm_and_unknown_detectors_are_refused() -> None:
    rng = np.random.default_rng(3)
    stream = list(np.abs(rng.normal(0, 1, 1_000))) + list(np.abs(rng.normal(0, 4, 1_000)))
    out = concept.detect(stream, binary=False, params={"page_hinkley": {"threshold": 30}})
    assert set(out) == {"adwin", "page_hinkley"} and out["adwin"].state == "drift"
    with pytest.raises(ValidationError, match="Unknown concept drift detector 'kswin'"):
        concept.detect(stream, binary=False, detectors=["kswin"])


def test_classification_metrics_are_scikit_learns() -> None:
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 500)
    score = np.clip(y * 0.3 + rng.random(500) * 0.7, 0, 1)
    pred = (score > 0.5).astype(int)
    got = performance.classification(y.tolist(), pred.tolist(), score.tolist())
    assert got["accuracy"] == metrics.accuracy_score(y, pred)
    assert got["f1"] == metrics.f1_score(y, pred)
    assert got["roc_auc"] == metrics.roc_auc_score(y, score)
    as_text = performance.classification([str(v) for v in y], pred.tolist())
    assert as_text["accuracy"] == got["accuracy"]  # labels sent as "1" match predictions 1


def test_regression_metrics_and_empty_windows() -> None:
    got = performance.regression([1.0, 2.0, 4.0], [1.0, 3.0, 3.0])
    assert got["mae"] == pytest.approx(2 / 3) and got["rmse"] == pytest.approx((2 / 3) ** 0.5)
    assert performance.classification([], [])["accuracy"] is None
    assert performance.percentiles([])["p99_ms"] is None
