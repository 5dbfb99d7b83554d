"""One real store and real servers for the dashboard's browser tests, built once a session.

The store holds the quickstart's pipeline (run twice: the second run reuses cached steps),
a data version read by a pipeline that registers a challenger, a pipeline whose step fails
after a retry, schedules, tokens, and deployments: a canary, a bandit and a shadow served by
real model servers on loopback under traffic (with labels), and a flags deployment. The
dashboard is served twice over it: auth off, and auth on.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest

from podium.core.settings import Settings
from podium.workspace import Workspace

CHROMIUM = os.environ.get("PODIUM_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).parents[1] / "artifacts" / "ui"
CANARY, BANDIT, SHADOW, FLAGS = "cancer-canary", "cancer-bandit", "cancer-shadow", "cancer-flags"
DRIFTED = ("mean radius", "mean texture")


def _skip_or_fail(reason: str) -> None:
    if os.environ.get("PODIUM_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason}, and PODIUM_REQUIRE_SERVICES=1 requires it.")
    pytest.skip(f"{reason} (set PODIUM_REQUIRE_SERVICES=1 to make this a failure).")


@dataclass
class Stack:
    home: Path
    ws: Workspace
    url: str  # the dashboard, auth off
    auth_url: str  # the dashboard, auth on
    model_url: str  # the canary's model server
    runs: dict[str, str]
    tokens: dict[str, str]
    traffic: Traffic

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PODIUM_")}
        return {**env, "PODIUM_HOME": str(self.home)}


class Traffic:
    """Requests to a deployment's model server, with a label for every other answer."""

    def __init__(self, url: str, rows: list[dict[str, float]], labels: list[int]) -> None:
        self.http = httpx.Client(base_url=url, timeout=10)
        self.rows, self.labels = rows, labels
        self.stop = threading.Event()
        self.sent = 0
        # Its own generator: Hypothesis, in other tests of this process, watches the global one.
        self.random = random.Random(11)

    def send(
        self, n: int, *, drift: bool = False, reward: Callable[[str], float] | None = None
    ) -> None:
        for _ in range(n):
            i = self.random.randrange(len(self.rows))
            row = dict(self.rows[i])
            if drift:
                row[DRIFTED[0]] *= 1.6
                row[DRIFTED[1]] += 6.0
            answer = self.http.post("/predict", json={"records": [row]})
            self.sent += 1
            if answer.status_code != 200:
                continue
            body = answer.json()
            if reward is not None:
                item: dict[str, Any] = {"prediction_id": body["prediction_id"]}
                item["reward"] = reward(body["variant"])
                self.http.post("/feedback", json=item)
            elif self.sent % 2 == 0:
                label = self.labels[i]
                self.http.post(
                    "/feedback", json={"prediction_id": body["prediction_id"], "label": label}
                )

    def run_background(self, every_s: float = 0.1) -> threading.Thread:
        self.stop.clear()

        def loop() -> None:
            while not self.stop.wait(every_s):
                with contextlib.suppress(httpx.HTTPError):
                    self.send(1, drift=True)

        thread = threading.Thread(target=loop, daemon=True, name="ui-traffic")
        thread.start()
        return thread


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    from sklearn.datasets import load_breast_cancer
    from tests.ui import ui_pipelines as up

    from podium.client import Client
    from podium.demos import quickstart_pipeline as qp
    from podium.serving import create_deployment_app, start_in_thread
    from podium.ui import create_app
    from podium.watch.monitor import Monitor

    home = tmp_path_factory.mktemp("dashboard") / ".podium"
    ws = Workspace(Settings.at(home))
    client = Client(workspace=ws)
    runs = {}
    runs["quickstart"] = qp.training.run(workspace=ws).id
    runs["quickstart-cached"] = qp.training.run(workspace=ws, trigger="schedule").id
    frame = load_breast_cancer(as_frame=True).frame
    client.register_data(frame, "cancer-features")
    runs["challenger"] = up.challenger.run(workspace=ws, trigger="event").id
    runs["failed"] = up.flaky.run(workspace=ws, raise_on_failure=False).id
    runs["failed-cached"] = up.flaky.run(
        workspace=ws, raise_on_failure=False, trigger="schedule"
    ).id
    client.add_schedule("tests.ui.ui_pipelines:flaky", name="nightly-scoring", every="1h")
    client.add_schedule(
        "tests.ui.ui_pipelines:challenger", name="retrain-on-drift", on_event="drift-detected"
    )
    tokens = {role: client.create_token(f"ui-{role}", role)[1] for role in ("viewer", "operator")}
    variants = {
        "stable": {"model": f"models:/{up.MODEL}@champion"},
        "candidate": {"model": f"models:/{up.MODEL}@challenger"},
    }
    client.deploy(
        {
            "name": CANARY,
            "strategy": "canary",
            "variants": variants,
            "canary": {
                "steps": [20, 50, 100],
                "min_requests": 40,
                "min_duration_s": 3600,
                "max_wait_s": 86_400,
            },
            "monitoring": {
                "window": {"rows": 2000},
                "drift": {"min_samples": 50},
                "alerts": [
                    {
                        "name": "traffic-seen",
                        "figure": "health.requests",
                        "op": ">",
                        "threshold": 10,
                        "severity": "info",
                    },
                    {
                        "name": "inputs-drifted",
                        "figure": "drift.share",
                        "op": ">=",
                        "threshold": 0.05,
                        "severity": "critical",
                    },
                ],
            },
        }
    )
    client.deploy({"name": BANDIT, "strategy": "bandit", "variants": variants})
    client.deploy(
        {
            "name": SHADOW,
            "strategy": "shadow",
            "variants": variants,
            "shadow": {"primary": "stable", "shadows": ["candidate"]},
        }
    )
    client.deploy(
        {
            "name": FLAGS,
            "strategy": "flags",
            "variants": variants,
            "flags": {
                "default": "stable",
                "flags": [
                    {
                        "name": "candidate-eu",
                        "variant": "candidate",
                        "percent": 20,
                        "rules": [{"attribute": "country", "op": "in", "value": ["FR", "DE"]}],
                    },
                ],
            },
        }
    )
    X = frame.drop(columns="target")
    rows = [{k: float(v) for k, v in r.items()} for r in X.to_dict(orient="records")]
    labels = [int(v) for v in frame["target"]]
    servers = [
        start_in_thread(create_deployment_app(n, workspace=ws, poll_s=0.5))
        for n in (CANARY, BANDIT, SHADOW)
    ]
    canary = Traffic(servers[0].url, rows, labels)
    canary.send(200)
    canary.send(200, drift=True)
    bandit = Traffic(servers[1].url, rows, labels)
    coin = random.Random(7)
    bandit.send(150, reward=lambda v: 1.0 if v == "stable" or coin.random() < 0.3 else 0.0)
    shadow = Traffic(servers[2].url, rows, labels)
    shadow.send(60)
    shadow.http.close()
    _until(lambda: len(ws.store.predictions.recent(CANARY)) >= 400)
    Monitor(ws, names=[CANARY]).once()
    ui = start_in_thread(create_app(ws))
    ui_auth = start_in_thread(create_app(ws, auth=True))
    yield Stack(home, ws, ui.url, ui_auth.url, servers[0].url, runs, tokens, canary)
    for srv in (ui, ui_auth, *servers):
        srv.stop()
    for t in (canary, bandit):
        t.http.close()
    ws.close()


@pytest.fixture
def live_traffic(stack: Stack) -> Iterator[Traffic]:
    """Requests flowing to the canary (ten a second) for the length of one test."""
    thread = stack.traffic.run_background()
    yield stack.traffic
    stack.traffic.stop.set()
    thread.join(timeout=5)


def _until(check: Callable[[], bool], timeout: float = 20) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless, driven by Playwright (no browser download).

    Module-scoped: Playwright's sync API marks an event loop as running in this thread
    while it is open, so tests of other modules that call ``asyncio.run`` on the same
    xdist worker must not find it still open."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        _skip_or_fail(f"playwright cannot be imported ({exc}); pip install playwright")
    if not (shutil.which(CHROMIUM) or Path(CHROMIUM).exists()):
        _skip_or_fail(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        yield browser
        browser.close()


@dataclass
class Watched:
    """A page with what it did: requests to other hosts, console errors, failed loads."""

    page: Any
    base: str
    outside: list[str]
    errors: list[str]

    def open(self, route: str) -> Any:
        self.page.goto(f"{self.base}/#{route}")
        return self.page

    def shot(self, name: str, *, full_page: bool = True) -> None:
        self.page.wait_for_load_state("networkidle")
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full_page)

    def check(self, allowed: tuple[str, ...] = ()) -> None:
        """No request left 127.0.0.1, and the console shows no error (but ``allowed``:
        the refusals a test provokes on purpose)."""
        assert self.outside == [], f"requests left 127.0.0.1: {self.outside}"
        errors = [e for e in self.errors if not any(a in e for a in allowed)]
        assert errors == [], f"console errors: {errors}"


def watched_page(browser: Any, base: str) -> Iterator[Watched]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    outside: list[str] = []
    errors: list[str] = []

    def guard(route: Any) -> None:
        host = urlparse(route.request.url).hostname
        if host != "127.0.0.1":
            outside.append(route.request.url)
            route.abort()
        else:
            route.continue_()

    context.route("**/*", guard)
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
    yield Watched(page, base, outside, errors)
    context.close()


@pytest.fixture
def ui(stack: Stack, browser: Any) -> Iterator[Watched]:
    """A fresh browser tab on the dashboard without auth."""
    yield from watched_page(browser, stack.url)


@pytest.fixture
def ui_auth(stack: Stack, browser: Any) -> Iterator[Watched]:
    """A fresh browser tab on the dashboard with auth on (not signed in yet)."""
    yield from watched_page(browser, stack.auth_url)
