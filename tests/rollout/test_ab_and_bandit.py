"""Rollout policies are pure functions: properties tested with hypothesis."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from podium.core.errors import ValidationError
from podium.rollout import ABSplit, Bandit, BanditState, compare

names = st.lists(st.sampled_from("abcdef"), min_size=2, max_size=5, unique=True)


@given(
    variants=names,
    data=st.data(),
    keys=st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=50),
)
def test_raising_a_variants_share_never_moves_a_key_off_it(
    variants: list[str], data: st.DataObject, keys: list[str]
) -> None:
    weights = {v: data.draw(st.floats(0.01, 10)) for v in variants}
    raised = data.draw(st.sampled_from(variants))
    new = {
        v: (w * data.draw(st.floats(1, 5)) if v == raised else w * data.draw(st.floats(0.01, 1)))
        for v, w in weights.items()
    }
    before, after = ABSplit(weights, "s"), ABSplit(new, "s")
    for key in keys:
        if before.assign(key) == raised:
            assert after.assign(key) == raised


@given(keys=st.lists(st.text(max_size=20), min_size=1, max_size=30))
def test_assignment_is_sticky_and_salted(keys: list[str]) -> None:
    split = ABSplit({"a": 1, "b": 1, "c": 2}, "exp-1")
    again = ABSplit({"a": 1, "b": 1, "c": 2}, "exp-1")
    assert [split.assign(k) for k in keys] == [again.assign(k) for k in keys]


def test_shares_follow_the_weights() -> None:
    split = ABSplit({"a": 70, "b": 20, "c": 10}, "shares")
    counts = Counter(split.assign(f"user-{i}") for i in range(20_000))
    assert counts["a"] / 20_000 == pytest.approx(0.70, abs=0.015)
    assert counts["c"] / 20_000 == pytest.approx(0.10, abs=0.01)
    rng = random.Random(1)
    keyless = Counter(split.assign(None, rng) for _ in range(10_000))
    assert keyless["b"] / 10_000 == pytest.approx(0.20, abs=0.02)


@pytest.mark.parametrize("weights", [{}, {"a": -1}, {"a": 0, "b": 0}, {"a": "x"}])
def test_bad_weights_are_refused(weights: dict[str, float]) -> None:
    with pytest.raises(ValidationError):
        ABSplit(weights)


def test_significance_names_a_winner_only_when_significant() -> None:
    rng = random.Random(0)
    few = compare({"a": [1.0] * 10, "b": [0.0] * 10})
    assert few.p_value is None and few.winner is None
    same = compare(
        {"a": [rng.random() for _ in range(500)], "b": [rng.random() for _ in range(500)]}
    )
    assert same.winner is None and same.p_value is not None and same.p_value > 0.01
    better = compare(
        {
            "a": [float(rng.random() < 0.6) for _ in range(2000)],
            "b": [float(rng.random() < 0.4) for _ in range(2000)],
        }
    )
    assert better.winner == "a" and better.p_value is not None and better.p_value < 1e-6


@pytest.mark.parametrize("policy", ["thompson", "ucb1", "epsilon_greedy"])
def test_the_better_arm_gets_most_of_the_traffic(policy: str) -> None:
    """The issue's check: rewards 0.8 vs 0.4, the better arm gets > 80% of the last 1,000."""
    rng = random.Random(7)
    bandit = Bandit(policy, epsilon=0.1)
    state = BanditState.for_arms(["good", "bad"])
    truth = {"good": 0.8, "bad": 0.4}
    picks = []
    for _ in range(4000):
        arm = bandit.choose(state, rng)
        picks.append(arm)
        state = Bandit.update(state, arm, float(rng.random() < truth[arm]))
    assert picks[-1000:].count("good") > 800


@settings(max_examples=50)
@given(rewards=st.lists(st.tuples(st.sampled_from(["a", "b"]), st.floats(-5, 5)), max_size=50))
def test_state_round_trips_and_rewards_are_clipped(rewards: list[tuple[str, float]]) -> None:
    state = BanditState.for_arms(["a", "b"])
    for arm, r in rewards:
        state = Bandit.update(state, arm, r)
    assert BanditState.from_dict(state.to_dict()) == state
    for arm in state.arms.values():
        assert 0 <= arm.reward <= arm.pulls


def test_bad_bandit_input_is_refused() -> None:
    with pytest.raises(ValidationError, match="Unknown bandit policy"):
        Bandit("greedy")
    with pytest.raises(ValidationError, match="Unknown arm"):
        Bandit.update(BanditState.for_arms(["a"]), "z", 1.0)
