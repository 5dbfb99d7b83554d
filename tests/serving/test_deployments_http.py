"""Serving deployments over HTTP: routing by strategy, and following the store live."""

from __future__ import annotations

import atexit
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from sklearn.dummy import DummyClassifier
from tests.conftest import Trained
from typer.testing import CliRunner

import podium
from podium.cli.main import app
from podium.deploy import apply, deploy_model, promote, set_traffic
from podium.deploy.report import summary
from podium.serving import RunningServer, create_deployment_app, start_in_thread
from podium.workspace import Workspace

# One keep-alive client for the module: a new connection per request costs more than the
# request itself.
HTTP = httpx.Client(timeout=10)
atexit.register(HTTP.close)


class Broken:
    def predict(self, X: Any) -> Any:
        raise RuntimeError("shadow model is broken")


class FailsOnSingleRows:
    """Registers fine (its example has many rows), then fails on every served request."""

    def predict(self, X: Any) -> Any:
        if len(X) == 1:
            raise RuntimeError("cannot score a single row")
        return [0] * len(X)


@pytest.fixture
def models(workspace: Workspace, trained: Trained) -> Trained:
    podium.register_model(trained.model, "churn", input_example=trained.X, alias="champion")
    ones = DummyClassifier(strategy="constant", constant=1).fit(trained.X, trained.y)
    podium.register_model(ones, "churn", input_example=trained.X, alias="challenger")
    podium.register_model(Broken(), "broken", flavor="python")
    podium.register_model(FailsOnSingleRows(), "fragile", input_example=trained.X)
    return trained


@pytest.fixture(params=["sklearn", "auto"])
def flavor(request: pytest.FixtureRequest) -> str:
    """Every deployment test runs twice: served by scikit-learn (`--flavor sklearn`), and as
    by default (auto: each variant through its ONNX fast path where its parity held)."""
    return str(request.param)


@pytest.fixture
def serve(workspace: Workspace, flavor: str) -> Iterator[Callable[[str], RunningServer]]:
    started: list[RunningServer] = []
    asked = None if flavor == "auto" else flavor  # auto is what an unset flavor means

    def start(name: str) -> RunningServer:
        srv = start_in_thread(
            create_deployment_app(name, workspace=workspace, poll_s=0.05, flavor=asked)
        )
        started.append(srv)
        return srv

    yield start
    for srv in started:
        srv.stop()


def _row(trained: Trained) -> dict[str, Any]:
    return {"records": [{k: float(v) for k, v in trained.X.iloc[0].items()}]}


def _until(check: Callable[[], bool], timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "the server did not converge in time"
        time.sleep(0.05)


def _variant(url: str, body: Any, **headers: str) -> str:
    r = HTTP.post(f"{url}/predict", json=body, headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["x-podium-variant"] == r.json()["variant"]
    assert r.headers["x-podium-flavor"] in ("onnx", "sklearn", "python")
    return str(r.json()["variant"])


def test_each_variant_answers_through_its_own_flavor(
    models: Trained, serve: Callable[[str], RunningServer], workspace: Workspace, flavor: str
) -> None:
    apply(
        workspace,
        {
            "name": "ab",
            "strategy": "ab",
            "ab": {"weights": {"a": 50, "b": 50}},
            "variants": {"a": {"model": "churn@champion"}, "b": {"model": "churn@challenger"}},
        },
    )
    srv = serve("ab")
    # The champion converts to ONNX; the challenger (a DummyClassifier) has no converter.
    want = {"a": "onnx" if flavor == "auto" else "sklearn", "b": "sklearn"}
    assert HTTP.get(f"{srv.url}/deployment").json()["flavors"] == want
    seen: Counter[tuple[str, str]] = Counter()
    for i in range(40):
        r = HTTP.post(f"{srv.url}/predict", json=_row(models), headers={"x-podium-key": f"k{i}"})
        seen[r.json()["variant"], r.headers["x-podium-flavor"]] += 1
    assert set(seen) == set(want.items())
    text = HTTP.get(f"{srv.url}/metrics").text
    for answered_by in set(want.values()):
        start = f'podium_requests_total{{code="200",flavor="{answered_by}",model="churn"'
        counted = sum(float(m.split()[-1]) for m in text.splitlines() if m.startswith(start))
        assert counted == sum(n for (_, f), n in seen.items() if f == answered_by), text
    mv = workspace.store.models.get_version("churn", 2)
    assert mv.fast_path is not None and mv.fast_path["status"] == "failed"
    assert "DummyClassifier" in mv.fast_path["reason"]


def test_a_single_deployment_answers_with_variant_version_and_prediction_id(
    models: Trained, serve: Callable[[str], RunningServer], workspace: Workspace
) -> None:
    deploy_model(workspace, "churn@champion", "one")
    srv = serve("one")
    r = HTTP.post(f"{srv.url}/predict", json=_row(models), headers={"x-request-id": "abc"})
    out = r.json()
    assert (out["variant"], out["prediction_id"]) == ("main", "abc")
    assert r.headers["x-podium-model-version"] == "models:/churn/1"
    v2 = {
        "inputs": [
            {
                "name": "input-0",
                "shape": [1, 30],
                "datatype": "FP64",
                "data": models.X.iloc[0].tolist(),
            }
        ]
    }
    assert HTTP.post(f"{srv.url}/v2/models/one/infer", json=v2).json()["variant"] == "main"
    assert HTTP.post(f"{srv.url}/v2/models/other/infer", json=v2).status_code == 404
    deploy_model(workspace, "churn@challenger", "one")  # a new revision, no restart
    _until(
        lambda: (
            HTTP.post(f"{srv.url}/predict", json=_row(models)).headers["x-podium-model-version"]
            == "models:/churn/2"
        )
    )


def test_ab_is_sticky_by_key_and_follows_traffic_changes(
    models: Trained, serve: Callable[[str], RunningServer], workspace: Workspace
) -> None:
    apply(
        workspace,
        {
            "name": "ab",
            "strategy": "ab",
            "ab": {"weights": {"a": 50, "b": 50}},
            "variants": {"a": {"model": "churn@champion"}, "b": {"model": "churn@challenger"}},
        },
    )
    srv = serve("ab")
    body = _row(models)
    for key in ("u1", "u2", "u3"):
        assert len({_variant(srv.url, body, **{"x-podium-key": key}) for _ in range(10)}) == 1
    spread = Counter(_variant(srv.url, body, **{"x-podium-key": f"user-{i}"}) for i in range(60))
    assert spread["a"] > 10 and spread["b"] > 10
    set_traffic(workspace, "ab", {"a": 0})
    _until(
        lambda: all(
            _variant(srv.url, body, **{"x-podium-key": f"user-{i}"}) == "b" for i in range(20)
        )
    )


def test_bluegreen_preview_then_atomic_switch(
    models: Trained, serve: Callable[[str], RunningServer], workspace: Workspace
) -> None:
    apply(
        workspace,
        {
            "name": "bg",
            "strategy": "bluegreen",
            "bluegreen": {"live": "blue", "idle": "green"},
            "variants": {
                "blue": {"model": "churn@champion"},
                "green": {"model": "churn@challenger"},
            },
        },
    )
    srv = serve("bg")
    body = _row(models)
    assert _variant(srv.url, body) == "blue"
    assert _variant(srv.url, body, **{"x-podium-variant": "green"}) == "green"  # preview
    promote(workspace, "bg")
    _until(lambda: _variant(srv.url, body) == "green")


def test_canary_share_follows_the_store(
    models: Trained, serve: Callable[[str], RunningServer], workspace: Workspace
) -> None:
    apply(
        workspace,
        {
            "name": "can",
            "strategy": "canary",
            "canary": {"steps": [5, 50, 100]},
            "variants": {
                "stable": {"model": "churn@champion"},
                "candidate": {"model": "churn@challenger"},
            },
        },
    )
    srv = serve("can")
    body = _row(models)
    set_traffic(workspace, "can", {"candidate": 100})
    _until(lambda: all(_variant(srv.url, body) == "candidate" for _ in range(10)))
    set_traffic(workspace, "can", {"candidate": 0})
    _until(lambda: all(_variant(srv.url, body) == "stable" for _ in range(10)))


def test_flags_route_by_request_attributes(
    models: Trained, serve: Callable[[str], RunningServer], workspace: Workspace
) -> None:
    apply(
        workspace,
        {
            "name": "fl",
            "strategy": "flags",
            "flags": {
                "default": "current",
                "flags": [
                    {
                        "name": "eu",
                        "variant": "next",
                        "rules": [{"attribute": "country", "op": "in", "value": ["FR", "DE"]}],
                    }
                ],
            },
            "variants": {
                "current": {"model": "churn@champion"},
                "next": {"model": "churn@challenger"},
            },
        },
    )
    srv = serve("fl")
    body = _row(models)
    assert _variant(srv.url, body, **{"x-podium-attr-country": "FR"}) == "next"
    assert _variant(srv.url, body, **{"x-podium-attr-country": "US"}) == "current"
    assert _variant(srv.url, body) == "current"


def test_a_broken_shadow_never_touches_the_answer(
    models: Trained, serve: Callable[[str], RunningServer], workspace: Workspace
) -> None:
    apply(
        workspace,
        {
            "name": "sh",
            "strategy": "shadow",
            "shadow": {"primary": "main", "shadows": ["copy", "ones", "bad"]},
            "variants": {
                "main": {"model": "churn@champion"},
                "copy": {"model": "churn@champion"},
                "ones": {"model": "churn@challenger"},
                "bad": {"model": "broken/1"},
            },
        },
    )
    srv = serve("sh")
    body = _row(models)
    for _ in range(20):
        assert _variant(srv.url, body) == "main"

    def counted() -> bool:
        shadows = HTTP.get(f"{srv.url}/deployment").json()["shadows"]
        return (
            shadows.get("copy", {}).get("requests") == 20
            and shadows.get("bad", {}).get("errors") == 20
        )

    _until(counted)
    shadows = HTTP.get(f"{srv.url}/deployment").json()["shadows"]
    assert shadows["copy"]["agreement"] == 1.0
    # The log keeps each shadow's answer beside the primary's: status reads it from there.
    _until(lambda: summary(workspace, "sh")["shadows"].get("bad", {}).get("errors") == 20)
    logged = summary(workspace, "sh")
    assert logged["variants"]["main"]["requests"] == 20
    assert logged["shadows"]["copy"] == {
        **logged["shadows"]["copy"],
        "requests": 20,
        "agreement": 1.0,
    }
    assert logged["shadows"]["ones"]["agreement"] == 0.0  # the row is malignant; ones says 1
    text = CliRunner().invoke(app, ["deployments", "status", "sh"]).stdout
    assert "Shadows" in text and "100.0%" in text


def test_status_shows_the_ab_test_and_its_winner(
    models: Trained, serve: Callable[[str], RunningServer], workspace: Workspace
) -> None:
    apply(
        workspace,
        {
            "name": "ab",
            "strategy": "ab",
            "ab": {"weights": {"a": 50, "b": 50}},
            "variants": {"a": {"model": "churn@champion"}, "b": {"model": "churn@challenger"}},
        },
    )
    srv = serve("ab")
    body = _row(models)
    seen: Counter[str] = Counter()
    for i in range(240):
        r = HTTP.post(f"{srv.url}/predict", json=body, headers={"x-podium-key": f"user-{i}"})
        variant = r.json()["variant"]
        seen[variant] += 1
        good = seen[variant] % 10 < (8 if variant == "a" else 3)  # a converts 80%, b 30%
        HTTP.post(
            f"{srv.url}/feedback",
            json={"prediction_id": r.json()["prediction_id"], "reward": float(good)},
        )
    _until(lambda: summary(workspace, "ab")["variants"]["b"]["feedback"] == seen["b"])
    s = summary(workspace, "ab")
    assert {v: s["variants"][v]["requests"] for v in "ab"} == dict(seen)
    sig = s["significance"]
    assert sig["winner"] == "a" and sig["p_value"] < 1e-6, sig
    text = CliRunner().invoke(app, ["deployments", "status", "ab"]).stdout
    assert "winner a" in text


def test_predictions_are_logged_and_feedback_joins_them(
    models: Trained, serve: Callable[[str], RunningServer], workspace: Workspace
) -> None:
    deploy_model(workspace, "churn@champion", "logged")
    srv = serve("logged")
    ids = []
    for i in range(5):
        r = HTTP.post(f"{srv.url}/predict", json=_row(models), headers={"x-request-id": f"p{i}"})
        ids.append(r.json()["prediction_id"])
    r = HTTP.post(
        f"{srv.url}/feedback",
        json=[{"prediction_id": "p0", "label": 0}, {"prediction_id": "p1", "reward": 1.0}],
    )
    assert r.status_code == 202 and r.json() == {"accepted": 2}
    store = workspace.store.predictions
    _until(
        lambda: (
            len(store.recent("logged")) == 5
            and sum(p["feedback"] is not None for p in store.recent("logged")) == 2
        )
    )
    logged = {p["id"]: p for p in store.recent("logged")}
    assert logged["p0"]["variant"] == "main" and logged["p0"]["model_version"] == "models:/churn/1"
    assert len(logged["p0"]["inputs"][0]) == 30 and logged["p0"]["outputs"]["predictions"] == [0]
    assert {k: logged["p0"]["feedback"][k] for k in ("label", "reward")} == {
        "label": 0,
        "reward": None,
    }
    assert logged["p1"]["feedback"]["reward"] == 1.0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"reward": 1}, "feedback[0].prediction_id"),
        ({"prediction_id": "x"}, "feedback[0]"),
        ({"prediction_id": "x", "reward": "high"}, "feedback[0].reward"),
        ({"prediction_id": "x", "reward": 1, "extra": 2}, "feedback[0].extra"),
        ([], "body"),
    ],
)
def test_bad_feedback_is_a_422_naming_the_field(
    models: Trained,
    serve: Callable[[str], RunningServer],
    workspace: Workspace,
    body: Any,
    field: str,
) -> None:
    deploy_model(workspace, "churn@champion", "fb")
    r = HTTP.post(f"{serve('fb').url}/feedback", json=body)
    assert r.status_code == 422 and r.json()["field"] == field


def test_bandit_rewards_shift_traffic_and_survive_a_restart(
    models: Trained, serve: Callable[[str], RunningServer], workspace: Workspace
) -> None:
    apply(
        workspace,
        {
            "name": "bandit",
            "strategy": "bandit",
            "variants": {"good": {"model": "churn@champion"}, "bad": {"model": "churn@challenger"}},
        },
    )
    srv = serve("bandit")
    body = _row(models)
    for i in range(300):
        r = HTTP.post(f"{srv.url}/predict", json=body, headers={"x-request-id": f"b{i}"})
        variant = r.json()["variant"]
        reward = 1.0 if (variant == "good") == (i % 10 < 8) else 0.0  # good 0.8, bad 0.2
        HTTP.post(f"{srv.url}/feedback", json={"prediction_id": f"b{i}", "reward": reward})
        if i % 50 == 49:
            time.sleep(0.3)  # let a flush fold the rewards in and the router catch up
    _until(
        lambda: (
            sum(
                a["pulls"] for a in workspace.store.deployments.get("bandit").state["arms"].values()
            )
            >= 290
        )
    )
    arms = workspace.store.deployments.get("bandit").state["arms"]
    assert arms["good"]["pulls"] > arms["bad"]["pulls"]
    restarted = serve("bandit")  # a second server starts from the stored counts
    later = Counter(_variant(restarted.url, body) for _ in range(100))
    assert later["good"] > 70


def _canary(workspace: Workspace, candidate: str) -> None:
    apply(
        workspace,
        {
            "name": "auto",
            "strategy": "canary",
            "canary": {"steps": [30, 100], "min_duration_s": 0, "min_requests": 15},
            "variants": {"stable": {"model": "churn@champion"}, "candidate": {"model": candidate}},
        },
    )


def _traffic(url: str, body: Any, n: int) -> Counter[int]:
    return Counter(HTTP.post(f"{url}/predict", json=body).status_code for _ in range(n))


def test_a_good_canary_is_promoted_step_by_step(
    models: Trained, serve: Callable[[str], RunningServer], workspace: Workspace
) -> None:
    from podium.deploy.controller import canary_step

    _canary(workspace, "churn/1")  # the same model: every gate passes
    srv = serve("auto")
    body = _row(models)
    assert canary_step(workspace, "auto").action == "wait"  # no traffic yet
    assert _traffic(srv.url, body, 120) == {200: 120}
    _until(lambda: len(workspace.store.predictions.recent("auto")) == 120)
    first = canary_step(workspace, "auto")
    assert first is not None and (first.action, first.percent) == ("advance", 100)
    _until(lambda: all(_variant(srv.url, body) == "candidate" for _ in range(5)))
    _traffic(srv.url, body, 40)
    _until(lambda: len(workspace.store.predictions.recent("auto")) >= 165)
    final = canary_step(workspace, "auto")
    assert final is not None and final.action == "promote", final
    history = workspace.store.deployments.history("auto")
    assert [e.kind for e in history][:2] == ["promote", "advance"]
    advance = {g["gate"]: g["passed"] for g in history[1].detail["decision"]["gates"]}
    assert advance == {"error_rate": True, "p99_latency": True, "prediction_drift": True}
    assert all(g["passed"] for g in history[0].detail["decision"]["gates"])


def test_a_failing_canary_is_rolled_back_automatically(
    models: Trained, serve: Callable[[str], RunningServer], workspace: Workspace
) -> None:
    from podium.deploy.controller import canary_step

    _canary(workspace, "fragile/1")  # every served prediction raises
    srv = serve("auto")
    body = _row(models)
    codes = _traffic(srv.url, body, 150)
    assert codes[500] >= 15 and codes[200] >= 60  # the candidate's share failed
    _until(lambda: len(workspace.store.predictions.recent("auto")) == 150)
    decision = canary_step(workspace, "auto")
    assert decision is not None and decision.action == "rollback"
    assert "error rate" in decision.reason
    _until(lambda: _traffic(srv.url, body, 30) == {200: 30})  # all back on stable
    assert workspace.store.deployments.get("auto").state["status"] == "rolled_back"
    assert podium.Client().audit(target="deployments:/auto")[0].action == "deployment.rollback"


def test_flags_change_at_run_time_without_a_redeploy(
    models: Trained, serve: Callable[[str], RunningServer], workspace: Workspace
) -> None:
    from typer.testing import CliRunner

    from podium.cli.main import app
    from podium.deploy import set_flag

    apply(
        workspace,
        {
            "name": "fl2",
            "strategy": "flags",
            "flags": {
                "default": "current",
                "flags": [
                    {
                        "name": "eu",
                        "variant": "next",
                        "rules": [{"attribute": "country", "op": "in", "value": ["FR"]}],
                    }
                ],
            },
            "variants": {
                "current": {"model": "churn@champion"},
                "next": {"model": "churn@challenger"},
            },
        },
    )
    srv = serve("fl2")
    body = _row(models)
    fr = {"x-podium-attr-country": "FR", "x-podium-key": "user-1"}
    assert _variant(srv.url, body, **fr) == "next"
    revision = workspace.store.deployments.get("fl2").revision
    set_flag(workspace, "fl2", "eu", kill=True)
    _until(lambda: _variant(srv.url, body, **fr) == "current")
    r = CliRunner().invoke(app, ["flags", "set", "fl2", "eu", "--revive", "--percent", "100"])
    assert r.exit_code == 0, r.output
    _until(lambda: _variant(srv.url, body, **fr) == "next")
    assert workspace.store.deployments.get("fl2").revision == revision  # no redeploy
    r = CliRunner().invoke(app, ["flags", "get", "fl2", "eu"])
    assert r.exit_code == 0 and '"kill": false' in r.stdout
    r = CliRunner().invoke(app, ["flags", "set", "fl2", "nope", "--kill"])
    assert r.exit_code == 1 and "has no flag 'nope'" in r.stderr


def test_a_flag_switches_a_pipeline_step_per_request(
    models: Trained, serve: Callable[[str], RunningServer], workspace: Workspace
) -> None:
    import copy

    from podium.deploy import set_flag

    apply(
        workspace,
        {
            "name": "steps",
            "strategy": "flags",
            "flags": {
                "default": "main",
                "flags": [
                    {
                        "name": "scaling",
                        "step": "s",  # the StandardScaler of the churn pipeline
                        "rules": [{"attribute": "country", "op": "eq", "value": "FR"}],
                    }
                ],
            },
            "variants": {"main": {"model": "churn@champion"}},
        },
    )
    srv = serve("steps")
    unscaled = copy.copy(models.model).set_params(s="passthrough")
    X = models.X.iloc[:100]
    with_step = models.model.predict_proba(X)[:, 0]
    without = unscaled.predict_proba(X.to_numpy())[:, 0]
    i = int(abs(with_step - without).argmax())  # a row on which the step matters
    assert abs(with_step[i] - without[i]) > 0.1
    body = {"records": [{k: float(v) for k, v in X.iloc[i].items()}]}

    def proba(**headers: str) -> float:
        r = HTTP.post(f"{srv.url}/predict", json=body, headers=headers)
        assert r.status_code == 200, r.text
        # Skipping a pipeline step needs the scikit-learn model, whatever the flavor asked.
        assert r.headers["x-podium-flavor"] == "sklearn"
        return float(r.json()["probabilities"][0][0])

    assert proba(**{"x-podium-attr-country": "FR"}) == pytest.approx(with_step[i], abs=1e-12)
    assert proba(**{"x-podium-attr-country": "US"}) == pytest.approx(without[i], abs=1e-12)
    set_flag(workspace, "steps", "scaling", kill=True)  # the step is off for everyone
    _until(lambda: proba(**{"x-podium-attr-country": "FR"}) == pytest.approx(without[i], abs=1e-12))
    assert models.model.named_steps["s"] is not None  # the served model was never mutated


def test_a_flag_needs_a_variant_or_a_step(workspace: Workspace) -> None:
    from podium.core.errors import ValidationError

    spec = {
        "name": "bad",
        "strategy": "flags",
        "flags": {"default": "main", "flags": [{"name": "x"}]},
        "variants": {"main": {"model": "churn/1"}},
    }
    with pytest.raises(ValidationError, match=r"flags.flags\[0\]: give either variant"):
        apply(workspace, spec)
