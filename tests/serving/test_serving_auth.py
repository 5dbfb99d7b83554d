"""Tokens and roles on real servers: every route of the OpenAPI documents of the model
server, the deployment server and the control API, with every role."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.conftest import Trained
from typer.testing import CliRunner

import podium
from podium.api import create_control_app
from podium.auth import Authenticator
from podium.client import Client
from podium.client.remote import RemoteClient
from podium.core.errors import ConfigError, PermissionDeniedError
from podium.deploy import deploy_model
from podium.serving import create_app, create_deployment_app, protect, start_in_thread
from podium.serving.server import check_bind
from podium.workspace import Workspace

ROLES = ("viewer", "predictor", "operator", "admin")
RANK = {None: 0, **{r: i + 1 for i, r in enumerate(ROLES)}}
# What the tests expect, stated apart from the implementation's table: a route the
# OpenAPI document lists and this does not classify fails the walk.
OPEN_GETS = {"/openapi.json", "/v2/health/live", "/v2/health/ready", "/ping"}
PREDICT_POSTS = {
    "/predict",
    "/invocations",
    "/feedback",
    "/v2/models/{name}/infer",
    "/v2/models/{name}/versions/{version}/infer",
}
# The control API, by the table in podium.api.roles' docstring (README: "Tokens and roles").
CONTROL_OPEN_GETS = {"/openapi.json", "/api/v1/health"}
CONTROL_ADMIN = ("/api/v1/tokens", "/api/v1/policies")  # tokens: even to list them
TTL_S = 0.2
CALLERS = (None, *ROLES, "revoked", "expired", "made-up")


@dataclass
class Guarded:
    url: str
    name: str  # the {name} in /v2/models/{name}/...; every path parameter on the control API
    secrets: dict[str, str]  # role (or "revoked", "expired") -> secret
    client: Client
    authenticator: Authenticator
    bodies: dict[str, Any]


def _bodies(client: Client, trained: Trained) -> dict[str, Any]:
    example = client.get_version("cancer@champion").input_example
    assert example is not None
    columns, row = example["columns"], example["data"][0]
    tensor = {"name": "input-0", "shape": [1, len(row)], "datatype": "FP64", "data": row}
    return {
        "/predict": {"records": [dict(zip(columns, row, strict=True))]},
        "/invocations": {"dataframe_split": {"columns": columns, "data": [row]}},
        "/feedback": {"prediction_id": "p-1", "reward": 1.0},
        "infer": {"inputs": [tensor]},
    }


@pytest.fixture(scope="module")
def guarded(
    tmp_path_factory: pytest.TempPathFactory, trained: Trained
) -> Iterator[dict[str, Guarded]]:
    """A model server and a deployment server with tokens required, one token per role."""
    client = Client(home=tmp_path_factory.mktemp("auth"))
    client.register_model(trained.model, "cancer", input_example=trained.X[:3], alias="champion")
    deploy_model(client.workspace, "models:/cancer@champion", "churn")
    secrets = {role: client.create_token(f"t-{role}", role)[1] for role in ROLES}
    secrets["revoked"] = client.create_token("t-revoked", "admin")[1]
    client.revoke_token("t-revoked")
    secrets["expired"] = client.create_token("t-expired", "admin", expires_in_s=0.05)[1]
    time.sleep(0.1)
    auth = Authenticator(client.workspace.store.tokens, ttl_s=TTL_S)
    model = start_in_thread(protect(create_app(client.load("cancer@champion")), auth))
    deployment_app = create_deployment_app("churn", workspace=client.workspace, poll_s=0.05)
    deployment = start_in_thread(protect(deployment_app, auth))
    control = start_in_thread(create_control_app(client.workspace, auth=True))
    bodies = _bodies(client, trained)
    yield {
        "model": Guarded(model.url, "cancer", secrets, client, auth, bodies),
        "deployment": Guarded(deployment.url, "churn", secrets, client, auth, bodies),
        # Made-up names and no bodies: an admitted change is refused (404/422) untouched.
        "control": Guarded(control.url, "nope", secrets, client, auth, {}),
    }
    model.stop()
    deployment.stop()
    control.stop()
    client.workspace.close()


def _needed(kind: str, method: str, path: str) -> str | None:
    if kind == "control":
        if path.startswith(CONTROL_ADMIN[0]):
            return "admin"
        if path == "/api/v1/session":  # signing in to the dashboard: no token yet
            return None
        if method == "get":
            return None if path in CONTROL_OPEN_GETS else "viewer"
        if path.startswith(CONTROL_ADMIN) or (method, path) == ("post", "/api/v1/schedules"):
            return "admin"  # a schedule names code for the scheduler to run
        return "operator"
    if method == "get":
        return None if path in OPEN_GETS else "viewer"
    if method == "post":
        assert path in PREDICT_POSTS, f"POST {path} is not classified by this test"
        return "predictor"
    return "operator"  # a change to what is served


def _request(server: Guarded, method: str, path: str) -> tuple[str, Any]:
    """The URL (path parameters filled in) and the JSON body to send to ``method path``."""
    if not server.bodies:  # the control API: every parameter made up, no body
        return re.sub(r"\{[^}]+\}", server.name, path), None
    url = path.replace("{name}", server.name).replace("{version}", "1")
    if method not in ("post", "put", "patch"):
        return url, None
    return url, server.bodies["infer" if path.endswith("/infer") else path]


def _headers(server: Guarded, who: str | None) -> dict[str, str]:
    if who is None:
        return {}
    secret = "pod_" + "x" * 43 if who == "made-up" else server.secrets[who]
    return {"authorization": f"Bearer {secret}"}


@pytest.mark.parametrize("kind", ["model", "deployment", "control"])
def test_every_route_admits_exactly_the_roles_it_needs(
    guarded: dict[str, Guarded], kind: str
) -> None:
    """Admitted: 2xx on a model or deployment server; on the control API, whatever the
    made-up names earn (404, 422) but never 401, 403 or a 5xx. Refused: 401 without a valid
    token, 403 with too low a role, each naming the role needed."""
    server = guarded[kind]
    with httpx.Client(base_url=server.url, timeout=10) as http:
        document = http.get("/openapi.json")  # open: no token
        assert document.status_code == 200
        routes = [
            (method, path)
            for path, item in document.json()["paths"].items()
            for method in item
            if method in ("get", "post", "put", "patch", "delete")
        ]
        paths = {p for _, p in routes}
        if kind == "control":
            assert {"/api/v1/health", "/api/v1/tokens", "/api/v1/models/{name}"} <= paths
            assert ("post", "/api/v1/schedules") in routes and len(routes) > 30
        else:
            assert {"/predict", "/metrics", "/v2/health/ready"} <= paths
        if kind == "deployment":
            assert ("post", "/feedback") in routes
        for method, path in routes:
            needed = _needed(kind, method, path)
            url, body = _request(server, method, path)
            for who in CALLERS:
                r = http.request(method, url, json=body, headers=_headers(server, who))
                where = f"{method.upper()} {path} as {who}: {r.status_code} {r.text[:200]}"
                if needed is None or (who in RANK and RANK[who] >= RANK[needed]):
                    if kind == "control":
                        assert r.status_code not in (401, 403) and r.status_code < 500, where
                    else:
                        assert 200 <= r.status_code < 300, where
                elif who in RANK and who is not None:
                    assert r.status_code == 403, where
                    assert r.json()["required_role"] == needed, where
                    assert r.json()["type"] == "PermissionDeniedError", where
                else:
                    assert r.status_code == 401, where
                    assert r.headers["www-authenticate"].startswith("Bearer"), where
                    assert r.json()["required_role"] == needed, where


def test_docs_need_a_viewer_and_unknown_routes_need_a_token(
    guarded: dict[str, Guarded],
) -> None:
    server = guarded["model"]
    viewer = {"authorization": f"Bearer {server.secrets['viewer']}"}
    with httpx.Client(base_url=server.url, timeout=10) as http:
        assert http.get("/docs").status_code == 401
        assert http.get("/docs", headers=viewer).status_code == 200
        assert http.get("/nowhere").status_code == 401  # no probing without a token
        assert http.get("/nowhere", headers=viewer).status_code == 404
        # Changes (no such route on a model server today) would need an operator.
        r = http.delete("/predict", headers=viewer)
        assert r.status_code == 403 and r.json()["required_role"] == "operator"
        wrong_scheme = {"authorization": f"Basic {server.secrets['admin']}"}
        assert http.get("/metrics", headers=wrong_scheme).status_code == 401


def test_the_control_api_records_the_token_name_as_the_actor(
    guarded: dict[str, Guarded],
) -> None:
    """A change through the control API (here by the Python client with PODIUM_TOKEN's
    token) is audited under the token's name, with the request's id; too low a role is the
    same PermissionDeniedError the server answered."""
    server = guarded["control"]
    operator = RemoteClient(server.url, token=server.secrets["operator"])
    assert operator.set_alias("cancer", "staging", 1).aliases == ("champion", "staging")
    [record] = server.client.audit(target="models:/cancer@staging")
    assert (record.actor, record.action, record.after) == (
        "t-operator",
        "alias.set",
        {"version": 1},
    )
    assert record.request_id is not None
    with pytest.raises(PermissionDeniedError, match="needs operator or higher"):
        RemoteClient(server.url, token=server.secrets["viewer"]).delete_alias("cancer", "staging")
    operator.delete_alias("cancer", "staging")
    assert [r.actor for r in server.client.audit(target="models:/cancer@staging")] == [
        "t-operator",
        "t-operator",
    ]
    with httpx.Client(base_url=server.url, timeout=10) as http:
        viewer = _headers(server, "viewer")
        assert http.get("/docs").status_code == 401
        assert http.get("/docs", headers=viewer).status_code == 200
        assert http.get("/api/v1/nowhere").status_code == 401  # no probing without a token
        assert http.get("/api/v1/nowhere", headers=viewer).status_code == 404


def test_a_revoked_token_is_refused_within_the_cache_time(guarded: dict[str, Guarded]) -> None:
    server = guarded["model"]
    _, secret = server.client.create_token("short-lived", "predictor")
    auth = {"authorization": f"Bearer {secret}"}
    with httpx.Client(base_url=server.url, timeout=10) as http:
        r = http.post("/predict", json=server.bodies["/predict"], headers=auth)
        assert r.status_code == 200
        server.client.revoke_token("short-lived")
        time.sleep(TTL_S * 1.5)
        r = http.post("/predict", json=server.bodies["/predict"], headers=auth)
        assert r.status_code == 401 and "revoked" in r.json()["error"]
    used = {t.name: t.last_used_at for t in server.client.list_tokens()}
    assert used["short-lived"] is not None and used["t-revoked"] is None


def test_without_auth_nothing_changes(trained: Trained, sqlite_workspace: Workspace) -> None:
    podium.register_model(trained.model, "cancer", input_example=trained.X[:3])
    app = create_app(podium.load("cancer/1"))
    assert app.guard is None
    srv = start_in_thread(app)
    try:
        row = {k: float(v) for k, v in trained.X.iloc[0].items()}
        assert httpx.post(f"{srv.url}/predict", json={"records": [row]}).status_code == 200
        assert httpx.get(f"{srv.url}/metrics").status_code == 200
    finally:
        srv.stop()


def test_a_public_host_is_refused_without_auth(caplog: pytest.LogCaptureFixture) -> None:
    for host in ("127.0.0.1", "::1", "localhost"):
        check_bind(host, auth=False)
    with pytest.raises(ConfigError, match="without auth") as info:
        check_bind("0.0.0.0", auth=False)
    assert info.value.hint and "--auth" in info.value.hint and "--insecure" in info.value.hint
    check_bind("0.0.0.0", auth=True)
    with caplog.at_level(logging.WARNING, logger="podium.serving"):
        check_bind("192.168.1.10", auth=False, insecure=True)
    assert "without auth" in caplog.text
    caplog.clear()
    check_bind("192.168.1.10", auth=False, insecure=True, warn=False)
    assert caplog.text == ""


def test_podium_serve_refuses_a_public_host_before_loading_anything(
    sqlite_workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    from podium.cli.main import app

    monkeypatch.delenv("PODIUM_AUTH", raising=False)
    r = CliRunner().invoke(app, ["serve", "nope@champion", "--host", "0.0.0.0"])
    assert r.exit_code == 1
    assert "Refusing to bind '0.0.0.0' without auth" in r.output
    assert "Traceback" not in r.output


def test_workers_protect_themselves_when_auth_is_on(
    trained: Trained, sqlite_workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What each `podium serve --workers N --auth` process builds: a guarded app."""
    from podium.serving.workers import FLAVOR_ENV, TARGET_ENV, app_factory

    podium.register_model(trained.model, "cancer", input_example=trained.X[:3])
    monkeypatch.setenv(TARGET_ENV, "cancer/1")
    monkeypatch.setenv(FLAVOR_ENV, "")
    monkeypatch.setenv("PODIUM_AUTH", "1")
    assert app_factory().guard is not None
    monkeypatch.setenv("PODIUM_AUTH", "0")
    assert app_factory().guard is None


def test_podium_serve_auth_end_to_end(
    trained: Trained, sqlite_workspace: Workspace, cli_server: Any, tmp_path: Path
) -> None:
    podium.register_model(trained.model, "cancer", input_example=trained.X[:3], alias="champion")
    _, secret = Client().create_token("ci", "predictor")
    server = cli_server("models:/cancer@champion", "--auth")
    body = {"records": [{k: float(v) for k, v in trained.X.iloc[0].items()}]}
    assert httpx.get(f"{server.url}/v2/health/ready").status_code == 200
    assert httpx.post(f"{server.url}/predict", json=body).status_code == 401
    ok = httpx.post(
        f"{server.url}/predict", json=body, headers={"authorization": f"Bearer {secret}"}
    )
    assert ok.status_code == 200 and len(ok.json()["predictions"]) == 1
