"""``podium lineage REF``: what a data version, run, model version or deployment was made
from (upstream) and what was made from it (downstream)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.tree import Tree

from podium.cli.render import out, print_json
from podium.client import Client
from podium.registry.lineage import Lineage, LineageEdge, LineageNode

STYLE = {"data": "cyan", "run": "yellow", "model": "green", "deployment": "magenta"}


def lineage(
    ref: Annotated[
        str,
        typer.Argument(
            help="A data version (data:/NAME/3), a run id, a model version (models:/NAME/3, "
            "NAME@ALIAS) or a deployment name."
        ),
    ],
    upstream: Annotated[
        bool, typer.Option("--upstream", help="Only what REF was made from.")
    ] = False,
    downstream: Annotated[
        bool, typer.Option("--downstream", help="Only what was made from REF.")
    ] = False,
    depth: Annotated[
        int | None, typer.Option(min=1, help="At most this many hops from REF (default: all).")
    ] = None,
    json_: Annotated[
        bool, typer.Option("--json", help="Print {nodes: [...], edges: [...]} for scripts.")
    ] = False,
) -> None:
    """Lineage: data version -> run -> model version -> deployment, up and down from REF."""
    if upstream and downstream:
        raise typer.BadParameter("give --upstream or --downstream, or neither for both.")
    direction = "upstream" if upstream else "downstream" if downstream else "both"
    graph = Client().lineage(ref, direction=direction, depth=depth)
    if json_:
        print_json(graph.to_dict())
        return
    out.print(render(graph))


def render(graph: Lineage) -> Tree:
    """The root, then "made from" and "used by" branches (a node met again is not expanded)."""
    root = graph.nodes[graph.root]
    tree = Tree(_label(root))
    walks = [graph.direction] if graph.direction != "both" else ["upstream", "downstream"]
    for walk in walks:
        title = "made from (upstream)" if walk == "upstream" else "used by (downstream)"
        branch = tree.add(f"[bold]{title}[/]")
        expanded = {graph.root}
        if not _grow(graph, branch, graph.root, walk, expanded):
            branch.add("[dim]nothing recorded[/]")
    return tree


def _grow(graph: Lineage, branch: Tree, node_id: str, walk: str, expanded: set[str]) -> bool:
    steps = graph.upstream_of(node_id) if walk == "upstream" else graph.downstream_of(node_id)
    for edge, node in steps:
        seen = node.id in expanded
        child = branch.add(_label(node, edge, seen))
        if not seen:
            expanded.add(node.id)
            _grow(graph, child, node.id, walk, expanded)
    return bool(steps)


def _label(node: LineageNode, edge: LineageEdge | None = None, seen: bool = False) -> str:
    """``kind of edge: node``, the edge first so that a narrow terminal cuts the details."""
    text = f"[{STYLE.get(node.kind, 'white')}]{escape(node.label)}[/]"
    if edge is not None:
        how = edge.kind if edge.variant is None else f"{edge.kind} as {edge.variant}"
        text = f"[dim]{escape(how)}:[/] {text}"
    if seen:
        text += " [dim](shown above)[/]"
    return text
