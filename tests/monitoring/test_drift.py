"""Drift tests against scipy, on injected drift, and their false-alarm rate without drift."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from podium.core.errors import ValidationError
from podium.monitoring import DriftSettings, Reference, build, detect
from podium.monitoring.drift import ks_2samp
from podium.monitoring.reference import EXACT_MAX, numeric


def frame(rng: np.random.Generator, n: int, cols: int = 20, shift: dict[int, float] | None = None):
    data = {f"x{i}": rng.normal(0, 1, n) + (shift or {}).get(i, 0.0) for i in range(cols)}
    return pd.DataFrame(data)


@settings(max_examples=40, deadline=None)
@given(
    n_ref=st.integers(20, 3000),
    n_cur=st.integers(20, 3000),
    shift=st.floats(-1, 1),
    seed=st.integers(0, 2**32 - 1),
)
def test_ks_equals_scipy_on_an_exact_reference(n_ref: int, n_cur: int, shift: float, seed: int):
    rng = np.random.default_rng(seed)
    ref, cur = rng.normal(0, 1, n_ref), rng.normal(shift, 1, n_cur)
    d, p = ks_2samp(numeric(ref), cur)
    want = stats.ks_2samp(ref, cur)
    assert d == pytest.approx(want.statistic, abs=1e-12)
    assert p == pytest.approx(want.pvalue, rel=1e-9, abs=1e-300)


def test_ks_on_a_sketched_reference_is_within_the_sketch_resolution() -> None:
    rng = np.random.default_rng(1)
    ref, cur = rng.normal(0, 1, 200_000), rng.normal(0.05, 1, 20_000)
    col = numeric(ref)
    assert not col.exact and col.values.size == EXACT_MAX and col.n == ref.size
    d, p = ks_2samp(col, cur)
    want = stats.ks_2samp(ref, cur)
    assert abs(d - want.statistic) <= 1.5 / EXACT_MAX
    assert p == pytest.approx(want.pvalue, rel=0.5)  # same order of magnitude at d's slope


def test_report_per_column_equals_scipy_and_flags_the_shifted_columns() -> None:
    rng = np.random.default_rng(2)
    ref = frame(rng, 5_000)
    cur = frame(rng, 800, shift={1: 0.5, 4: 0.5, 7: -0.6, 12: 0.7, 19: 0.5})
    report = detect(build(ref), cur)
    assert sorted(report.drifted, key=lambda c: int(c[1:])) == ["x1", "x4", "x7", "x12", "x19"]
    for c in report.columns:
        want = stats.ks_2samp(ref[c.column], cur[c.column])
        assert c.method == "ks"  # a small window: the test decides
        assert c.statistic == pytest.approx(want.statistic, abs=1e-12)
        assert c.p_value == pytest.approx(want.pvalue, rel=1e-9)
        assert c.p_adjusted is not None and c.p_adjusted >= c.p_value
    assert report.share == 0.25 and report.dataset_drift is False  # below drift_share 0.5
    assert report.to_dict()["columns"]["x1"]["verdict"] == "drift"


def test_large_windows_decide_by_effect_size_not_by_p_value() -> None:
    """A shift of 0.04 std is 'significant' on 50,000 rows and irrelevant in practice."""
    rng = np.random.default_rng(3)
    ref = frame(rng, 50_000, cols=4)
    cur = frame(rng, 50_000, cols=4, shift={0: 0.04, 1: 0.5})
    report = detect(build(ref), cur)
    by = {c.column: c for c in report.columns}
    assert by["x0"].p_value is not None and by["x0"].p_value < 0.01
    assert by["x0"].method == "wasserstein" and by["x0"].drifted is False
    assert by["x1"].drifted is True and by["x1"].effect == pytest.approx(0.5, abs=0.05)
    psi = detect(build(ref), cur, settings=DriftSettings(numeric="psi"))
    assert [c.column for c in psi.columns if c.drifted] == ["x1"]


def test_false_alarm_rate_without_drift_stays_near_alpha() -> None:
    """200 windows from the training distribution, 10 columns each: the share of windows in
    which any column is flagged stays near alpha (Benjamini-Hochberg under the null)."""
    rng = np.random.default_rng(4)
    ref = build(frame(rng, 3_000, cols=10))
    alarms = sum(bool(detect(ref, frame(rng, 300, cols=10)).drifted) for _ in range(200))
    assert alarms / 200 <= 0.09


def test_too_few_rows_is_not_enough_data_never_drift() -> None:
    rng = np.random.default_rng(5)
    report = detect(build(frame(rng, 1_000, cols=3)), frame(rng, 50, cols=3, shift={0: 3}))
    assert {c.verdict for c in report.columns} == {"not enough data"}
    assert report.share is None and report.dataset_drift is None


def test_categorical_and_binary_columns_use_their_own_tests() -> None:
    rng = np.random.default_rng(6)
    n = 2_000
    ref = pd.DataFrame(
        {
            "country": rng.choice(["FR", "DE", "IT"], n, p=[0.5, 0.3, 0.2]),
            "member": rng.integers(0, 2, n),
            "stable": rng.choice(["a", "b"], n),
        }
    )
    cur = pd.DataFrame(
        {
            "country": rng.choice(["FR", "DE", "IT", "ES"], 500, p=[0.3, 0.3, 0.2, 0.2]),
            "member": rng.choice([0.0, 1.0], 500, p=[0.2, 0.8]),  # floats from JSON: same labels
            "stable": rng.choice(["a", "b"], 500),
        }
    )
    report = detect(build(ref), cur)
    by = {c.column: c for c in report.columns}
    assert by["country"].kind == "categorical" and by["country"].method == "chi2"
    assert by["country"].drifted and by["country"].detail["new_categories"] == ["ES"]
    table = [
        [(ref.country == c).sum() for c in ["DE", "ES", "FR", "IT"]],
        [(cur.country == c).sum() for c in ["DE", "ES", "FR", "IT"]],
    ]
    assert by["country"].p_value == pytest.approx(
        stats.chi2_contingency(table, correction=False).pvalue, rel=1e-9
    )
    assert by["member"].kind == "binary" and by["member"].method == "z" and by["member"].drifted
    assert by["stable"].kind == "binary" and not by["stable"].drifted
    big = pd.concat([cur] * 4, ignore_index=True)
    assert {c.column: c.method for c in detect(build(ref), big).columns} == {
        "country": "jensenshannon",
        "member": "cohen_h",
        "stable": "cohen_h",
    }


def test_prediction_drift_compares_the_prediction_distribution() -> None:
    rng = np.random.default_rng(7)
    x = frame(rng, 2_000, cols=2)
    ref = build(
        x, predictions=rng.choice([0, 1], 2_000, p=[0.7, 0.3]), scores=rng.beta(2, 5, 2_000)
    )
    report = detect(
        ref,
        frame(rng, 500, cols=2),
        predictions={
            "prediction": rng.choice([0, 1], 500, p=[0.3, 0.7]).tolist(),
            "prediction_score": rng.beta(5, 2, 500),
        },
    )
    assert [(c.column, c.drifted) for c in report.predictions] == [
        ("prediction", True),
        ("prediction_score", True),
    ]


def test_a_reference_round_trips_and_never_unpickles() -> None:
    rng = np.random.default_rng(8)
    ref = build(
        pd.DataFrame({"x": rng.normal(size=30_000), "c": rng.choice(["a", "b", "c"], 30_000)}),
        predictions=[1, 0] * 15_000,
    )
    back = Reference.from_bytes(ref.to_bytes())
    assert back.describe() == ref.describe()
    assert np.array_equal(back.columns["x"].values, ref.columns["x"].values)  # type: ignore[union-attr]
    assert len(ref.to_bytes()) < 200_000  # the sketch, not the 30,000 rows
    evil = io.BytesIO()
    np.savez(evil, meta=np.array([{"x": 1}], dtype=object))
    with pytest.raises(ValueError, match="allow_pickle"):
        Reference.from_bytes(evil.getvalue())


def test_bad_settings_name_the_field() -> None:
    with pytest.raises(ValidationError) as err:
        DriftSettings(numeric="magic")
    assert err.value.field == "drift.numeric"
