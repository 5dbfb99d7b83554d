"""A/B splits: fixed weights, sticky by key, and the significance of the difference."""

from __future__ import annotations

import random
import warnings
from dataclasses import dataclass

from podium.core.errors import ValidationError
from podium.rollout.hashing import weighted_choice


@dataclass(frozen=True)
class ABSplit:
    """Traffic weights per variant (any positive scale; normalised when used).

    >>> split = ABSplit({"a": 90, "b": 10}, salt="churn")
    >>> split.assign("user-42") == split.assign("user-42")
    True
    """

    weights: dict[str, float]
    salt: str = "podium"

    def __post_init__(self) -> None:
        if not self.weights:
            raise ValidationError("An A/B split needs at least one variant.", field="weights")
        for name, w in self.weights.items():
            if not isinstance(w, int | float) or w < 0:
                raise ValidationError(
                    f"Weight of variant {name!r} must be a number >= 0, got {w!r}.",
                    field=f"weights.{name}",
                )
        if sum(self.weights.values()) <= 0:
            raise ValidationError("At least one variant needs a weight above 0.", field="weights")

    def assign(self, key: str | None, rng: random.Random | None = None) -> str:
        """The variant for ``key`` (sticky), or a random one by weight when there is no key."""
        if key is None:
            r = rng or random
            names = list(self.weights)
            return r.choices(names, weights=[self.weights[n] for n in names])[0]
        return weighted_choice(key, self.weights, self.salt)


@dataclass(frozen=True)
class Significance:
    metric: str
    means: dict[str, float]
    counts: dict[str, int]
    p_value: float | None
    winner: str | None  # set once p_value < alpha
    alpha: float

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def compare(
    samples: dict[str, list[float]],
    *,
    metric: str = "reward",
    alpha: float = 0.05,
    min_samples: int = 30,
) -> Significance:
    """Welch's t-test between the two variants with the most samples (rewards or 0/1).

    No winner is named before each has ``min_samples`` or while p >= ``alpha``.
    """
    from scipy import stats

    counts = {k: len(v) for k, v in samples.items()}
    means = {k: (sum(v) / len(v) if v else 0.0) for k, v in samples.items()}
    ranked = sorted(samples, key=lambda k: counts[k], reverse=True)[:2]
    if len(ranked) < 2 or min(counts[k] for k in ranked) < min_samples:
        return Significance(metric, means, counts, None, None, alpha)
    a, b = (samples[k] for k in ranked)
    if len(set(a) | set(b)) == 1:  # identical constant samples: no difference to test
        return Significance(metric, means, counts, 1.0, None, alpha)
    with warnings.catch_warnings():
        # One constant sample (every reward 1) has a variance of exactly 0; scipy warns about
        # precision it does not lose here (as in the canary's feedback gate).
        warnings.filterwarnings("ignore", "Precision loss occurred", RuntimeWarning)
        p = float(stats.ttest_ind(a, b, equal_var=False).pvalue)
    winner = max(ranked, key=lambda k: means[k]) if p < alpha else None
    return Significance(metric, means, counts, p, winner, alpha)
