"""``podium models``: list, show, alias, history."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.text import Text

from podium.cli.render import out, print_json, table
from podium.client import Client
from podium.core.errors import NotFoundError
from podium.core.names import ModelRef

app = typer.Typer(help="Registered models, versions and aliases.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


@app.command("list")
def list_models(
    json_: JsonOpt = False,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many.")] = 100,
    offset: Annotated[int, typer.Option(min=0, help="Skip this many.")] = 0,
) -> None:
    """List registered models."""
    models = Client().list_models(limit=limit, offset=offset)
    if json_:
        print_json([m.to_dict() for m in models])
        return
    if not models:
        out.print("No model is registered yet. Try `podium quickstart`.")
        return
    table(
        None,
        ["model", "latest", "aliases", "updated", "description"],
        [[m.name, m.latest_version, m.aliases, m.updated_at, m.description] for m in models],
    )


@app.command("show")
def show(
    ref: Annotated[str, typer.Argument(help="NAME, or a version: NAME/3, NAME@champion.")],
    json_: JsonOpt = False,
) -> None:
    """Show a model with its versions, or one version in detail."""
    client = Client()
    parsed = ModelRef.parse(ref)
    if parsed.version is None and parsed.alias is None:
        model = client.get_model(parsed.name)
        versions = client.list_versions(parsed.name)
        if json_:
            print_json({**model.to_dict(), "versions": [v.to_dict() for v in versions]})
            return
        out.print(Text.assemble((model.name, "bold"), "  ", model.description))
        table(
            None,
            ["version", "aliases", "created", "flavor", "metrics", "run"],
            [
                [
                    v.version,
                    v.aliases,
                    v.created_at,
                    [f.flavor for f in v.flavors],
                    v.metrics,
                    v.run_id,
                ]
                for v in versions
            ],
        )
        return
    from podium.registry import fastpath

    mv = client.get_version(ref)
    lineage = client.lineage_of(mv)
    if json_:
        print_json(
            {**mv.to_dict(), "lineage": {"data": [d.uri for d in lineage], "run": mv.run_id}}
        )
        return
    sig = mv.signature or {}
    inputs = sig.get("inputs", [])
    rows: list[list[Any]] = [
        ["uri", mv.uri],
        ["aliases", mv.aliases],
        ["created", f"{mv.created_at:%Y-%m-%d %H:%M:%S} by {mv.created_by}"],
        ["description", mv.description],
        ["flavors", [f"{f.flavor} sha256:{f.digest[:12]} {f.size} B" for f in mv.flavors]],
        ["fast path", fastpath.describe(mv.fast_path)],
        ["metrics", mv.metrics],
        ["params", mv.params],
        ["tags", mv.tags],
        [
            "inputs",
            f"{len(inputs)} columns: "
            + ", ".join(f"{c['name']}:{c['dtype']}" for c in inputs[:6])
            + (" ..." if len(inputs) > 6 else ""),
        ],
        [
            "lineage",
            f"data {', '.join(d.uri for d in lineage) or mv.data_ref or '-'} -> run "
            f"{mv.run_id or '-'} -> {mv.uri}; code {(mv.code_version or '-')[:12]}",
        ],
    ]
    table(None, ["field", "value"], rows)


@app.command("alias")
def alias(
    name: Annotated[str, typer.Argument(help="Model name.")],
    alias: Annotated[str, typer.Argument(help="Alias, e.g. champion.")],
    version: Annotated[int | None, typer.Argument(help="Version to point the alias at.")] = None,
    delete: Annotated[bool, typer.Option("--delete", help="Remove the alias.")] = False,
    json_: JsonOpt = False,
) -> None:
    """Set, move or delete an alias: `podium models alias churn champion 3`."""
    client = Client()
    if delete:
        client.delete_alias(name, alias)
        if json_:
            print_json({"model": name, "alias": alias, "deleted": True})
        else:
            out.print(f"Deleted alias {alias!r} of {name}.")
        return
    if version is None:
        raise typer.BadParameter("give the VERSION to point the alias at, or --delete.")
    mv = client.set_alias(name, alias, version)
    if json_:
        print_json({"model": name, "alias": alias, "version": mv.version})
    else:
        out.print(f"models:/{name}@{alias} -> version {mv.version}")


@app.command("history")
def history(
    ref: Annotated[str, typer.Argument(help="NAME@ALIAS, e.g. churn@champion.")],
    json_: JsonOpt = False,
) -> None:
    """Every move of an alias, oldest first: when, by whom, from which version to which."""
    client = Client()
    parsed = ModelRef.parse(ref)
    if parsed.alias is None:
        raise typer.BadParameter(f"name an alias: {parsed.name}@champion, not {ref!r}.")
    moves = client.alias_history(parsed.name, parsed.alias)
    if not moves:
        known = ", ".join(client.get_model(parsed.name).aliases) or "none"
        raise NotFoundError(
            f"Alias {parsed.alias!r} of model {parsed.name!r} was never set. "
            f"Known aliases: {known}.",
            hint=f"Set it with `podium models alias {parsed.name} {parsed.alias} VERSION`.",
        )
    if json_:
        print_json([m.to_dict() for m in moves])
        return
    table(
        f"models:/{parsed.name}@{parsed.alias}",
        ["at", "actor", "action", "from", "to"],
        [[m.at, m.actor, m.action, m.from_version, m.to_version] for m in moves],
    )


@app.command("reference")
def reference(
    uri: Annotated[str, typer.Argument(help="Model version: models:/NAME/3 or NAME@alias.")],
    data: Annotated[
        str, typer.Argument(help="Its training or holdout data: a file, URL or data:/ ref.")
    ],
    json_: JsonOpt = False,
) -> None:
    """Store the reference profile drift monitoring compares production with."""
    got = Client().set_reference(uri, data)
    if json_:
        print_json(got)
        return
    kinds: dict[str, int] = {}
    for c in got["columns"].values():
        kinds[c["kind"]] = kinds.get(c["kind"], 0) + 1
    out.print(
        f"Reference of {uri}: {got['rows']:,} rows, "
        + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
        + f" column(s); predictions: {', '.join(got['predictions']) or 'none'}."
    )
