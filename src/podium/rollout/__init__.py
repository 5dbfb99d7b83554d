"""Traffic policies as pure functions of (request key, state) -> decision. No I/O here."""

from podium.rollout.ab import ABSplit, Significance, compare
from podium.rollout.bandit import Arm, Bandit, BanditState
from podium.rollout.hashing import unit, weighted_choice

__all__ = [
    "ABSplit",
    "Arm",
    "Bandit",
    "BanditState",
    "Significance",
    "compare",
    "unit",
    "weighted_choice",
]
