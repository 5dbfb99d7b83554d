"""`podium audit list`, `podium models history` and `podium tokens` through the CLI."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from tests.conftest import Trained, same_both_ways
from typer.testing import CliRunner

import podium
from podium.cli.audit import parse_since
from podium.cli.main import app
from podium.workspace import Workspace

runner = CliRunner()


@pytest.fixture
def moved(workspace: Workspace, trained: Trained, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    """Model cancer, versions 1 and 2; champion set on 1 by alice, moved to 2 by bob."""
    monkeypatch.setenv("PODIUM_ACTOR", "alice")
    podium.register_model(trained.model, "cancer", input_example=trained.X[:3], alias="champion")
    podium.register_model(trained.model, "cancer", input_example=trained.X[:3])
    monkeypatch.setenv("PODIUM_ACTOR", "bob")
    assert runner.invoke(app, ["models", "alias", "cancer", "champion", "2"]).exit_code == 0
    return workspace


def _json(args: list[str]) -> object:
    """What a read-only command prints, the same through the server as on the store."""
    r = same_both_ways(args)
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def test_models_history_shows_every_move_of_an_alias(moved: Workspace, both_ways: str) -> None:
    assert runner.invoke(app, ["models", "alias", "cancer", "champion", "--delete"]).exit_code == 0
    moves = _json(["models", "history", "cancer@champion", "--json"])
    assert isinstance(moves, list)
    assert [(m["actor"], m["action"], m["from_version"], m["to_version"]) for m in moves] == [
        ("alice", "set", None, 1),
        ("bob", "set", 1, 2),
        ("bob", "delete", 2, None),
    ]
    assert moves[0]["at"] <= moves[1]["at"] <= moves[2]["at"]
    r = same_both_ways(["models", "history", "models:/cancer@champion"], env={"COLUMNS": "150"})
    assert r.exit_code == 0 and "alice" in r.stdout and "delete" in r.stdout


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["models", "history", "cancer@gold"], 1, "Alias 'gold' of model 'cancer' was never set"),
        (["models", "history", "nope@champion"], 1, "Model 'nope' not found"),
        (["models", "history", "cancer"], 2, "name an alias"),
    ],
)
def test_models_history_mistakes(
    moved: Workspace, args: list[str], code: int, message: str, both_ways: str
) -> None:
    r = same_both_ways(args)
    assert r.exit_code == code and message in " ".join(r.output.split())
    assert "Traceback" not in r.output


def test_audit_list_filters_by_target_actor_action_and_time(
    moved: Workspace, both_ways: str
) -> None:
    records = _json(["audit", "list", "--json"])
    assert isinstance(records, list) and len(records) == 4  # 2 versions, set, move
    moves = _json(["audit", "list", "--target", "models:/cancer@champion", "--json"])
    assert [(r["before"], r["after"]) for r in moves] == [({"version": 1}, {"version": 2}),
                                                          (None, {"version": 1})]  # fmt: skip
    assert [r["actor"] for r in _json(["audit", "list", "--actor", "bob", "--json"])] == ["bob"]
    created = _json(["audit", "list", "--action", "model_version.create", "--json"])
    assert [r["target"] for r in created] == ["models:/cancer/2", "models:/cancer/1"]
    assert len(_json(["audit", "list", "--since", "1h", "--json"])) == 4
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert _json(["audit", "list", "--since", future, "--json"]) == []
    assert len(_json(["audit", "list", "--limit", "1", "--json"])) == 1
    second = _json(["audit", "list", "--limit", "1", "--offset", "1", "--json"])
    assert second == records[1:2]
    versions = _json(["audit", "list", "--target-prefix", "models:/cancer/", "--json"])
    assert [r["target"] for r in versions] == ["models:/cancer/2", "models:/cancer/1"]
    r = same_both_ways(["audit", "list", "--actor", "bob"])
    assert r.exit_code == 0 and "bob" in r.stdout and "version=2" in r.stdout
    r = same_both_ways(["audit", "list", "--since", "last tuesday"])
    assert r.exit_code == 1 and "neither an ISO time nor an age" in r.output


def test_parse_since() -> None:
    now = datetime(2025, 3, 1, 12, tzinfo=UTC)
    assert parse_since("2d", now) == now - timedelta(days=2)
    assert parse_since("1h30m", now) == now - timedelta(minutes=90)
    assert parse_since("2025-02-01", now) == datetime(2025, 2, 1, tzinfo=UTC)
    assert parse_since("2025-02-01T10:00+01:00", now) == datetime(2025, 2, 1, 9, tzinfo=UTC)


def test_tokens_create_list_revoke(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch, both_ways: str
) -> None:
    monkeypatch.setenv("PODIUM_ACTOR", "root")
    r = runner.invoke(app, ["tokens", "create", "--name", "ci", "--role", "predictor"])
    assert r.exit_code == 0, r.output
    secret = r.stdout.strip()
    assert secret.startswith("pod_") and len(secret) == 47  # stdout: the secret alone
    r = runner.invoke(
        app,
        ["tokens", "create", "--name", "dash", "--role", "viewer", "--expires", "30d", "--json"],
    )
    made = json.loads(r.stdout)
    assert isinstance(made, dict) and made["secret"].startswith("pod_")
    expires = datetime.fromisoformat(made["expires_at"]) - datetime.now(UTC)
    assert timedelta(days=29, hours=23) < expires <= timedelta(days=30)
    listed = _json(["tokens", "list", "--json"])
    assert isinstance(listed, list)
    assert [(t["name"], t["role"], t["status"], t["created_by"]) for t in listed] == [
        ("ci", "predictor", "active", "root"),
        ("dash", "viewer", "active", "root"),
    ]
    assert listed[0]["prefix"] == secret[:12]
    assert secret not in json.dumps(listed) and made["secret"] not in json.dumps(listed)
    r = same_both_ways(["tokens", "list"])
    assert r.exit_code == 0 and "dash" in r.stdout
    assert secret not in r.stdout
    assert runner.invoke(app, ["tokens", "revoke", "ci"]).exit_code == 0
    statuses = {t["name"]: t["status"] for t in _json(["tokens", "list", "--json"])}  # type: ignore[union-attr]
    assert statuses == {"ci": "revoked", "dash": "active"}
    audited = _json(["audit", "list", "--target", "tokens:/ci", "--json"])
    assert [(a["action"], a["actor"]) for a in audited] == [  # type: ignore[union-attr]
        ("token.revoke", "root"),
        ("token.create", "root"),
    ]
    assert secret not in json.dumps(audited) and secret[12:] not in json.dumps(audited)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["tokens", "create", "--name", "x", "--role", "root"], "Unknown role 'root'"),
        (["tokens", "create", "--name", "x", "--role", "viewer", "--expires", "soon"], "Invalid"),
        (["tokens", "create", "--name", "a/b", "--role", "viewer"], "Invalid token name"),
        (["tokens", "revoke", "nobody"], "Token 'nobody' not found"),
    ],
)
def test_tokens_mistakes(
    workspace: Workspace, args: list[str], message: str, both_ways: str
) -> None:
    r = same_both_ways(args)  # refused: nothing changes, so it can run twice
    assert r.exit_code == 1 and message in r.output and "Traceback" not in r.output
