"""Zero downtime: a real `podium serve` process under a steady load of 32 keep-alive
connections while its deployment switches, rolls back and changes traffic. Not one request
may fail. (The rolling update across workers is in test_rolling.py.)"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from sklearn.dummy import DummyClassifier
from tests.conftest import Trained

import podium
from podium.deploy import apply, promote, rollback, set_traffic
from podium.testing.load import SteadyLoad
from podium.workspace import Workspace

pytestmark = pytest.mark.xdist_group("processes")
CONNECTIONS = 32
VARIANT = "x-podium-variant"


@pytest.fixture
def churn(workspace: Workspace, trained: Trained) -> dict[str, Any]:
    podium.register_model(trained.model, "churn", input_example=trained.X, alias="champion")
    ones = DummyClassifier(strategy="constant", constant=1).fit(trained.X, trained.y)
    podium.register_model(ones, "churn", input_example=trained.X, alias="challenger")
    return {"records": [{k: float(v) for k, v in trained.X.iloc[0].items()}]}


def _after(load: SteadyLoad, url: str, change: Callable[[], Any], n: int = 300) -> Counter[str]:
    """Apply ``change`` under load; once the server follows it, what answered the next ``n``."""
    dep = change()
    load.wait_for(lambda: _deployment(url)["state"] == dep.state)
    in_flight = load.mark() + CONNECTIONS  # sent before the server switched
    load.wait_for(lambda: load.mark() >= in_flight)
    settled = load.seen()
    load.wait_for(lambda: sum((load.seen() - settled).values()) >= n)
    return load.seen() - settled


def test_bluegreen_switch_and_rollback_warm_and_cold(
    workspace: Workspace, churn: dict[str, Any], cli_server: Any
) -> None:
    apply(
        workspace,
        {
            "name": "bg",
            "strategy": "bluegreen",
            "bluegreen": {"live": "blue", "idle": "green", "keep_warm_s": 1},
            "variants": {
                "blue": {"model": "churn@champion"},
                "green": {"model": "churn@challenger"},
            },
        },
    )
    srv = cli_server("bg")
    with SteadyLoad(f"{srv.url}/predict", churn, connections=CONNECTIONS) as load:
        assert set(_after(load, srv.url, lambda: promote(workspace, "bg"))) == {"green"}
        assert set(_after(load, srv.url, lambda: rollback(workspace, "bg"))) == {"blue"}  # warm
        # Past keep_warm_s the idle colour is released; a rollback loads it first, then moves.
        promote(workspace, "bg")
        load.wait_for(lambda: load.seen()["green"] > 300)
        load.wait_for(lambda: _deployment(srv.url)["variants"].keys() == {"green"})
        assert set(_after(load, srv.url, lambda: rollback(workspace, "bg"))) == {"blue"}  # cold
    assert load.failures == []


def test_canary_rollback_and_traffic_changes(
    workspace: Workspace, churn: dict[str, Any], cli_server: Any
) -> None:
    apply(
        workspace,
        {
            "name": "can",
            "strategy": "canary",
            "canary": {"steps": [50, 100]},
            "variants": {
                "stable": {"model": "churn@champion"},
                "candidate": {"model": "churn@challenger"},
            },
        },
    )
    apply(
        workspace,
        {
            "name": "ab",
            "strategy": "ab",
            "ab": {"weights": {"a": 100, "b": 0}},
            "variants": {"a": {"model": "churn@champion"}, "b": {"model": "churn@challenger"}},
        },
    )
    canary, ab = cli_server("can"), cli_server("ab")
    with SteadyLoad(f"{canary.url}/predict", churn, connections=CONNECTIONS) as load:
        load.wait_for(lambda: load.seen()["candidate"] > 100)
        assert set(_after(load, canary.url, lambda: rollback(workspace, "can"))) == {"stable"}
    assert load.failures == []
    with SteadyLoad(f"{ab.url}/predict", churn, connections=CONNECTIONS) as load:
        assert set(
            _after(load, ab.url, lambda: set_traffic(workspace, "ab", {"a": 0, "b": 100}))
        ) == {"b"}
        both = _after(load, ab.url, lambda: set_traffic(workspace, "ab", {"a": 50, "b": 50}))
        assert both["a"] > 60 and both["b"] > 60
    assert load.failures == []


def _deployment(url: str) -> dict[str, Any]:
    import httpx

    return dict(httpx.get(f"{url}/deployment").json())
