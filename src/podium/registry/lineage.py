"""Lineage queries (G3): data version -> run -> model version -> deployment, both ways.

Every edge is read from records the store already keeps:

============================  ==============  ============================================
edge                          kind            recorded by
============================  ==============  ============================================
data version -> run           ``input``       a step read it (``podium.load_data``)
run -> data version           ``output``      it was registered inside the run
run -> model version          ``registered``  the version's ``run_id``
data version -> model version ``data_ref``    ``register_model(..., data="data:/NAME/3")``
model version -> model version ``parent``     an online-learning snapshot's ``parent`` tag
model version -> deployment   ``deployed``    a variant of the deployment's spec (an alias
                                              counts for the version it points at now)
deployment -> model version   ``snapshot``    the deployment's online learner registered it
============================  ==============  ============================================

Upstream walks towards the sources (what a thing was made from), downstream towards the
consumers (what was made from it); ``both`` is the union of the two walks.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from podium.core.errors import InvalidNameError, NotFoundError, PodiumError, ValidationError
from podium.core.names import DataRef, ModelRef
from podium.core.records import DataVersion, Deployment, ModelVersion, Run
from podium.store import MetadataStore

DIRECTIONS = ("both", "upstream", "downstream")
_RUN_ID = re.compile(r"[0-9a-f]{26}")
_HISTORY = 10_000  # deployment events read for online snapshots


@dataclass(frozen=True)
class LineageNode:
    """A data version, run, model version or deployment; ``id`` is its reference."""

    id: str  # data:/NAME/3, run:ID, models:/NAME/3, deployment:NAME
    kind: str  # data, run, model, deployment
    label: str

    def to_dict(self) -> dict[str, str]:
        return {"id": self.id, "kind": self.kind, "label": self.label}


@dataclass(frozen=True)
class LineageEdge:
    """``source`` -> ``target``: the target was made from (or serves) the source."""

    source: str
    target: str
    kind: str  # input, output, registered, data_ref, parent, deployed, snapshot
    variant: str | None = None  # for ``deployed``: the deployment's variant
    walk: str = field(default="downstream", compare=False)  # which walk found it

    def to_dict(self) -> dict[str, str]:
        out = {"from": self.source, "to": self.target, "kind": self.kind, "walk": self.walk}
        if self.variant is not None:
            out["variant"] = self.variant
        return out


@dataclass(frozen=True)
class Lineage:
    """The nodes and edges reachable from ``root``; :meth:`to_dict` is the JSON form."""

    root: str
    direction: str
    depth: int | None
    nodes: dict[str, LineageNode]
    edges: tuple[LineageEdge, ...]

    def upstream_of(self, node_id: str) -> list[tuple[LineageEdge, LineageNode]]:
        """What ``node_id`` was made from (edges found by the upstream walk)."""
        return [
            (e, self.nodes[e.source])
            for e in self.edges
            if e.target == node_id and e.walk == "upstream"
        ]

    def downstream_of(self, node_id: str) -> list[tuple[LineageEdge, LineageNode]]:
        """What was made from ``node_id`` (edges found by the downstream walk)."""
        return [
            (e, self.nodes[e.target])
            for e in self.edges
            if e.source == node_id and e.walk == "downstream"
        ]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Lineage:
        """The lineage :meth:`to_dict` wrote (as the control API sends it)."""
        nodes = {n["id"]: LineageNode(n["id"], n["kind"], n["label"]) for n in data["nodes"]}
        edges = tuple(
            LineageEdge(
                e["from"], e["to"], e["kind"], e.get("variant"), e.get("walk", "downstream")
            )
            for e in data["edges"]
        )
        return cls(data["root"], data["direction"], data["depth"], nodes, edges)

    def to_dict(self) -> dict[str, Any]:
        return {
            "root": self.root,
            "direction": self.direction,
            "depth": self.depth,
            "nodes": [n.to_dict() for n in self.nodes.values()],
            "edges": [e.to_dict() for e in self.edges],
        }


def lineage(
    store: MetadataStore, ref: str, *, direction: str = "both", depth: int | None = None
) -> Lineage:
    """The lineage of ``ref``: a data version (``data:/NAME/3``), a run id, a model version
    (``models:/NAME/3``, ``NAME@ALIAS``) or a deployment name, up to ``depth`` hops away.

    >>> lineage(store, "churn@champion", direction="upstream").to_dict()  # doctest: +SKIP
    {'root': 'models:/churn/3', 'nodes': [...], 'edges': [{'from': 'run:...', ...}]}
    """
    if direction not in DIRECTIONS:
        raise ValidationError(
            f"Unknown lineage direction {direction!r}; expected one of {', '.join(DIRECTIONS)}.",
            field="direction",
        )
    if depth is not None and depth < 0:
        raise ValidationError(f"depth must be 0 or more, got {depth}.", field="depth")
    graph = _Graph(store)
    root = graph.resolve(ref)
    nodes = {root.id: root}
    edges: dict[tuple[str, str, str], LineageEdge] = {}
    for walk in ("upstream", "downstream") if direction == "both" else (direction,):
        seen = {root.id}
        frontier = [root.id]
        hops = 0
        while frontier and (depth is None or hops < depth):
            hops += 1
            following = []
            for node_id in frontier:
                for edge, node in graph.neighbours(node_id, walk):
                    key = (edge.source, edge.target, edge.kind)
                    if key not in edges:
                        edges[key] = LineageEdge(
                            edge.source, edge.target, edge.kind, edge.variant, walk
                        )
                    nodes.setdefault(node.id, node)
                    if node.id not in seen:
                        seen.add(node.id)
                        following.append(node.id)
            frontier = following
    return Lineage(root.id, direction, depth, nodes, tuple(edges.values()))


Step = tuple[LineageEdge, LineageNode]


class _Graph:
    """The store seen as a graph; records are read once per query and kept by node id."""

    def __init__(self, store: MetadataStore) -> None:
        self.store = store
        self.records: dict[str, Any] = {}
        self._deployed: list[tuple[Deployment, str, str | None]] | None = None
        self._versions: dict[str, ModelVersion | None] = {}  # model reference -> version
        self._snapshot_of: dict[str, list[Deployment]] | None = None

    # -- nodes -------------------------------------------------------------------------------
    def resolve(self, ref: str) -> LineageNode:
        ref = ref.strip()
        if ref.startswith("data:/"):
            return self._data(self.store.data.get(DataRef.parse(ref)))
        if ref.startswith("run:"):
            return self._run(self.store.runs.get(ref.removeprefix("run:")))
        if ref.startswith("deployment:"):
            return self._deployment(self.store.deployments.get(ref.removeprefix("deployment:")))
        if ref.startswith("models:/") or "@" in ref or "/" in ref:
            return self._model(self.store.models.resolve(ModelRef.parse(ref)))
        # A bare word: a run id, else a deployment, a model (its latest version), a dataset.
        attempts: list[Callable[[], LineageNode]] = [
            lambda: self._deployment(self.store.deployments.get(ref)),
            lambda: self._model(self.store.models.resolve(ModelRef.parse(ref))),
            lambda: self._data(self.store.data.get(DataRef.parse(ref))),
        ]
        if _RUN_ID.fullmatch(ref):
            attempts.insert(0, lambda: self._run(self.store.runs.get(ref)))
        for attempt in attempts:
            try:
                return attempt()
            except (NotFoundError, InvalidNameError):
                continue
        raise NotFoundError(
            f"Nothing called {ref!r}: it is not a run id, a deployment, a model or a dataset.",
            hint="Give a data version (data:/NAME/VERSION), a run id (`podium runs list`), a "
            "model version (models:/NAME/VERSION or NAME@ALIAS) or a deployment name "
            "(`podium deployments list`).",
        )

    def _keep(self, node: LineageNode, record: Any) -> LineageNode:
        self.records[node.id] = record
        return node

    def _data(self, d: DataVersion) -> LineageNode:
        return self._keep(LineageNode(d.uri, "data", f"{d.uri} ({d.rows:,} rows, {d.format})"), d)

    def _run(self, r: Run) -> LineageNode:
        return self._keep(
            LineageNode(f"run:{r.id}", "run", f"run {r.id} ({r.pipeline}, {r.status})"), r
        )

    def _model(self, v: ModelVersion) -> LineageNode:
        aliases = f" @{', @'.join(v.aliases)}" if v.aliases else ""
        return self._keep(LineageNode(v.uri, "model", f"{v.uri}{aliases}"), v)

    def _deployment(self, d: Deployment) -> LineageNode:
        strategy = d.spec.get("strategy", "single")
        label = f"deployment {d.name} ({strategy}, revision {d.revision}, {d.status})"
        return self._keep(LineageNode(f"deployment:{d.name}", "deployment", label), d)

    def _missing(self, ref: str, kind: str) -> LineageNode:
        """A reference a record holds to something that is gone (collected, deleted)."""
        return LineageNode(ref, kind, f"{ref} (not found)")

    def _model_ref(self, ref: str) -> LineageNode:
        version = self._version_of(ref)
        return self._missing(ref, "model") if version is None else self._model(version)

    def _version_of(self, ref: str) -> ModelVersion | None:
        """The version ``ref`` points at now, or None when it points nowhere."""
        if ref not in self._versions:
            try:
                self._versions[ref] = self.store.models.resolve(ModelRef.parse(ref))
            except PodiumError:
                self._versions[ref] = None
        return self._versions[ref]

    # -- edges -------------------------------------------------------------------------------
    def neighbours(self, node_id: str, walk: str) -> Iterator[Step]:
        record = self.records.get(node_id)
        if record is None:  # a missing node: nothing more is known
            return iter(())
        up = walk == "upstream"
        if isinstance(record, DataVersion):
            return self._data_up(record) if up else self._data_down(record)
        if isinstance(record, Run):
            return self._run_up(record) if up else self._run_down(record)
        if isinstance(record, ModelVersion):
            return self._model_up(record) if up else self._model_down(record)
        return self._deployment_up(record) if up else self._deployment_down(record)

    def _data_up(self, d: DataVersion) -> Iterator[Step]:
        if d.run_id:
            run = self._run_or_missing(d.run_id)
            yield LineageEdge(run.id, d.uri, "output"), run

    def _data_down(self, d: DataVersion) -> Iterator[Step]:
        for run_id in self.store.data.runs_reading(DataRef(d.name, d.version)):
            run = self._run_or_missing(run_id)
            yield LineageEdge(d.uri, run.id, "input"), run
        for v in self.store.models.find_versions(data_ref=d.uri):
            yield LineageEdge(d.uri, v.uri, "data_ref"), self._model(v)

    def _run_up(self, r: Run) -> Iterator[Step]:
        for d in self.store.data.inputs_of(r.id):
            yield LineageEdge(d.uri, f"run:{r.id}", "input"), self._data(d)

    def _run_down(self, r: Run) -> Iterator[Step]:
        for d in self.store.data.produced_by(r.id):
            yield LineageEdge(f"run:{r.id}", d.uri, "output"), self._data(d)
        for v in self.store.models.find_versions(run_id=r.id):
            yield LineageEdge(f"run:{r.id}", v.uri, "registered"), self._model(v)

    def _model_up(self, v: ModelVersion) -> Iterator[Step]:
        if v.run_id:
            run = self._run_or_missing(v.run_id)
            yield LineageEdge(run.id, v.uri, "registered"), run
        if v.data_ref and v.data_ref.startswith("data:/"):
            try:
                data = self._data(self.store.data.get(DataRef.parse(v.data_ref)))
            except PodiumError:
                data = self._missing(v.data_ref, "data")
            yield LineageEdge(data.id, v.uri, "data_ref"), data
        parent = v.tags.get("parent")
        if parent:  # an online-learning snapshot: its parent, and the deployment that learnt
            node = self._model_ref(parent)
            yield LineageEdge(node.id, v.uri, "parent"), node
            for dep in self._snapshots().get(v.uri, []):
                node = self._deployment(dep)
                yield LineageEdge(node.id, v.uri, "snapshot"), node

    def _model_down(self, v: ModelVersion) -> Iterator[Step]:
        for dep, variant, uri in self._deployments():
            if uri == v.uri:
                node = self._deployment(dep)
                yield LineageEdge(v.uri, node.id, "deployed", variant), node
        for child in self.store.models.list_versions(v.model, limit=100_000):
            if child.tags.get("parent") == v.uri:
                yield LineageEdge(v.uri, child.uri, "parent"), self._model(child)

    def _deployment_up(self, d: Deployment) -> Iterator[Step]:
        node_id = f"deployment:{d.name}"
        for variant, spec in d.spec.get("variants", {}).items():
            node = self._model_ref(str(spec.get("model", "")))
            yield LineageEdge(node.id, node_id, "deployed", variant), node

    def _deployment_down(self, d: Deployment) -> Iterator[Step]:
        node_id = f"deployment:{d.name}"
        for uri in _snapshot_uris(self.store, d.name):
            node = self._model_ref(uri)
            yield LineageEdge(node_id, node.id, "snapshot"), node

    def _snapshots(self) -> dict[str, list[Deployment]]:
        """Snapshot version -> the deployments whose online learner registered it."""
        if self._snapshot_of is None:
            self._snapshot_of = {}
            # Every deployment: one may have stopped learning online since its snapshots.
            for dep in self.store.deployments.all():
                for uri in _snapshot_uris(self.store, dep.name):
                    self._snapshot_of.setdefault(uri, []).append(dep)
        return self._snapshot_of

    def _run_or_missing(self, run_id: str) -> LineageNode:
        try:
            return self._run(self.store.runs.get(run_id))
        except NotFoundError:
            return self._missing(f"run:{run_id}", "run")

    def _deployments(self) -> list[tuple[Deployment, str, str | None]]:
        """Every deployment's variants with the version each serves now (read once)."""
        if self._deployed is None:
            found = []
            for dep in self.store.deployments.all():
                for variant, spec in dep.spec.get("variants", {}).items():
                    version = self._version_of(str(spec.get("model", "")))
                    found.append((dep, variant, version.uri if version is not None else None))
            self._deployed = found
        return self._deployed


def _snapshot_uris(store: MetadataStore, deployment: str) -> list[str]:
    """The versions the online learner of ``deployment`` registered, oldest first."""
    events = store.deployments.history(deployment, limit=_HISTORY)
    return [
        e.detail["version"]
        for e in reversed(events)
        if e.kind == "online_snapshot" and isinstance(e.detail.get("version"), str)
    ]
