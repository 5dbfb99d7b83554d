"""Runtime state of a deployment's rollout, and its transitions, as pure functions.

The spec says what is wanted; the state says where the rollout is: the live colour of a
blue-green pair, the canary's step and traffic share, A/B weights after a traffic change,
bandit counts. Servers read it and route by it; the control plane changes it with these
functions. Every function returns a new state and raises ValidationError for a move that
makes no sense for the strategy.
"""

from __future__ import annotations

from typing import Any

from podium.core.clock import utcnow
from podium.core.errors import ValidationError
from podium.rollout.bandit import BanditState

State = dict[str, Any]


def initial(spec: dict[str, Any]) -> State:
    strategy = spec["strategy"]
    variants = list(spec["variants"])
    if strategy == "bluegreen":
        return {"live": spec["bluegreen"]["live"], "previous": None}
    if strategy == "canary":
        c = spec["canary"]
        return {"step": 0, "percent": c["steps"][0], "status": "progressing"}
    if strategy == "ab":
        return {"weights": dict(spec["ab"]["weights"])}
    if strategy == "bandit":
        return {"arms": BanditState.for_arms(variants).to_dict()}
    return {}


def promote(spec: dict[str, Any], state: State) -> State:
    """Blue-green: switch traffic to the idle colour. Canary: the candidate takes 100%."""
    strategy = spec["strategy"]
    if strategy == "bluegreen":
        live = state["live"]
        other = next(v for v in (spec["bluegreen"]["live"], spec["bluegreen"]["idle"]) if v != live)
        return {"live": other, "previous": live, "switched_at": utcnow().isoformat()}
    if strategy == "canary":
        if state.get("status") in ("promoted", "rolled_back"):
            raise ValidationError(
                f"The canary is already {state['status']}.",
                field="status",
                hint="Apply a new deployment revision to start another.",
            )
        return {
            **state,
            "percent": 100,
            "step": len(spec["canary"]["steps"]) - 1,
            "status": "promoted",
        }
    raise _unsupported("promote", strategy)


def rollback(spec: dict[str, Any], state: State) -> State:
    """Blue-green: back to the previous colour, at once. Canary: the candidate gets 0%."""
    strategy = spec["strategy"]
    if strategy == "bluegreen":
        if not state.get("previous"):
            raise ValidationError(
                "There is no previous colour to roll back to.",
                field="live",
                hint="Promote first; rollback undoes it.",
            )
        return {
            "live": state["previous"],
            "previous": state["live"],
            "switched_at": utcnow().isoformat(),
        }
    if strategy == "canary":
        return {**state, "percent": 0, "status": "rolled_back"}
    raise _unsupported("rollback", strategy)


def set_traffic(spec: dict[str, Any], state: State, shares: dict[str, float]) -> State:
    """Set traffic shares in percent: A/B weights, or the canary candidate's share."""
    strategy = spec["strategy"]
    variants = set(spec["variants"])
    for name, share in shares.items():
        if name not in variants:
            raise ValidationError(
                f"Deployment {spec['name']!r} has no variant {name!r}; variants: "
                f"{', '.join(sorted(variants))}.",
                field=name,
            )
        if not 0 <= share <= 100:
            raise ValidationError(f"{name}={share}: a share is 0-100 percent.", field=name)
    if strategy == "ab":
        weights = {**state["weights"], **shares}
        if sum(weights.values()) <= 0:
            raise ValidationError("At least one variant needs traffic.", field="weights")
        return {**state, "weights": weights}
    if strategy == "canary":
        candidate, stable = spec["canary"]["candidate"], spec["canary"]["stable"]
        if candidate in shares:
            percent = shares[candidate]
        elif stable in shares:
            percent = 100 - shares[stable]
        else:
            raise ValidationError("Give the candidate's or the stable's share.", field="shares")
        if candidate in shares and stable in shares and shares[candidate] + shares[stable] != 100:
            raise ValidationError(
                "The candidate's and stable's shares must add up to 100.", field="shares"
            )
        return {**state, "percent": percent, "status": "manual"}
    if strategy == "bluegreen":
        live = [n for n, s in shares.items() if s == 100]
        if len(live) != 1 or any(s not in (0, 100) for s in shares.values()):
            raise ValidationError(
                "Blue-green traffic is all or nothing: give COLOR=100.",
                field="shares",
                hint="Or use `podium deployments promote`.",
            )
        if live[0] == state["live"]:
            return state
        return {"live": live[0], "previous": state["live"]}
    raise _unsupported("set traffic on", strategy)


def _unsupported(action: str, strategy: str) -> ValidationError:
    return ValidationError(
        f"Cannot {action} a {strategy!r} deployment.",
        field="strategy",
        hint="promote/rollback apply to bluegreen and canary; traffic to ab, canary, bluegreen.",
    )


def add_rewards(spec: dict[str, Any], state: State, rewards: dict[str, list[float]]) -> State:
    """Bandit: fold rewards per arm into the stored counts."""
    if spec["strategy"] != "bandit":
        return state
    from podium.rollout.bandit import Bandit

    arms = (
        BanditState.from_dict(state["arms"])
        if state.get("arms")
        else BanditState.for_arms(list(spec["variants"]))
    )
    for arm, values in rewards.items():
        if arm in arms.arms:
            for value in values:
                arms = Bandit.update(arms, arm, value)
    return {**state, "arms": arms.to_dict()}


def decide(
    spec: dict[str, Any], state: State, action: str, step: int, percent: float, now: str
) -> State:
    """Apply a canary decision (advance, promote, rollback, pause) to the state."""
    if action == "advance":
        return {**state, "step": step, "percent": percent, "since": now}
    if action == "promote":
        return {**state, "percent": 100, "status": "promoted", "since": now}
    if action == "rollback":
        return {**state, "percent": 0, "status": "rolled_back", "since": now}
    if action == "pause":
        return {**state, "status": "paused", "since": now}
    return state


def set_flag(
    spec: dict[str, Any],
    state: State,
    flag: str,
    *,
    enabled: bool | None = None,
    percent: float | None = None,
    kill: bool | None = None,
) -> State:
    """Override a feature flag at run time (over what the spec declares)."""
    if spec["strategy"] != "flags":
        raise _unsupported("set flags on", spec["strategy"])
    names = [f["name"] for f in spec["flags"]["flags"]]
    if flag not in names:
        raise ValidationError(
            f"Deployment {spec['name']!r} has no flag {flag!r}; flags: "
            f"{', '.join(names) or 'none'}.",
            field="flag",
        )
    if percent is not None and not 0 <= percent <= 100:
        raise ValidationError(f"percent must be 0-100, got {percent}.", field="percent")
    changes = {
        k: v
        for k, v in (("enabled", enabled), ("percent", percent), ("kill", kill))
        if v is not None
    }
    flags = dict(state.get("flags") or {})
    flags[flag] = {**flags.get(flag, {}), **changes}
    return {**state, "flags": flags}


def effective_flags(spec: dict[str, Any], state: State) -> list[dict[str, Any]]:
    """The spec's flags with the runtime overrides applied."""
    overrides = state.get("flags") or {}
    return [
        {**f, "kill": False, **overrides.get(f["name"], {})}
        for f in spec.get("flags", {}).get("flags", [])
    ]
