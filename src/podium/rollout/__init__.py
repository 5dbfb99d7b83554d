"""Traffic policies as pure functions of (request key, state) -> decision. No I/O here."""

from podium.rollout.ab import ABSplit, Significance, compare
from podium.rollout.bandit import Arm, Bandit, BanditState
from podium.rollout.canary import Canary, Decision, Gates, VariantStats, analyze
from podium.rollout.flags import Flag, Rule
from podium.rollout.hashing import unit, weighted_choice

__all__ = [
    "ABSplit",
    "Arm",
    "Bandit",
    "BanditState",
    "Canary",
    "Decision",
    "Flag",
    "Gates",
    "Rule",
    "Significance",
    "VariantStats",
    "analyze",
    "compare",
    "unit",
    "weighted_choice",
]
