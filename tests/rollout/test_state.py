"""Rollout state transitions: pure functions of (spec, state)."""

from __future__ import annotations

import pytest

from podium.core.errors import ValidationError
from podium.rollout import state as rs

BG = {
    "name": "d",
    "strategy": "bluegreen",
    "variants": {"blue": {}, "green": {}},
    "bluegreen": {"live": "blue", "idle": "green"},
}
CANARY = {
    "name": "d",
    "strategy": "canary",
    "variants": {"stable": {}, "candidate": {}},
    "canary": {"stable": "stable", "candidate": "candidate", "steps": [5, 50, 100]},
}
AB = {
    "name": "d",
    "strategy": "ab",
    "variants": {"a": {}, "b": {}},
    "ab": {"weights": {"a": 90, "b": 10}},
}


def test_bluegreen_promote_and_rollback_switch_at_once() -> None:
    s = rs.initial(BG)
    assert s == {"live": "blue", "previous": None}
    with pytest.raises(ValidationError, match="no previous colour"):
        rs.rollback(BG, s)
    s = rs.promote(BG, s)
    assert s == {"live": "green", "previous": "blue", "switched_at": s["switched_at"]}
    back = rs.rollback(BG, s)
    assert (back["live"], back["previous"]) == ("blue", "green")
    assert back["switched_at"] >= s["switched_at"]
    assert rs.set_traffic(BG, s, {"blue": 100, "green": 0})["live"] == "blue"
    with pytest.raises(ValidationError, match="all or nothing"):
        rs.set_traffic(BG, s, {"blue": 50, "green": 50})


def test_canary_traffic_promote_and_rollback() -> None:
    s = rs.initial(CANARY)
    assert s == {"step": 0, "percent": 5, "status": "progressing"}
    assert rs.set_traffic(CANARY, s, {"candidate": 25})["percent"] == 25
    assert rs.set_traffic(CANARY, s, {"stable": 60})["percent"] == 40
    with pytest.raises(ValidationError, match="add up to 100"):
        rs.set_traffic(CANARY, s, {"stable": 60, "candidate": 60})
    promoted = rs.promote(CANARY, s)
    assert promoted["percent"] == 100 and promoted["status"] == "promoted"
    with pytest.raises(ValidationError, match="already promoted"):
        rs.promote(CANARY, promoted)
    assert rs.rollback(CANARY, s) == {**s, "percent": 0, "status": "rolled_back"}


def test_ab_traffic_and_bad_requests() -> None:
    s = rs.set_traffic(AB, rs.initial(AB), {"b": 50})
    assert s["weights"] == {"a": 90, "b": 50}
    with pytest.raises(ValidationError, match="no variant 'c'"):
        rs.set_traffic(AB, s, {"c": 10})
    with pytest.raises(ValidationError, match="0-100"):
        rs.set_traffic(AB, s, {"a": 120})
    with pytest.raises(ValidationError, match="Cannot promote a 'ab' deployment"):
        rs.promote(AB, s)


FLAGS = {
    "name": "d",
    "strategy": "flags",
    "variants": {"x": {}, "y": {}},
    "flags": {
        "default": "x",
        "flags": [{"name": "f", "variant": "y", "rules": [], "percent": 10, "enabled": True}],
    },
}


def test_runtime_flag_overrides_apply_over_the_spec() -> None:
    s = rs.set_flag(FLAGS, {}, "f", percent=50)
    s = rs.set_flag(FLAGS, s, "f", kill=True)
    [flag] = rs.effective_flags(FLAGS, s)
    assert (flag["percent"], flag["kill"], flag["enabled"]) == (50, True, True)
    with pytest.raises(ValidationError, match="no flag 'g'"):
        rs.set_flag(FLAGS, s, "g", kill=True)
    with pytest.raises(ValidationError, match="0-100"):
        rs.set_flag(FLAGS, s, "f", percent=150)
