"""Multi-armed bandits: Thompson sampling (default), UCB1 and epsilon-greedy.

The state is plain data (per arm: pulls and reward sum) so it can be stored and shared by
every worker; ``choose`` and ``update`` are pure functions of it.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from podium.core.errors import ValidationError

POLICIES = ("thompson", "ucb1", "epsilon_greedy")


@dataclass
class Arm:
    pulls: int = 0
    reward: float = 0.0  # sum of rewards in [0, 1]

    @property
    def mean(self) -> float:
        return self.reward / self.pulls if self.pulls else 0.0


@dataclass
class BanditState:
    arms: dict[str, Arm] = field(default_factory=dict)

    @classmethod
    def for_arms(cls, names: list[str]) -> BanditState:
        return cls({n: Arm() for n in names})

    def to_dict(self) -> dict[str, dict[str, float]]:
        return {n: {"pulls": a.pulls, "reward": a.reward} for n, a in self.arms.items()}

    @classmethod
    def from_dict(cls, data: dict[str, dict[str, float]]) -> BanditState:
        return cls({n: Arm(int(v["pulls"]), float(v["reward"])) for n, v in data.items()})


@dataclass(frozen=True)
class Bandit:
    """Settings of a bandit; ``choose(state)`` picks an arm, ``update`` folds in a reward."""

    policy: str = "thompson"
    epsilon: float = 0.1

    def __post_init__(self) -> None:
        if self.policy not in POLICIES:
            raise ValidationError(
                f"Unknown bandit policy {self.policy!r}; choose one of {', '.join(POLICIES)}.",
                field="policy",
            )
        if not 0 <= self.epsilon <= 1:
            raise ValidationError("epsilon must be between 0 and 1.", field="epsilon")

    def choose(self, state: BanditState, rng: random.Random | None = None) -> str:
        r = rng or random.Random()
        arms = state.arms
        if not arms:
            raise ValidationError("A bandit needs at least one arm.", field="arms")
        untried = [n for n, a in arms.items() if a.pulls == 0]
        if self.policy == "thompson":
            # Beta(1 + successes, 1 + failures) with fractional rewards in [0, 1].
            return max(
                arms,
                key=lambda n: r.betavariate(1 + arms[n].reward, 1 + arms[n].pulls - arms[n].reward),
            )
        if untried:
            return r.choice(untried)
        if self.policy == "ucb1":
            total = sum(a.pulls for a in arms.values())
            return max(
                arms, key=lambda n: arms[n].mean + math.sqrt(2 * math.log(total) / arms[n].pulls)
            )
        if r.random() < self.epsilon:
            return r.choice(list(arms))
        return max(arms, key=lambda n: arms[n].mean)

    @staticmethod
    def update(state: BanditState, arm: str, reward: float) -> BanditState:
        """Fold one reward (clipped to [0, 1]) into a copy of ``state``."""
        if arm not in state.arms:
            raise ValidationError(
                f"Unknown arm {arm!r}; arms: {', '.join(state.arms)}.", field="variant"
            )
        if not isinstance(reward, int | float) or math.isnan(reward):
            raise ValidationError(f"Reward must be a number, got {reward!r}.", field="reward")
        arms = {n: Arm(a.pulls, a.reward) for n, a in state.arms.items()}
        arms[arm].pulls += 1
        arms[arm].reward += min(1.0, max(0.0, float(reward)))
        return BanditState(arms)
