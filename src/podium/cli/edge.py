"""``podium export`` (ONNX, checked against the original) and ``podium edge bundle``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from podium.cli.render import out, print_json

app = typer.Typer(help="Edge deployment: standalone bundles of an exported model.")


def export(
    model_uri: Annotated[str, typer.Argument(help="models:/NAME/3 or NAME@alias.")],
    format: Annotated[str, typer.Option("--format", help="onnx.")] = "onnx",
    quantize: Annotated[
        str | None, typer.Option(help="int8: dynamic quantization (networks' weights).")
    ] = None,
    json_: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Convert a registered version to ONNX, check it against the original, and add it to
    the same version as the onnx flavor."""
    from podium.core.errors import ValidationError
    from podium.edge import export_onnx
    from podium.workspace import Workspace

    if format != "onnx":
        raise ValidationError(f"--format takes onnx, got {format!r}.", field="format")
    e = export_onnx(Workspace.current(), model_uri, quantize=quantize)
    if json_:
        print_json(e.to_dict())
        return
    diff = "-" if e.max_proba_diff is None else f"{e.max_proba_diff:.2g}"
    out.print(
        f"{e.model}: flavor {e.flavor} ({e.bytes:,} bytes). On its {e.rows_checked} example "
        f"rows: labels agree {e.label_agreement:.2%}, max probability difference {diff}."
        + (f" Note: {e.note}." if e.note else "")
    )
    out.print(f"Serve it: podium serve {e.model} --flavor {e.flavor}")


@app.command("bundle")
def bundle(
    model_uri: Annotated[str, typer.Argument(help="A version exported with `podium export`.")],
    out_dir: Annotated[Path, typer.Option("--out", help="The folder to write.")],
    flavor: Annotated[str, typer.Option(help="onnx or onnx-int8.")] = "onnx",
    json_: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """A standalone folder: model.onnx, signature, checksums, README and predict.py, which
    needs only onnxruntime and numpy."""
    from podium.edge.bundle import write_bundle
    from podium.workspace import Workspace

    b = write_bundle(Workspace.current(), model_uri, out_dir, flavor=flavor)
    if json_:
        print_json(b)
        return
    out.print(f"Wrote {out_dir}: {', '.join(b['files'])}.")
    out.print(f"Try: python {out_dir / 'predict.py'} records.json")
