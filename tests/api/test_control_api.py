"""The control API over real HTTP: pages, filters, uploads, errors in podium's shape, and the
remote client giving back the same records and the same errors as the local one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.conftest import Trained

import podium
from podium.api import create_control_app
from podium.client.remote import RemoteClient
from podium.core.errors import ConfigError, InvalidNameError, NotFoundError, ValidationError
from podium.serving.server import RunningServer, start_in_thread
from podium.workspace import Workspace

API = "/api/v1"


@pytest.fixture
def server(workspace: Workspace) -> Iterator[RunningServer]:
    running = start_in_thread(create_control_app(workspace))
    yield running
    running.stop()


@pytest.fixture
def http(server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url + API, timeout=30) as client:
        yield client


@pytest.fixture
def remote(server: RunningServer) -> RemoteClient:
    return RemoteClient(server.url)


def _register(trained: Trained, name: str, n: int = 1) -> None:
    for _ in range(n):
        podium.register_model(trained.model, name, input_example=trained.X[:3])


def test_lists_come_in_pages_and_the_remote_client_reads_every_page(
    workspace: Workspace, trained: Trained, http: httpx.Client, remote: RemoteClient
) -> None:
    for name in ("a-model", "b-model", "c-model"):
        _register(trained, name)
    first = http.get("/models", params={"limit": 2}).json()
    assert [m["name"] for m in first["items"]] == ["a-model", "b-model"]
    assert (first["limit"], first["offset"], first["next_offset"]) == (2, 0, 2)
    rest = http.get("/models", params={"limit": 2, "offset": 2}).json()
    assert [m["name"] for m in rest["items"]] == ["c-model"] and rest["next_offset"] is None
    local = podium.Client(workspace=workspace)
    assert remote.list_models() == local.list_models()
    assert remote.list_models(limit=2, offset=1) == local.list_models(limit=2, offset=1)


def test_versions_aliases_and_history_match_the_local_client(
    workspace: Workspace, trained: Trained, http: httpx.Client, remote: RemoteClient
) -> None:
    _register(trained, "churn", 2)
    moved = remote.set_alias("churn", "champion", 1)
    assert moved.version == 1 and moved.aliases == ("champion",)
    remote.set_alias("churn", "champion", 2)
    local = podium.Client(workspace=workspace)
    assert remote.get_version("churn@champion") == local.get_version("churn@champion")
    assert remote.get_version("models:/churn/1") == local.get_version("models:/churn/1")
    assert remote.get_version("churn") == local.get_version("churn")
    assert [(m.from_version, m.to_version) for m in remote.alias_history("churn", "champion")] == [
        (None, 1),
        (1, 2),
    ]
    assert http.get("/models/churn/versions/champion").json()["version"] == 2
    assert http.delete("/models/churn/aliases/champion").status_code == 204
    assert local.get_model("churn").aliases == {}


def test_errors_are_json_with_a_hint_and_the_remote_client_raises_the_same_error(
    workspace: Workspace, trained: Trained, http: httpx.Client, remote: RemoteClient
) -> None:
    _register(trained, "churn")
    r = http.get("/models/nope", headers={"x-request-id": "abc-123"})
    assert r.status_code == 404 and r.headers["x-request-id"] == "abc-123"
    body = r.json()
    assert body["type"] == "NotFoundError" and "Known models: churn" in body["error"]
    assert body["hint"] and body["request_id"] == "abc-123"
    local = podium.Client(workspace=workspace)
    with pytest.raises(NotFoundError) as here:
        local.get_model("nope")
    with pytest.raises(NotFoundError) as there:
        remote.get_model("nope")
    assert (there.value.message, there.value.hint) == (here.value.message, here.value.hint)

    r = http.put("/models/churn/aliases/champion", json={"version": "three"})
    assert r.status_code == 422 and r.json()["field"] == "version"
    r = http.put("/models/churn/aliases/champion", json={"version": 1, "versoin": 2})
    assert r.status_code == 422 and r.json()["field"] == "versoin"
    r = http.put(
        "/models/churn/aliases/champion",
        content=b"{not json",
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 400 and r.json()["type"] == "MalformedRequestError"
    for name, alias in (("churn", "../escape"), ("churn", "a/b"), ("churn", "..")):
        with pytest.raises(InvalidNameError) as here_bad:
            local.set_alias(name, alias, 1)
        with pytest.raises(InvalidNameError) as there_bad:
            remote.set_alias(name, alias, 1)
        assert there_bad.value.message == here_bad.value.message


def test_data_uploads_record_the_original_source_and_dedupe_by_content(
    workspace: Workspace, tmp_path: Path, remote: RemoteClient
) -> None:
    csv = tmp_path / "churn.csv"
    csv.write_text("a,b\n1,2\n3,4\n")
    dv = remote.register_data(csv, "churn")
    assert (dv.uri, dv.rows, dv.format, dv.source) == ("data:/churn/1", 2, "csv", str(csv))
    assert remote.register_data(csv, "churn").version == 1  # same content, same version
    local = podium.Client(workspace=workspace)
    assert local.load_data("data:/churn/1").to_dict("list") == {"a": [1, 3], "b": [2, 4]}
    assert remote.get_data("data:/churn") == local.get_data("data:/churn/1")
    assert remote.list_data("churn") == local.list_data("churn")
    missing = str(tmp_path / "missing.csv")
    with pytest.raises(ValidationError) as here:
        local.register_data(missing, "churn")
    with pytest.raises(ValidationError) as there:
        remote.register_data(missing, "churn")
    assert (there.value.message, there.value.field) == (here.value.message, "source")


def test_runs_filter_by_pipeline_and_status_and_lineage_crosses_the_wire(
    workspace: Workspace, http: httpx.Client, remote: RemoteClient
) -> None:
    from tests.pipelines.test_pipelines import sums

    result = sums.run(n=3)
    got = http.get("/runs", params={"status": "succeeded", "pipeline": "sums"}).json()
    assert [r["id"] for r in got["items"]] == [result.id]
    assert http.get("/runs", params={"status": "failed"}).json()["items"] == []
    assert http.get("/runs", params={"limit": 0}).status_code == 422
    assert remote.get_run(result.id).steps == podium.Client().get_run(result.id).steps
    [summary] = http.get("/pipelines").json()
    assert (summary["pipeline"], summary["runs"]) == ("sums", 1)
    local = podium.Client(workspace=workspace)
    here = local.lineage(f"run:{result.id}")
    there = remote.lineage(f"run:{result.id}")
    assert there.to_dict() == here.to_dict()


def test_the_remote_client_is_what_client_gives_with_podium_url_except_inside_a_run(
    workspace: Workspace, server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PODIUM_URL", server.url)
    assert isinstance(podium.Client(), RemoteClient)
    assert not isinstance(podium.Client(workspace=workspace), RemoteClient)
    from podium.pipelines import pipeline, step

    @step(cache=False)
    def kind() -> str:
        return type(podium.Client()).__name__

    @pipeline(name="which-client")
    def which() -> object:
        return kind()

    result = which.run()
    assert result.status == "succeeded" and result.outputs == "Client"
    with pytest.raises(ConfigError) as refused:
        podium.Client().load_artifact("x")
    assert "PODIUM_URL" in refused.value.message
