"""Which variant answers a request, from a deployment's spec and runtime state.

Built once per (revision, state) and swapped atomically when either changes; choosing is
a pure function of the request's key and attributes.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from podium.rollout import ABSplit, Bandit, BanditState, Flag, Rule
from podium.rollout.hashing import unit
from podium.rollout.state import effective_flags

VARIANT_HEADER = "x-podium-variant"
KEY_HEADER = "x-podium-key"


@dataclass
class Route:
    variant: str
    shadows: list[str] = field(default_factory=list)
    steps_off: frozenset[str] = frozenset()  # pipeline steps skipped for this request


class Router:
    def __init__(self, spec: dict[str, Any], state: dict[str, Any]) -> None:
        self.spec = spec
        self.state = state
        self.strategy = spec["strategy"]
        self.variants = list(spec["variants"])
        self.rng = random.Random()
        s = spec.get(self.strategy) or {}
        if self.strategy == "ab":
            self.split = ABSplit(state.get("weights") or s["weights"], salt=spec["name"])
            self.key = s.get("key", f"header:{KEY_HEADER}")
        if self.strategy == "bandit":
            self.bandit = Bandit(s.get("policy", "thompson"), s.get("epsilon", 0.1))
            self.arms = (
                BanditState.from_dict(state["arms"])
                if state.get("arms")
                else (BanditState.for_arms(self.variants))
            )
        if self.strategy == "flags":
            self.default = s["default"]
            self.flags = [
                (
                    Flag(
                        f["name"],
                        f.get("enabled", True),
                        tuple(Rule(r["attribute"], r["op"], r.get("value")) for r in f["rules"]),
                        f.get("percent", 100),
                        kill=f.get("kill", False),
                    ),
                    f.get("variant"),
                    f.get("step"),
                )
                for f in effective_flags(spec, state)  # runtime overrides over the spec
            ]

    def choose(self, headers: Any, record: dict[str, Any] | None) -> Route:
        strategy = self.strategy
        if strategy in ("single", "rolling"):
            return Route(self.variants[0])
        if strategy == "shadow":
            s = self.spec["shadow"]
            return Route(s["primary"], list(s["shadows"]))
        if strategy == "bluegreen":
            preview = headers.get(VARIANT_HEADER)
            if preview in self.variants:
                return Route(preview)
            return Route(self.state.get("live") or self.spec["bluegreen"]["live"])
        if strategy == "canary":
            c = self.spec["canary"]
            percent = float(self.state.get("percent", c["steps"][0]))
            key = headers.get(KEY_HEADER)
            draw = unit(key, self.spec["name"]) if key else self.rng.random()
            return Route(c["candidate"] if draw * 100 < percent else c["stable"])
        if strategy == "ab":
            return Route(self.split.assign(self._key(headers, record), self.rng))
        if strategy == "bandit":
            return Route(self.bandit.choose(self.arms, self.rng))
        if strategy == "flags":
            attrs = {**(record or {}), **_attribute_headers(headers)}
            key = headers.get(KEY_HEADER)
            off = frozenset(
                step for flag, _, step in self.flags if step and not flag.is_on(attrs, key)
            )
            for flag, variant, _ in self.flags:
                if variant and flag.is_on(attrs, key):
                    return Route(variant, steps_off=off)
            return Route(self.default, steps_off=off)
        return Route(self.variants[0])

    def _key(self, headers: Any, record: dict[str, Any] | None) -> str | None:
        kind, _, name = self.key.partition(":")
        if kind == "header":
            value = headers.get(name.lower())
            return str(value) if value else None
        if record is not None and name in record:
            return str(record[name])
        return None


def _attribute_headers(headers: Any) -> dict[str, str]:
    """Request attributes for flag rules sent as ``X-Podium-Attr-NAME`` headers."""
    prefix = "x-podium-attr-"
    return {k[len(prefix) :]: v for k, v in headers.items() if k.lower().startswith(prefix)}
