"""The model card of a bundle (Markdown): purpose, data, metrics, signature, lineage,
limitations, and how the bundle proves itself."""

from __future__ import annotations

from typing import Any

from podium.core.records import ModelVersion
from podium.core.signature import Signature
from podium.packaging.lock import Lock
from podium.registry import Registry


def _table(header: list[str], rows: list[list[Any]]) -> str:
    def cell(v: Any) -> str:
        return str(v).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _ranges(registry: Registry, mv: ModelVersion) -> str:
    """Each numeric column's reference range, when a reference profile is stored."""
    ref = registry.reference(mv.uri)
    if ref is None:
        return (
            "No reference profile is stored, so the training data's ranges are unknown here "
            f"(`podium models reference {mv.uri} DATA` records one)."
        )
    rows = []
    for name, col in list(ref.columns.items())[:40]:
        values = getattr(col, "values", None)  # a numeric column's sorted sketch
        if getattr(col, "kind", "") == "numeric" and values is not None and values.size:
            rows.append([name, f"{float(values[0]):.4g}", f"{float(values[-1]):.4g}"])
    if not rows:
        return f"Reference profile: {ref.rows:,} rows (no numeric columns)."
    return (
        f"Inputs outside the range of the reference data ({ref.rows:,} rows) are "
        "extrapolation:\n\n" + _table(["column", "min", "max"], rows)
    )


def model_card(
    mv: ModelVersion, flavor: str, sig: Signature, lock: Lock, registry: Registry
) -> str:
    ref = mv.reference_output or {}
    classes = ref.get("classes")
    tags = dict(mv.tags)
    purpose = mv.description or tags.pop("purpose", "") or "_Not stated at registration._"
    lineage = [
        ["registered", f"{mv.created_at:%Y-%m-%d %H:%M} UTC by {mv.created_by}"],
        ["pipeline run", mv.run_id or "—"],
        ["code version", mv.code_version or "—"],
        ["data version", mv.data_ref or "—"],
    ]
    if "parent" in tags:
        lineage.append(["parent version", tags["parent"]])
    metrics = (
        _table(["metric", "value"], [[k, f"{v:.6g}"] for k, v in sorted(mv.metrics.items())])
        if mv.metrics
        else "_No metrics were recorded with this version._"
    )
    params = sorted(mv.params.items())[:25]
    columns = _table(
        ["#", "column", "type", "nullable"],
        [[i, c.name, c.dtype, "yes" if c.nullable else "no"] for i, c in enumerate(sig.inputs)],
    )
    limitations = tags.pop("limitations", "")
    return f"""# Model card: {mv.model} v{mv.version}

`{mv.uri}`, {flavor} flavor.

## Purpose

{purpose}

## Data

Trained on: {mv.data_ref or "_no data version was recorded_"}.

## Metrics

{metrics}

## Signature

{len(sig.inputs)} input columns, in the order the model reads them{
        f"; classes {classes}" if classes else ""
    }.

{columns}

## Parameters

{_table(["parameter", "value"], [[k, str(v)[:80]] for k, v in params]) if params else "—"}

## Lineage

{_table(["", ""], lineage)}

Tags: {", ".join(f"`{k}={v}`" for k, v in sorted(tags.items())) or "none"}.

## Limitations

{limitations + chr(10) + chr(10) if limitations else ""}{_ranges(registry, mv)}

The model answers for rows that follow the signature above; anything else is refused with
the column named. Its behaviour on data unlike the training data is not measured here:
watch it in production with `podium monitor`.

## Reproducibility

- `requirements.lock` pins {len(lock.pins)} packages for Python {lock.python}{
        "" if not all(p.hashes for p in lock.pins) else ", each with its sha256 hashes"
    }.
- `reference.json` holds what the model answered on `input_example.json`
  ({len(ref.get("predictions") or [])} rows) when it was registered. `podium env create`
  re-creates the environment and proves the model still answers exactly that (labels
  exactly, probabilities within 1e-7 relative).
- `SHA256SUMS` lists every file; `podium build --verify` refuses a bundle that changed.
"""
