"""The dashboard's side of the control API over real HTTP: its files, signing in with a
cookie (HttpOnly, SameSite=Strict, Secure off loopback), CSRF refusals, and the figures
only the dashboard asks for (a deployment over time, its rollout)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from tests.conftest import Trained

import podium
from podium.core.clock import utcnow
from podium.serving.server import RunningServer, start_in_thread
from podium.ui import create_app
from podium.workspace import Workspace

API = "/api/v1"


@pytest.fixture
def canary(sqlite_workspace: Workspace, trained: Trained) -> Workspace:
    """A canary over two versions, with 60 logged predictions (a few failed)."""
    ws = sqlite_workspace
    for alias in ("champion", "challenger"):
        podium.register_model(trained.model, "churn", input_example=trained.X[:5], alias=alias)
    client = podium.Client(workspace=ws)
    client.deploy(
        {
            "name": "web",
            "strategy": "canary",
            "canary": {"steps": [25, 100], "min_requests": 5, "min_duration_s": 3600},
            "variants": {
                "stable": {"model": "churn@champion"},
                "candidate": {"model": "churn@challenger"},
            },
        }
    )
    start = utcnow()  # after the deployment began: the canary analysis counts them
    rows = [
        {
            "id": f"p{i}",
            "at": start + timedelta(seconds=6 * i),
            "deployment": "web",
            "variant": "candidate" if i % 4 == 0 else "stable",
            "model_version": "models:/churn/2" if i % 4 == 0 else "models:/churn/1",
            "inputs": [],
            "outputs": {"error": "boom"} if i % 20 == 0 else {"predictions": [1]},
            "latency_ms": 1.0 + i % 5,
        }
        for i in range(60)
    ]
    ws.store.predictions.write(rows, [])
    return ws


@pytest.fixture
def server(canary: Workspace) -> Iterator[RunningServer]:
    running = start_in_thread(create_app(canary))
    yield running
    running.stop()


@pytest.fixture
def auth_server(canary: Workspace) -> Iterator[RunningServer]:
    running = start_in_thread(create_app(canary, auth=True))
    yield running
    running.stop()


def test_the_dashboard_and_its_files_are_served_with_a_strict_policy(
    server: RunningServer,
) -> None:
    with httpx.Client(base_url=server.url) as http:
        page = http.get("/")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        policy = page.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "default-src 'self'" in policy
        assert '<script type="module" src="/ui/js/main.js">' in page.text
        script = http.get("/ui/js/main.js")
        assert script.status_code == 200 and "javascript" in script.headers["content-type"]
        assert script.headers["x-content-type-options"] == "nosniff"
        assert "http://" not in script.text and "https://" not in script.text
        missing = http.get("/ui/js/nope.js")
        assert missing.status_code == 404 and missing.json()["type"] == "NotFoundError"


def test_no_asset_names_another_host() -> None:
    from podium.ui import STATIC

    for path in STATIC.rglob("*"):
        if path.is_file():
            text = path.read_text()
            assert "https://" not in text and "//cdn" not in text, path
            assert "http://" not in text or "http://www.w3.org/2000/svg" in text, path


def test_signing_in_sets_an_httponly_strict_cookie_that_the_guard_accepts(
    canary: Workspace, auth_server: RunningServer
) -> None:
    client = podium.Client(workspace=canary)
    _, viewer = client.create_token("alice", "viewer")
    _, operator = client.create_token("bob", "operator")
    with httpx.Client(base_url=auth_server.url + API) as http:
        assert http.get("/session").json() == {
            "auth": True,
            "signed_in": False,
            "name": None,
            "role": None,
        }
        assert http.get("/models").status_code == 401
        bad = http.post("/session", json={"token": "pod_wrong"})
        assert bad.status_code == 401 and bad.json()["type"] == "AuthenticationError"
        assert http.post("/session", json={"token": viewer, "tokn": 1}).json()["field"] == "tokn"
        signed = http.post("/session", json={"token": viewer})
        assert signed.json() == {"auth": True, "signed_in": True, "name": "alice", "role": "viewer"}
        cookie = signed.headers["set-cookie"]
        assert "podium_session=pod_" in cookie and "HttpOnly" in cookie
        assert "SameSite=strict" in cookie and "Secure" not in cookie  # loopback
        assert http.get("/models").status_code == 200  # the cookie, no bearer header
        assert http.get("/session").json()["name"] == "alice"
        refused = http.post("/deployments/web/pause")
        assert refused.status_code == 403 and "x-podium-csrf" in refused.json()["error"]
        low = http.post("/deployments/web/pause", headers={"x-podium-csrf": "1"})
        assert low.status_code == 403 and "has role viewer" in low.json()["error"]
        http.post("/session", json={"token": operator})
        ok = http.post("/deployments/web/pause", headers={"x-podium-csrf": "1"})
        assert ok.status_code == 200 and ok.json()["status"] == "paused"
        [record] = client.audit(action="deployment.paused")
        assert record.actor == "bob"
        out = http.delete("/session")
        assert (
            'podium_session=""' in out.headers["set-cookie"]
            or "Max-Age=0" in out.headers["set-cookie"]
        )
        assert http.get("/models").status_code == 401


def test_the_cookie_is_secure_unless_on_loopback_or_insecure(canary: Workspace) -> None:
    _, secret = podium.Client(workspace=canary).create_token("carol", "viewer")
    running = start_in_thread(create_app(canary, auth=True, secure_cookies=True))
    try:
        answer = httpx.post(f"{running.url}{API}/session", json={"token": secret})
        assert "Secure" in answer.headers["set-cookie"]
    finally:
        running.stop()


def test_a_change_from_another_sites_page_is_refused_even_without_auth(
    server: RunningServer,
) -> None:
    with httpx.Client(base_url=server.url + API) as http:
        host = server.url.removeprefix("http://")
        evil = http.post("/deployments/web/pause", headers={"origin": "https://evil.example"})
        assert evil.status_code == 403 and "evil.example" in evil.json()["error"]
        assert evil.json()["hint"]
        same = http.post("/deployments/web/pause", headers={"origin": f"http://{host}"})
        assert same.status_code == 200
        assert http.get("/deployments/web", headers={"origin": "https://x.example"}).is_success


def test_the_timeline_splits_traffic_errors_and_latency_by_time(server: RunningServer) -> None:
    with httpx.Client(base_url=server.url + API) as http:
        tl = http.get("/dashboard/deployments/web/timeline", params={"buckets": 6}).json()
    assert tl["desired"] == {"stable": 75.0, "candidate": 25.0}
    assert tl["requests"] == 60 and len(tl["buckets"]) == 6
    assert sum(b["requests"] for b in tl["buckets"]) == 60
    first = tl["buckets"][0]
    assert first["variants"]["candidate"] + first["variants"]["stable"] == first["requests"]
    assert sum(b["errors"] for b in tl["buckets"]) == 3
    assert all(b["p50_ms"] is not None for b in tl["buckets"])


def test_the_rollout_shows_the_canary_step_and_each_gate(server: RunningServer) -> None:
    with httpx.Client(base_url=server.url + API) as http:
        r = http.get("/dashboard/deployments/web/rollout").json()
        c = r["canary"]
        assert (c["steps"], c["step"], c["status"]) == ([25, 100], 0, "progressing")
        analysis = c["analysis"]
        assert analysis["action"] in ("wait", "rollback")
        assert {g["gate"] for g in analysis["gates"]} >= {"error_rate"}
        http.post("/deployments/web/promote")
        after = http.get("/dashboard/deployments/web/rollout").json()
        assert after["canary"]["status"] == "promoted" and after["canary"]["analysis"] is None


@pytest.mark.parametrize(
    ("path", "status", "field"),
    [
        ("/dashboard/deployments/web/timeline?buckets=0", 422, "buckets"),
        ("/dashboard/deployments/web/timeline?rows=many", 422, "rows"),
        ("/dashboard/deployments/nope/timeline", 404, None),
        ("/dashboard/deployments/nope/rollout", 404, None),
    ],
)
def test_bad_dashboard_requests_are_clear_errors(
    server: RunningServer, path: str, status: int, field: str | None
) -> None:
    answer = httpx.get(server.url + API + path)
    assert answer.status_code == status
    body = answer.json()
    assert body["error"] and body.get("field") == field
    if status == 404:
        assert "Known deployments" in body["error"] or body["hint"]


def test_podium_ui_starts_the_server_and_prints_the_address(tmp_path: Path) -> None:
    from podium.demos.quickstart import free_port

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PODIUM_")}
    env["PODIUM_HOME"] = str(tmp_path / ".podium")
    proc = subprocess.Popen(
        [sys.executable, "-m", "podium", "ui", "--port", str(port)],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        assert f"podium dashboard at http://localhost:{port}/" in line
        deadline = time.monotonic() + 30
        while True:
            try:
                page = httpx.get(f"http://127.0.0.1:{port}/")
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        assert page.status_code == 200 and "podium" in page.text
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stderr is not None:
            proc.stderr.close()
