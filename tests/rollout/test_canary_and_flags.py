"""Canary analysis and feature flags, as pure functions."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from podium.core.errors import ValidationError
from podium.rollout import Canary, Flag, Gates, Rule, VariantStats, analyze

CANARY = Canary(steps=(10, 50, 100), min_duration_s=60, min_requests=100, max_wait_s=600)


def healthy(n: int = 200, seed: int = 0, p_one: float = 0.3) -> VariantStats:
    rng = random.Random(seed)
    return VariantStats(
        requests=n,
        errors=0,
        latencies_ms=[rng.uniform(2, 8) for _ in range(n)],
        predictions=[int(rng.random() < p_one) for _ in range(n)],
        feedback=[float(rng.random() < 0.7) for _ in range(n)],
    )


def test_a_healthy_candidate_advances_step_by_step_then_promotes() -> None:
    stable = healthy(seed=1)
    d = analyze(CANARY, 0, 61, healthy(seed=2), stable)
    assert (d.action, d.step, d.percent) == ("advance", 1, 50)
    assert {g.gate for g in d.gates} == {
        "error_rate",
        "p99_latency",
        "prediction_drift",
        "feedback",
    }
    assert analyze(CANARY, 2, 61, healthy(seed=3), stable).action == "promote"


def test_it_waits_for_time_and_traffic_and_pauses_rather_than_promote_on_no_data() -> None:
    stable = healthy()
    assert analyze(CANARY, 0, 30, healthy(), stable).action == "wait"
    assert analyze(CANARY, 0, 300, healthy(n=10), stable).action == "wait"
    paused = analyze(CANARY, 2, 601, healthy(n=10), stable)
    assert paused.action == "pause" and "too little data" in paused.reason


@pytest.mark.parametrize(
    ("candidate", "gate"),
    [
        (VariantStats(requests=200, errors=10), "error_rate"),
        (VariantStats(requests=200, latencies_ms=[50.0] * 200), "p99_latency"),
        (VariantStats(requests=200, predictions=[1] * 200), "prediction_drift"),
        (VariantStats(requests=200, feedback=[0.0] * 150 + [1.0] * 50), "feedback"),
    ],
)
def test_each_gate_rolls_back_a_bad_candidate_with_its_figures(
    candidate: VariantStats, gate: str
) -> None:
    d = analyze(CANARY, 1, 10, candidate, healthy(seed=5))
    assert d.action == "rollback" and d.percent == 0
    [failed] = [g for g in d.gates if not g.passed]
    assert failed.gate == gate and failed.figure is not None and failed.limit is not None


@pytest.mark.parametrize(
    ("n", "said"),
    [
        (200, "p99 latency 50.0 ms vs stable 8.0 ms (max 13.0 ms)"),
        (
            20,
            "median latency 50.0 ms vs stable 8.0 ms (max 13.0 ms; medians: a side has "
            "under 100 timed requests)",
        ),
    ],
)
def test_the_latency_gate_says_which_latency_it_measured(n: int, said: str) -> None:
    stable = VariantStats(requests=200, latencies_ms=[8.0] * 200)
    few = Canary(steps=(10, 50, 100), min_duration_s=60, min_requests=10, max_wait_s=600)
    d = analyze(few, 1, 10, VariantStats(requests=n, latencies_ms=[50.0] * n), stable)
    [gate] = [g for g in d.gates if g.gate == "p99_latency"]
    assert (gate.passed, gate.figure, gate.limit, gate.detail) == (False, 50.0, 13.0, said)


def test_bad_steps_are_refused() -> None:
    for steps in ((), (50, 10, 100), (0, 100), (10, 50)):
        with pytest.raises(ValidationError):
            Canary(steps=steps)
    assert Canary(gates=Gates(max_error_rate=0.05)).gates.max_error_rate == 0.05


def test_flag_rules_kill_switch_and_disabled() -> None:
    flag = Flag("new-model", rules=(Rule("country", "in", ["FR", "DE"]), Rule("age", "gte", 18)))
    assert flag.is_on({"country": "FR", "age": 30})
    assert not flag.is_on({"country": "US", "age": 30})
    assert not flag.is_on({"country": "FR", "age": "thirty"})  # wrong type: no match
    assert not flag.is_on({"country": "FR"})
    assert not Flag("x", kill=True).is_on()
    assert not Flag("x", enabled=False).is_on()
    with pytest.raises(ValidationError, match="Unknown operator"):
        Rule("a", "like", "x")


@given(
    low=st.floats(0, 100),
    high=st.floats(0, 100),
    keys=st.lists(st.text(min_size=1, max_size=10), min_size=1, max_size=40),
)
def test_raising_a_flags_percentage_never_turns_a_key_off(
    low: float, high: float, keys: list[str]
) -> None:
    low, high = min(low, high), max(low, high)
    for key in keys:
        if Flag("f", percent=low).is_on(key=key):
            assert Flag("f", percent=high).is_on(key=key)


def test_a_flags_percentage_is_respected_and_keyless_requests_need_full_rollout() -> None:
    flag = Flag("f", percent=25)
    on = sum(flag.is_on(key=f"user-{i}") for i in range(20_000)) / 20_000
    assert on == pytest.approx(0.25, abs=0.015)
    assert not flag.is_on()
    assert Flag("f", percent=100).is_on()


def test_p99_of_fast_models_is_judged_with_an_absolute_slack() -> None:
    stable = VariantStats(requests=200, latencies_ms=[0.3] * 200)
    fast = VariantStats(requests=200, latencies_ms=[1.0] * 200)  # 3.3x, but 0.7 ms slower
    slow = VariantStats(requests=200, latencies_ms=[50.0] * 200)
    assert analyze(CANARY, 0, 61, fast, stable).action == "advance"
    assert analyze(CANARY, 0, 61, slow, stable).action == "rollback"
