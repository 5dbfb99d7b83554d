"""``podium data``: register and inspect data versions."""

from __future__ import annotations

from typing import Annotated

import typer

from podium.cli.render import out, print_json, table
from podium.client import Client

app = typer.Typer(
    help="Data versions: files, URLs and tables by content hash.", no_args_is_help=True
)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


@app.command("add")
def add(
    source: Annotated[str, typer.Argument(help="A .csv, .parquet or .jsonl path or fsspec URL.")],
    name: Annotated[str, typer.Option("--name", help="Dataset name.")],
    format: Annotated[str | None, typer.Option(help="csv, parquet or jsonl.")] = None,
    json_: JsonOpt = False,
) -> None:
    """Register a data version (identical content is the same version)."""
    dv = Client().register_data(source, name, format=format)
    if json_:
        print_json(dv.to_dict())
        return
    cols = len(dv.schema.get("columns", []))
    out.print(
        f"{dv.uri}: {dv.rows} rows x {cols} columns, sha256:{dv.digest[:12]}, "
        f"{dv.size} bytes ({dv.format})"
    )


@app.command("list")
def list_data(
    name: Annotated[str | None, typer.Argument(help="Only this dataset.")] = None,
    json_: JsonOpt = False,
) -> None:
    """List data versions, newest first."""
    items = Client().list_data(name)
    if json_:
        print_json([d.to_dict() for d in items])
        return
    if not items:
        out.print("No data registered yet. Add some with `podium data add FILE --name NAME`.")
        return
    table(
        None,
        ["data", "rows", "columns", "format", "created", "source"],
        [
            [d.uri, d.rows, len(d.schema.get("columns", [])), d.format, d.created_at, d.source]
            for d in items
        ],
    )


@app.command("show")
def show(
    ref: Annotated[str, typer.Argument(help="NAME (latest), NAME/3 or data:/NAME/3.")],
    json_: JsonOpt = False,
) -> None:
    """Show a data version: schema and statistics profile."""
    dv = Client().get_data(ref)
    if json_:
        print_json(dv.to_dict())
        return
    out.print(f"{dv.uri}  {dv.rows} rows  sha256:{dv.digest[:12]}  from {dv.source}")
    rows = []
    for col in dv.schema.get("columns", []):
        p = dv.profile["columns"].get(col["name"], {})
        if p.get("kind") == "numeric" and p.get("count"):
            summary = (
                f"mean {p['mean']:.4g}, std {p['std']:.4g}, min {p['min']:.4g}, max {p['max']:.4g}"
            )
        else:
            summary = ", ".join(f"{k}:{v}" for k, v in p.get("top", [])[:5])
        rows.append([col["name"], col["dtype"], p.get("nulls", 0), summary])
    table(None, ["column", "dtype", "nulls", "profile"], rows)
