"""Approvals (G2): protected aliases and promotions pass their gates, then wait for an
approval by a named role (four eyes), every step audited; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from tests.conftest import Trained
from typer.testing import CliRunner

import podium
from podium.cli.main import app
from podium.core.clock import utcnow
from podium.core.context import actor_var, role_var
from podium.core.errors import (
    ApprovalRequiredError,
    ConflictError,
    InvalidNameError,
    NotFoundError,
    PermissionDeniedError,
    PromotionRefusedError,
    ValidationError,
    http_status,
)
from podium.core.records import FlavorRecord
from podium.workspace import Workspace

FLAVOR = FlavorRecord("python", "a" * 64, 1, {})
runner = CliRunner()


@contextmanager
def acting(actor: str, role: str | None = None) -> Iterator[None]:
    """Act as ``actor`` with a token of ``role`` (None: direct store access, i.e. admin)."""
    a, r = actor_var.set(actor), role_var.set(role)
    try:
        yield
    finally:
        actor_var.reset(a)
        role_var.reset(r)


@pytest.fixture
def churn(workspace: Workspace) -> podium.Client:
    """Model churn: version 1 (accuracy 0.95) is champion; 2 (0.85) and 3 (0.97) are not."""
    for acc in (0.95, 0.85, 0.97):
        workspace.store.models.create_version("churn", flavors=[FLAVOR], metrics={"accuracy": acc})
    workspace.store.models.set_alias("churn", "champion", 1)
    return podium.Client()


def _refused(client: podium.Client, version: int, actor: str = "bob") -> ApprovalRequiredError:
    with acting(actor, "operator"), pytest.raises(ApprovalRequiredError) as info:
        client.set_alias("churn", "champion", version)
    return info.value


def test_a_protected_alias_move_is_refused_with_a_pending_request(churn: podium.Client) -> None:
    churn.set_policy("model", "churn", protected_aliases=["champion"], approver_role="admin")
    exc = _refused(churn, 3)
    rid = exc.request_id
    assert f"request {rid} is pending" in exc.message
    assert "Moving models:/churn@champion to version 3 needs an approval by someone with the " \
           "admin role other than bob" in exc.message  # fmt: skip
    assert exc.hint is not None and f"`podium approve {rid}`" in exc.hint and "admin" in exc.hint
    assert http_status(exc) == 409 and exc.to_dict()["approval_request_id"] == rid
    assert churn.get_model("churn").aliases == {"champion": 1}  # not moved
    assert _refused(churn, 3).request_id == rid  # the same move: the same request
    assert _refused(churn, 2).request_id != rid  # another move: another request
    [req] = churn.approval_requests(status="pending", target="models:/churn@champion")[1:]
    assert (req.id, req.action, req.payload, req.requested_by) == (
        rid,
        "alias.set",
        {"version": 3},
        "bob",
    )
    assert req.approver_role == "admin"
    churn.set_alias("churn", "challenger", 2)  # an alias the policy does not protect


def test_approval_by_the_role_applies_the_move_and_audits_every_step(churn: podium.Client) -> None:
    churn.set_policy("model", "churn", protected_aliases=["champion"], approver_role="admin")
    rid = _refused(churn, 3).request_id
    with acting("alice", "admin"):
        done = churn.approve(rid)
    assert (done.status, done.decided_by) == ("applied", "alice")
    assert churn.get_model("churn").aliases == {"champion": 3}
    records = list(reversed(churn.audit(target="models:/churn@champion")))
    assert [(r.action, r.actor) for r in records[1:]] == [
        ("approval.request", "bob"),
        ("approval.approve", "alice"),
        ("alias.set", "alice"),
        ("approval.apply", "alice"),
    ]
    assert records[1].after["id"] == rid and records[2].after["status"] == "approved"
    assert records[3].before == {"version": 1}
    assert records[3].after == {"version": 3, "approval": rid}
    with acting("carol", "admin"), pytest.raises(ConflictError, match=f"{rid} is applied"):
        churn.approve(rid)
    history = churn.alias_history("churn", "champion")
    assert [(m.from_version, m.to_version, m.actor) for m in history][-1] == (1, 3, "alice")


def test_a_role_below_the_policy_s_cannot_approve(churn: podium.Client) -> None:
    churn.set_policy("model", "churn", protected_aliases=["champion"], approver_role="admin")
    rid = _refused(churn, 3).request_id
    for role in ("viewer", "operator"):
        with acting("alice", role), pytest.raises(PermissionDeniedError) as info:
            churn.approve(rid)
        assert f"needs the admin role; your token has {role}" in info.value.message
        assert http_status(info.value) == 403 and info.value.required_role == "admin"
    with acting("alice", "operator"), pytest.raises(PermissionDeniedError):
        churn.reject(rid)  # nor reject it
    assert churn.approval_requests(status="pending")[0].id == rid
    assert churn.get_model("churn").aliases == {"champion": 1}
    with acting("mallory", "operator"), pytest.raises(PermissionDeniedError, match="admin"):
        churn.set_policy("model", "churn", protected_aliases=["champion"])  # no loosening it


def test_the_requester_cannot_approve_unless_the_policy_allows_it(churn: podium.Client) -> None:
    churn.set_policy("model", "churn", protected_aliases=["champion"], approver_role="operator")
    rid = _refused(churn, 3, actor="bob").request_id
    with acting("bob", "admin"), pytest.raises(PermissionDeniedError, match="four eyes"):
        churn.approve(rid)
    churn.set_policy(
        "model",
        "churn",
        protected_aliases=["champion"],
        approver_role="operator",
        allow_self_approval=True,
    )
    with acting("bob", "operator"):
        assert churn.approve(rid).status == "applied"
    assert churn.get_model("churn").aliases == {"champion": 3}


def test_a_failing_metric_gate_refuses_naming_the_gate_and_the_figure(
    churn: podium.Client,
) -> None:
    churn.set_policy(
        "model", "churn", protected_aliases=["champion"], gates=["accuracy >= 0.9", "f1>0.5"]
    )
    with pytest.raises(PromotionRefusedError) as info:
        churn.set_alias("churn", "champion", 2)
    msg = info.value.message
    assert not isinstance(info.value, ApprovalRequiredError) and http_status(info.value) == 409
    assert "gate accuracy>=0.9 failed: accuracy of models:/churn/2 is 0.85" in msg
    assert "gate f1>0.5: models:/churn/2 has no metric 'f1' (it has: accuracy)" in msg
    assert info.value.missing[0].startswith("gate accuracy>=0.9")
    assert churn.approval_requests() == []  # nothing to approve while a gate fails


def test_passing_gates_without_an_approver_move_the_alias_at_once(churn: podium.Client) -> None:
    churn.set_policy("model", "churn", protected_aliases=["champion"], gates=["accuracy>=0.9"])
    assert churn.set_alias("churn", "champion", 3).aliases == ("champion",)
    assert churn.audit(target="models:/churn@champion")[0].after == {"version": 3}
    with pytest.raises(PromotionRefusedError, match="names no approver"):
        churn.delete_alias("churn", "champion")  # gates cannot judge a deletion


def test_gates_are_checked_again_when_approving(churn: podium.Client) -> None:
    churn.set_policy("model", "churn", protected_aliases=["champion"], approver_role="admin")
    rid = _refused(churn, 2).request_id
    churn.set_policy(
        "model", "churn", protected_aliases=["champion"], approver_role="admin",
        gates=["accuracy>=0.9"],
    )  # fmt: skip
    with acting("alice"), pytest.raises(PromotionRefusedError, match="accuracy of models:/churn/2"):
        churn.approve(rid)
    assert churn.approval_requests()[0].status == "pending"


def test_reject_and_supersede(churn: podium.Client) -> None:
    churn.set_policy("model", "churn", protected_aliases=["champion"], approver_role="admin")
    two, three = _refused(churn, 2).request_id, _refused(churn, 3).request_id
    with acting("alice"):
        rejected = churn.reject(two, "2 scores worse")
        assert (rejected.status, rejected.reason, rejected.decided_by) == (
            "rejected",
            "2 scores worse",
            "alice",
        )
        with pytest.raises(ConflictError, match="rejected by alice: 2 scores worse"):
            churn.approve(two)
    four = _refused(churn, 1).request_id  # champion is at 1 already: still a request
    with acting("alice"):
        churn.approve(three)
    statuses = {r.id: r.status for r in churn.approval_requests()}
    assert statuses == {two: "rejected", three: "applied", four: "superseded"}
    assert "moved to version 3" in churn.approval_requests(status="superseded")[0].reason
    with acting("bob"):  # a requester may withdraw their own request, whatever the role
        fresh = _refused(churn, 1).request_id
        with acting("bob", "viewer"):
            assert churn.reject(fresh).status == "rejected"


def test_deleting_a_protected_alias_needs_the_approval_too(churn: podium.Client) -> None:
    churn.set_policy("model", "churn", protected_aliases=["champion"], approver_role="admin")
    with acting("bob"), pytest.raises(ApprovalRequiredError, match="Deleting models:/churn@cham"):
        churn.delete_alias("churn", "champion")
    [req] = churn.approval_requests()
    assert (req.action, req.payload) == ("alias.delete", {})
    with acting("alice"):
        churn.approve(req.id)
    assert churn.get_model("churn").aliases == {}
    deleted = churn.audit(target="models:/churn@champion", action="alias.delete")[0]
    assert deleted.before == {"version": 1, "approval": req.id} and deleted.after is None


def test_registering_with_a_protected_alias(workspace: Workspace, trained: Trained) -> None:
    client = podium.Client()
    client.set_policy(
        "model", "cancer", protected_aliases=["champion"], approver_role="admin",
        gates=["accuracy>=0.9"],
    )  # fmt: skip
    with pytest.raises(PromotionRefusedError, match=r"accuracy of the new version is 0\.5"):
        client.register_model(trained.model, "cancer", metrics={"accuracy": 0.5}, alias="champion")
    with pytest.raises(NotFoundError):
        client.get_model("cancer")  # a failing gate stores nothing
    with acting("bob"), pytest.raises(ApprovalRequiredError) as info:
        client.register_model(trained.model, "cancer", metrics={"accuracy": 0.99}, alias="champion")
    assert info.value.message.startswith(
        "models:/cancer/1 is registered, but 'champion' does not point at it yet: Moving"
    )
    assert client.get_model("cancer").aliases == {}
    with acting("alice"):
        client.approve(info.value.request_id)
    assert client.get_model("cancer").aliases == {"champion": 1}


def test_policies_are_audited_listed_and_deleted(churn: podium.Client) -> None:
    made = churn.set_policy(
        "model", "churn", protected_aliases=["champion", "champion"], approver_role="Operator",
        gates=["accuracy>=0.9", "accuracy>=0.9"],
    )  # fmt: skip
    assert made["protected_aliases"] == ["champion"] and made["approver_role"] == "operator"
    assert made["gates"] == ["accuracy>=0.9"] and made["allow_self_approval"] is False
    assert churn.get_policy("model", "churn") == made
    json.dumps(churn.list_policies())  # JSON-ready
    churn.set_policy("deployment", "web", gates=["canary"])
    assert [(p["kind"], p["name"]) for p in churn.list_policies()] == [
        ("deployment", "web"),
        ("model", "churn"),
    ]
    churn.delete_policy("deployment", "web")
    with pytest.raises(
        NotFoundError, match=r"no policy for deployment 'web'\. Known policies: model"
    ):
        churn.get_policy("deployment", "web")
    actions = [r.action for r in churn.audit(target="policies:/deployment/web")]
    assert actions == ["policy.delete", "policy.set"]
    churn.set_alias("churn", "challenger", 3)


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"kind": "team"}, ValidationError, "Unknown policy kind 'team'; expected model or"),
        ({"gates": ["accuracy=>0.9"]}, ValidationError, "Gate 'accuracy=>0.9' is not a gate"),
        ({"gates": ["accuracy>=nan"]}, ValidationError, "Gate 'accuracy>=nan' is not a gate"),
        ({"gates": ["canary"]}, ValidationError, "Gate 'canary' applies to deployments only"),
        ({"approver_role": "boss"}, ValidationError, "Unknown role 'boss'"),
        ({"protected_aliases": []}, ValidationError, "protects at least one alias"),
        ({"protected_aliases": ["../x"]}, InvalidNameError, "Invalid alias '../x'"),
        ({"approver_role": None}, ValidationError, "needs an approver role, gates, or both"),
    ],
)
def test_bad_policies_are_refused_with_a_hint(
    churn: podium.Client, kwargs: dict[str, Any], error: type[Exception], words: str
) -> None:
    args: dict[str, Any] = {
        "kind": "model",
        "name": "churn",
        "protected_aliases": ["champion"],
        "approver_role": "admin",
        **kwargs,
    }
    with pytest.raises(error) as info:
        churn.set_policy(args.pop("kind"), args.pop("name"), **args)
    assert words in str(info.value) and getattr(info.value, "hint", None)
    assert churn.list_policies() == []


def test_unknown_requests_and_statuses(churn: podium.Client) -> None:
    with pytest.raises(NotFoundError, match="Approval request 'nope' not found") as info:
        churn.approve("nope")
    assert "podium approvals list" in (info.value.hint or "")
    with pytest.raises(ValidationError, match="Unknown request status 'done'"):
        churn.approval_requests(status="done")


def test_concurrent_refusals_make_one_request(churn: podium.Client) -> None:
    import threading

    churn.set_policy("model", "churn", protected_aliases=["champion"], approver_role="admin")
    ids: list[str] = []

    def refuse() -> None:
        for _ in range(5):
            try:
                churn.set_alias("churn", "champion", 3)
            except ApprovalRequiredError as exc:
                ids.append(exc.request_id)

    threads = [threading.Thread(target=refuse) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(ids) == 20 and len(set(ids)) == 1
    assert len(churn.approval_requests()) == 1


# -- deployments ------------------------------------------------------------------------------
@pytest.fixture
def models(workspace: Workspace, trained: Trained) -> podium.Client:
    """Model churn, versions 1 (accuracy 0.95) and 2 (0.8), loadable for deployments."""
    for acc in (0.95, 0.8):
        podium.register_model(
            trained.model, "churn", input_example=trained.X[:5], metrics={"accuracy": acc}
        )
    return podium.Client()


def _bluegreen(client: podium.Client) -> None:
    client.deploy(
        {
            "name": "bg",
            "strategy": "bluegreen",
            "variants": {"blue": {"model": "churn/1"}, "green": {"model": "churn/2"}},
            "bluegreen": {"live": "blue", "idle": "green"},
        }
    )


def test_a_guarded_promotion_waits_for_its_approval(models: podium.Client) -> None:
    _bluegreen(models)
    models.set_policy("deployment", "bg", approver_role="operator", gates=["accuracy>=0.5"])
    with acting("bob", "operator"), pytest.raises(ApprovalRequiredError) as info:
        models.promote("bg")
    assert "Promoting deployment 'bg' (revision 1) needs an approval" in info.value.message
    assert models.get_deployment("bg").state["live"] == "blue"
    rid = info.value.request_id
    [req] = models.approval_requests(target="deployments:/bg")
    assert (req.id, req.action, req.payload) == (rid, "deployment.promote", {"revision": 1})
    with acting("alice", "operator"):
        assert models.approve(rid).status == "applied"
    assert models.get_deployment("bg").state["live"] == "green"
    promoted = models.deployment_history("bg")[0]
    assert promoted.kind == "promoted" and promoted.detail["approval"] == rid
    audit = models.audit(target="deployments:/bg")
    assert [r.action for r in audit[:3]] == [
        "approval.apply",
        "deployment.promoted",
        "approval.approve",
    ]
    assert audit[1].after["approval"] == rid
    # promoting back brings blue in: version 1 passes the gate, and needs a new approval
    with acting("bob", "operator"), pytest.raises(ApprovalRequiredError) as again:
        models.promote("bg")
    assert again.value.request_id != rid
    # a new revision supersedes it
    models.deploy({**models.get_deployment("bg").spec, "description": "v2"})
    assert models.approval_requests(status="superseded")[0].id == again.value.request_id


def test_promotion_gates_name_the_version_and_the_canary(models: podium.Client) -> None:
    _bluegreen(models)
    models.set_policy("deployment", "bg", gates=["accuracy>=0.9", "canary"])
    with pytest.raises(PromotionRefusedError) as info:
        models.promote("bg")
    msg = info.value.message
    assert "gate accuracy>=0.9 failed: accuracy of models:/churn/2 (variant 'green') is 0.8" in msg
    assert "gate canary: deployment 'bg' is bluegreen, not a canary" in msg
    models.deploy(
        {
            "name": "cn",
            "strategy": "canary",
            "canary": {"steps": [5, 100], "min_requests": 100},
            "variants": {"stable": {"model": "churn/2"}, "candidate": {"model": "churn/1"}},
        }
    )
    models.set_policy("deployment", "cn", gates=["canary"])
    with pytest.raises(PromotionRefusedError, match="gate canary failed at 5%: 0/100 requests"):
        models.promote("cn")
    models.deploy(
        {
            "name": "ab",
            "strategy": "ab",
            "ab": {"weights": {"a": 1, "b": 1}},
            "variants": {"a": {"model": "churn/1"}, "b": {"model": "churn/2"}},
        }
    )
    models.set_policy("deployment", "ab", approver_role="admin")
    with pytest.raises(ValidationError, match="Cannot promote a 'ab' deployment"):
        models.promote("ab")  # a move that makes no sense is refused before asking anyone
    assert models.approval_requests() == []


def test_traffic_that_would_promote_is_refused_under_a_policy(models: podium.Client) -> None:
    _bluegreen(models)
    models.deploy(
        {
            "name": "cn",
            "strategy": "canary",
            "canary": {"steps": [10, 100], "min_duration_s": 0, "min_requests": 5},
            "variants": {"stable": {"model": "churn/1"}, "candidate": {"model": "churn/2"}},
        }
    )
    assert models.set_traffic("cn", {"candidate": 100}).state["percent"] == 100  # no policy
    models.set_traffic("cn", {"candidate": 10})
    for name in ("bg", "cn"):
        models.set_policy("deployment", name, approver_role="admin")
    for name, shares in (("bg", {"green": 100}), ("cn", {"candidate": 100}), ("cn", {"stable": 0})):
        with pytest.raises(PromotionRefusedError) as info:
            models.set_traffic(name, shares)
        assert f"podium deployments promote {name}" in (info.value.hint or "")
    assert models.set_traffic("cn", {"candidate": 50}).state["percent"] == 50  # not a promotion
    assert models.get_deployment("bg").state["live"] == "blue"


def _canary_with_traffic(client: podium.Client, ws: Workspace) -> None:
    client.deploy(
        {
            "name": "cn",
            "strategy": "canary",
            "canary": {"steps": [100], "min_duration_s": 0, "min_requests": 5},
            "variants": {"stable": {"model": "churn/1"}, "candidate": {"model": "churn/2"}},
        }
    )
    at = utcnow() + timedelta(seconds=1)
    rows = [
        {
            "id": f"{variant}-{i}",
            "at": at,
            "deployment": "cn",
            "variant": variant,
            "model_version": "models:/churn/1",
            "inputs": {},
            "outputs": {"predictions": [i % 2]},
            "latency_ms": 1.0,
        }
        for variant in ("stable", "candidate")
        for i in range(10)
    ]
    ws.store.predictions.write(rows, [])


def test_the_controller_asks_for_approval_instead_of_promoting(
    models: podium.Client, workspace: Workspace
) -> None:
    from podium.deploy.controller import canary_step

    _canary_with_traffic(models, workspace)
    models.set_policy("deployment", "cn", approver_role="admin", gates=["canary"])
    later = utcnow() + timedelta(seconds=5)
    with acting("controller"):
        first = canary_step(workspace, "cn", later)
        second = canary_step(workspace, "cn", later)
    assert first is not None and second is not None
    assert first.action == second.action == "wait"
    [req] = models.approval_requests(status="pending")
    assert f"request {req.id} is pending" in first.reason and req.requested_by == "controller"
    assert first.reason.startswith("every gate passed; ")
    assert models.get_deployment("cn").state["status"] == "progressing"
    kinds = [e.kind for e in models.deployment_history("cn")]
    assert kinds == ["approval_requested", "applied"]  # once, not at every tick
    with acting("alice", "admin"):
        assert models.approve(req.id).status == "applied"  # the canary gate passes again
    state = models.get_deployment("cn").state
    assert (state["status"], state["percent"]) == ("promoted", 100)
    assert canary_step(workspace, "cn", later) is None  # done


def test_the_controller_pauses_a_canary_the_policy_refuses(
    models: podium.Client, workspace: Workspace
) -> None:
    from podium.deploy.controller import canary_step

    _canary_with_traffic(models, workspace)
    models.set_policy("deployment", "cn", gates=["accuracy>=0.9"])
    decision = canary_step(workspace, "cn", utcnow() + timedelta(seconds=5))
    assert decision is not None and decision.action == "pause"
    assert "accuracy of models:/churn/2 (variant 'candidate') is 0.8" in decision.reason
    assert models.get_deployment("cn").state["status"] == "paused"


# -- CLI ----------------------------------------------------------------------------------------
def _ok(args: list[str], **env: str) -> Any:
    r = runner.invoke(app, args, env=env or None)
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout) if "--json" in args else r.stdout


def test_cli_round_trip(churn: podium.Client, both_ways: str) -> None:
    policy = _ok(
        ["policies", "set", "model", "churn", "--protect", "champion", "--approver", "admin",
         "--gate", "accuracy>=0.9", "--json"]
    )  # fmt: skip
    assert (policy["protected_aliases"], policy["gates"]) == (["champion"], ["accuracy>=0.9"])
    assert [p["name"] for p in _ok(["policies", "list", "--json"])] == ["churn"]
    assert _ok(["policies", "show", "model", "churn", "--json"]) == policy
    text = _ok(["policies", "show", "model", "churn"])
    assert "protects champion; gates accuracy>=0.9; approval by admin (four eyes)" in text
    r = runner.invoke(
        app, ["models", "alias", "churn", "champion", "3"], env={"PODIUM_ACTOR": "bob"}
    )
    rid = churn.approval_requests()[0].id
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert f"request {rid} is pending" in r.stderr and f"podium approve {rid}" in r.stderr
    r = runner.invoke(app, ["models", "alias", "churn", "champion", "2"])
    assert r.exit_code == 1 and "gate accuracy>=0.9 failed" in r.stderr
    pending = _ok(["approvals", "list", "--status", "pending", "--json"])
    assert [(p["id"], p["payload"]) for p in pending] == [(rid, {"version": 3})]
    listed = _ok(["approvals", "list"])
    assert rid in listed and "pending" in listed
    r = runner.invoke(app, ["approve", rid], env={"PODIUM_ACTOR": "bob"})
    assert r.exit_code == 1 and "four eyes" in r.stderr
    done = _ok(["approve", rid, "--json"], PODIUM_ACTOR="alice")
    assert (done["status"], done["decided_by"]) == ("applied", "alice")
    assert churn.get_model("churn").aliases == {"champion": 3}
    r = runner.invoke(
        app, ["models", "alias", "churn", "champion", "1"], env={"PODIUM_ACTOR": "bob"}
    )
    other = churn.approval_requests(status="pending")[0].id
    assert "rejected" in _ok(["reject", other, "--reason", "not now"], PODIUM_ACTOR="alice")
    assert _ok(["approvals", "list", "--status", "rejected", "--json"])[0]["reason"] == "not now"
    assert "deleted" in _ok(["policies", "delete", "model", "churn"])
    assert "No policy yet" in _ok(["policies", "list"])


@pytest.mark.parametrize(
    ("args", "message", "hint"),
    [
        (["policies", "set", "team", "churn", "--approver", "admin"],
         "Unknown policy kind 'team'", "podium policies set model"),
        (["policies", "set", "model", "churn", "--protect", "champion", "--gate", "acc=>1"],
         "Gate 'acc=>1' is not a gate", "METRIC OP NUMBER"),
        (["policies", "set", "model", "churn", "--approver", "admin"],
         "protects at least one alias", "--protect champion"),
        (["policies", "show", "model", "ghost"], "There is no policy for model 'ghost'",
         "podium policies list"),
        (["approve", "0000nope"], "Approval request '0000nope' not found",
         "podium approvals list"),
        (["reject", "0000nope"], "Approval request '0000nope' not found",
         "podium approvals list"),
        (["approvals", "list", "--status", "done"], "Unknown request status 'done'", None),
    ],
)  # fmt: skip
def test_cli_mistakes_are_one_line_errors_with_a_hint(
    churn: podium.Client, args: list[str], message: str, hint: str | None, both_ways: str
) -> None:
    r = runner.invoke(app, args)
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert message in r.stderr
    if hint is not None:
        assert "Hint:" in r.stderr and hint in r.stderr
