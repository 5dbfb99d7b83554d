"""Retry policy: how often, after how long, and for which exceptions a step is retried."""

from __future__ import annotations

import random
from dataclasses import dataclass

from podium.core.errors import PipelineError


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with a cap and jitter.

    The wait before retry ``n`` (1-based) is ``min(max_delay, delay * backoff ** (n - 1))``,
    scaled by a random factor in ``[1 - jitter, 1 + jitter]`` so that steps failing together
    do not retry in lockstep.

    >>> RetryPolicy(retries=3, delay=1.0, backoff=2.0, jitter=0.0).wait(3)
    4.0
    """

    retries: int = 0
    delay: float = 1.0
    backoff: float = 2.0
    max_delay: float = 60.0
    jitter: float = 0.1
    retry_on: tuple[type[BaseException], ...] = (Exception,)

    def __post_init__(self) -> None:
        checks = {
            "retries": self.retries >= 0,
            "delay": self.delay >= 0,
            "backoff": self.backoff >= 1,
            "max_delay": self.max_delay >= 0,
            "jitter": 0 <= self.jitter <= 1,
        }
        for name, ok in checks.items():
            if not ok:
                raise PipelineError(
                    f"Retry setting {name}={getattr(self, name)!r} is out of range.",
                    hint="Use retries >= 0, delay >= 0, backoff >= 1, max_delay >= 0 and "
                    "0 <= jitter <= 1.",
                )

    def wait(self, attempt: int) -> float:
        """Seconds to wait before retry number ``attempt`` (1 for the first retry)."""
        base = min(self.max_delay, self.delay * self.backoff ** (attempt - 1))
        if self.jitter:
            base *= random.uniform(1 - self.jitter, 1 + self.jitter)
        return base

    def should_retry(self, error: BaseException, attempt: int) -> bool:
        """Whether a failure on try number ``attempt`` (1-based) earns another try."""
        return attempt <= self.retries and isinstance(error, self.retry_on)
