"""Feature flags: targeting rules on request attributes, sticky percentage, kill switch."""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Any

from podium.core.errors import ValidationError
from podium.rollout.hashing import unit

_OPS: dict[str, Any] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
    "in": lambda a, b: a in b,
    "not_in": lambda a, b: a not in b,
    "contains": lambda a, b: b in a,
}


@dataclass(frozen=True)
class Rule:
    """``attribute op value``, e.g. ``Rule("country", "in", ["FR", "DE"])``."""

    attribute: str
    op: str
    value: Any = None

    def __post_init__(self) -> None:
        if self.op not in (*_OPS, "exists"):
            raise ValidationError(
                f"Unknown operator {self.op!r}; use one of {', '.join([*_OPS, 'exists'])}.",
                field="rules.op",
            )

    def matches(self, attributes: dict[str, Any]) -> bool:
        if self.op == "exists":
            return self.attribute in attributes
        if self.attribute not in attributes:
            return False
        try:
            return bool(_OPS[self.op](attributes[self.attribute], self.value))
        except TypeError:  # comparing across types (a string against a number): no match
            return False


@dataclass(frozen=True)
class Flag:
    """A runtime flag. On for a request when enabled, not killed, every rule matches, and the
    request key falls within ``percent`` (sticky: raising it never turns a key off)."""

    name: str
    enabled: bool = True
    rules: tuple[Rule, ...] = ()
    percent: float = 100.0
    variant: str | None = None  # the variant the flag routes to when on
    kill: bool = False  # forces the flag off everywhere, at once

    def __post_init__(self) -> None:
        if not 0 <= self.percent <= 100:
            raise ValidationError(f"percent must be 0-100, got {self.percent}.", field="percent")

    def is_on(self, attributes: dict[str, Any] | None = None, key: str | None = None) -> bool:
        if self.kill or not self.enabled:
            return False
        attrs = attributes or {}
        if not all(rule.matches(attrs) for rule in self.rules):
            return False
        if self.percent >= 100:
            return True
        if key is None:  # no key, no stable bucket: only a full rollout applies
            return False
        return unit(key, f"flag:{self.name}") * 100 < self.percent
