"""The dashboard's side of the control API over real HTTP: its files (GET and HEAD),
signing in with a cookie (HttpOnly, SameSite=Strict, Secure off loopback), CSRF refusals,
the figures only the dashboard asks for (a deployment over time, its rollout), and the
lists it pages through (runs by trigger, data versions and audit records by offset)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pandas as pd
import pytest
from tests.conftest import Trained

import podium
from podium.client.remote import RemoteClient
from podium.core.clock import utcnow
from podium.core.errors import ValidationError
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
        ("/runs?trigger=cron", 422, "trigger"),
        ("/runs?trigger=manual:alice", 422, "trigger"),
        ("/runs?trigger=schedule:", 422, "trigger"),
        ("/runs?trigger=Schedule", 422, "trigger"),
        ("/data?offset=-1", 422, "offset"),
        ("/data?offset=ten", 422, "offset"),
        ("/audit?offset=-5", 422, "offset"),
    ],
)
def test_bad_dashboard_requests_are_clear_errors(
    server: RunningServer, path: str, status: int, field: str | None
) -> None:
    answer = httpx.get(server.url + API + path)
    assert answer.status_code == status
    body = answer.json()
    assert body["error"] and body.get("field") == field and body["hint"]
    if status == 404:
        assert "Known deployments" in body["error"] or body["hint"]
    if field is not None:
        assert field in body["error"]
    if field == "trigger":
        assert "manual, schedule, event" in body["error"]
        assert "schedule:nightly" in body["hint"]


def test_runs_filter_by_trigger_kind_or_one_schedule_locally_and_remotely(
    canary: Workspace, server: RunningServer
) -> None:
    runs = canary.store.runs
    started = {
        trigger: runs.create("etl", {}, steps=[], trigger=trigger).id
        for trigger in ("manual", "schedule:nightly", "schedule:hourly", "event:drift", "retrain")
    }
    runs.finish(started["schedule:hourly"], "failed", "boom")
    with httpx.Client(base_url=server.url + API) as http:

        def ids(**params: str) -> set[str]:
            answer = http.get("/runs", params=params)
            assert answer.status_code == 200, answer.text
            return {r["id"] for r in answer.json()["items"]}

        assert ids() == set(started.values())
        assert ids(trigger="schedule") == {started["schedule:nightly"], started["schedule:hourly"]}
        assert ids(trigger="schedule:nightly") == {started["schedule:nightly"]}
        assert ids(trigger="schedule", status="failed") == {started["schedule:hourly"]}
        assert ids(trigger="event") == {started["event:drift"]}
        assert ids(trigger="manual", pipeline="etl") == {started["manual"]}
        assert ids(trigger="check") == set()
        two = http.get("/runs", params={"trigger": "schedule", "limit": 1}).json()
        assert two["next_offset"] == 1
        rest = http.get("/runs", params={"trigger": "schedule", "limit": 1, "offset": 1})
        assert rest.json()["next_offset"] is None
    remote = RemoteClient(server.url)
    local = podium.Client(workspace=canary)
    assert remote.list_runs(trigger="schedule") == local.list_runs(trigger="schedule")
    with pytest.raises(ValidationError) as there:
        remote.list_runs(trigger="nightly")
    with pytest.raises(ValidationError) as here:
        local.list_runs(trigger="nightly")
    assert (there.value.message, there.value.field) == (here.value.message, "trigger")


def test_data_versions_and_audit_records_page_with_offset(
    canary: Workspace, server: RunningServer
) -> None:
    client = podium.Client(workspace=canary)
    for i in range(5):
        client.register_data(pd.DataFrame({"x": [i, i + 1]}), "events")
    with httpx.Client(base_url=server.url + API) as http:
        every = [d["version"] for d in http.get("/data", params={"name": "events"}).json()]
        assert every == [5, 4, 3, 2, 1]
        pages = [
            [d["version"] for d in http.get("/data", params={"limit": 2, "offset": o}).json()]
            for o in (0, 2, 4, 6)
        ]
        assert pages == [[5, 4], [3, 2], [1], []]

        log = http.get("/audit", params={"limit": 1000}).json()
        assert len(log) > 6  # the canary's deployment, its models and the data versions
        paged = [
            r["id"]
            for o in range(0, len(log), 4)
            for r in http.get("/audit", params={"limit": 4, "offset": o}).json()
        ]
        assert paged == [r["id"] for r in log]
        data = http.get("/audit", params={"target_prefix": "data:/events/", "offset": 1}).json()
        assert [r["target"] for r in data] == [f"data:/events/{v}" for v in (4, 3, 2, 1)]
        models = http.get("/audit", params={"target_prefix": "models:/churn"}).json()
        assert models and all(r["target"].startswith("models:/churn") for r in models)
    local = client.audit(target_prefix="data:/events/", limit=2, offset=3)
    assert [r.target for r in local] == ["data:/events/2", "data:/events/1"]
    remote = RemoteClient(server.url)
    assert remote.audit(target_prefix="data:/events/", limit=2, offset=3) == local
    assert [d.version for d in remote.list_data("events", limit=2, offset=1)] == [4, 3]


def test_head_answers_the_dashboards_page_and_files_as_get_without_a_body(
    server: RunningServer,
) -> None:
    with httpx.Client(base_url=server.url) as http:
        for path in ("/", "/ui/js/main.js", "/ui/app.css"):
            got, head = http.get(path), http.head(path)
            assert head.status_code == 200 == got.status_code, path
            assert head.content == b""
            assert head.headers["content-type"] == got.headers["content-type"]
            assert head.headers["content-length"] == str(len(got.content))
        assert "script-src 'self'" in http.head("/").headers["content-security-policy"]
        assert http.head("/ui/js/nope.js").status_code == 404
        refused = http.post("/")
        assert refused.status_code == 405 and "HEAD" in refused.headers["allow"]


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
