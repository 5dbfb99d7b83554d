"""``podium policies``, ``podium approve``, ``podium reject`` and ``podium approvals``."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from podium.cli.render import out, print_json, table
from podium.client import Client
from podium.core.records import ApprovalRequest

policies_app = typer.Typer(
    help="Approval policies: protected aliases and promotions need gates and/or an approval.",
    no_args_is_help=True,
)
app = typer.Typer(help="Approval requests: what waits for `podium approve`.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
KindArg = Annotated[str, typer.Argument(help="model or deployment.")]
NameArg = Annotated[str, typer.Argument(help="The model's or the deployment's name.")]


@policies_app.command("set")
def set_policy(
    kind: KindArg,
    name: NameArg,
    protect: Annotated[
        list[str] | None,
        typer.Option("--protect", help="An alias to protect (model policies), repeatable."),
    ] = None,
    approver: Annotated[
        str | None,
        typer.Option("--approver", help="Role that must approve: viewer ... admin."),
    ] = None,
    gate: Annotated[
        list[str] | None,
        typer.Option("--gate", help="A gate, repeatable: 'accuracy>=0.9', or 'canary'."),
    ] = None,
    allow_self_approval: Annotated[
        bool,
        typer.Option("--allow-self-approval", help="Let requesters approve their own requests."),
    ] = False,
    json_: JsonOpt = False,
) -> None:
    """Set a policy: `podium policies set model churn --protect champion --approver admin`."""
    policy = Client().set_policy(
        kind,
        name,
        protected_aliases=protect,
        approver_role=approver,
        gates=gate,
        allow_self_approval=allow_self_approval,
    )
    if json_:
        print_json(policy)
        return
    out.print(f"Policy of {kind} {name!r} set: {describe(policy)}.")


@policies_app.command("list")
def list_policies(json_: JsonOpt = False) -> None:
    """List approval policies."""
    policies = Client().list_policies()
    if json_:
        print_json(policies)
        return
    if not policies:
        out.print("No policy yet. Set one with `podium policies set model NAME --protect ...`.")
        return
    table(
        None,
        ["name", "kind", "guards", "gates", "approver", "self-approval"],
        [
            [
                p["name"],
                p["kind"],
                p["protected_aliases"] if p["kind"] == "model" else "promotion",
                p["gates"],
                p["approver_role"],
                "yes" if p["allow_self_approval"] else "no",
            ]
            for p in policies
        ],
    )


@policies_app.command("show")
def show_policy(kind: KindArg, name: NameArg, json_: JsonOpt = False) -> None:
    """Show one policy."""
    p = Client().get_policy(kind, name)
    if json_:
        print_json(p)
        return
    out.print(f"Policy of {p['kind']} {p['name']!r}: {describe(p)}.")
    out.print(f"Set by {p['updated_by']} at {p['updated_at'][:19].replace('T', ' ')} UTC.")


@policies_app.command("delete")
def delete_policy(kind: KindArg, name: NameArg, json_: JsonOpt = False) -> None:
    """Delete a policy: its moves need no gate or approval any more."""
    Client().delete_policy(kind, name)
    if json_:
        print_json({"kind": kind, "name": name, "deleted": True})
        return
    out.print(f"Policy of {kind} {name!r} deleted.")


def describe(p: dict[str, Any]) -> str:
    """A policy in one line: what it guards, its gates, who approves."""
    what = (
        "protects " + ", ".join(p["protected_aliases"])
        if p["kind"] == "model"
        else "guards promotion"
    )
    gates = f"; gates {', '.join(p['gates'])}" if p["gates"] else "; no gate"
    if p["approver_role"] is None:
        who = "; no approval needed"
    else:
        who = f"; approval by {p['approver_role']}" + (
            " (self-approval allowed)" if p["allow_self_approval"] else " (four eyes)"
        )
    return what + gates + who


def approve(
    request_id: Annotated[str, typer.Argument(help="The request's id (`podium approvals list`).")],
    json_: JsonOpt = False,
) -> None:
    """Approve a request and carry out the move it asks for (alias move, promotion)."""
    req = Client().approve(request_id)
    if json_:
        print_json(req.to_dict())
        return
    out.print(f"Request {req.id} approved and {req.status}: {_move(req)}.")


def reject(
    request_id: Annotated[str, typer.Argument(help="The request's id (`podium approvals list`).")],
    reason: Annotated[str, typer.Option("--reason", help="Why, for the requester.")] = "",
    json_: JsonOpt = False,
) -> None:
    """Reject a pending request (or withdraw your own)."""
    req = Client().reject(request_id, reason)
    if json_:
        print_json(req.to_dict())
        return
    out.print(f"Request {req.id} rejected: {_move(req)} will not happen.")


@app.command("list")
def list_requests(
    status: Annotated[
        str | None,
        typer.Option(help="pending, approved, rejected, applied or superseded."),
    ] = None,
    target: Annotated[
        str | None, typer.Option(help="Only this target, e.g. models:/churn@champion.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="At most this many.")] = 100,
    json_: JsonOpt = False,
) -> None:
    """List approval requests, newest first: `podium approvals list --status pending`."""
    requests = Client().approval_requests(status=status, target=target, limit=limit)
    if json_:
        print_json([r.to_dict() for r in requests])
        return
    if not requests:
        out.print("No approval request matches.")
        return
    table(
        None,
        ["id", "status", "move", "by", "approver"],
        [[r.id, r.status, _move(r), r.requested_by, r.approver_role] for r in requests],
    )


def _move(r: ApprovalRequest) -> str:
    if r.action == "alias.set":
        return f"{r.target} -> version {r.payload.get('version')}"
    if r.action == "alias.delete":
        return f"delete {r.target}"
    if r.action == "deployment.promote":
        return f"promote {r.target} (revision {r.payload.get('revision')})"
    return f"{r.action} {r.target}"
