"""``podium export`` (ONNX, checked against the original) and ``podium edge bundle``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from podium.cli.render import out, print_json

app = typer.Typer(help="Edge deployment: standalone bundles of an exported model.")


def export(
    model_uri: Annotated[str, typer.Argument(help="models:/NAME/3 or NAME@alias.")],
    mlflow_model: Annotated[
        str | None,
        typer.Argument(help="Only after the word mlflow: podium export mlflow MODEL_URI --out D."),
    ] = None,
    format: Annotated[
        str | None, typer.Option("--format", help="onnx (default) or mlflow.")
    ] = None,
    quantize: Annotated[
        str | None, typer.Option(help="onnx: int8 dynamic quantization (networks' weights).")
    ] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="mlflow: the folder to write.")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="mlflow: replace the MLflow model in --out.")
    ] = False,
    json_: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Convert a registered version to ONNX, check it against the original, and add it to
    the same version as the onnx flavor; or, with --format mlflow --out DIR (also
    `podium export mlflow MODEL_URI --out DIR`), write it as an MLflow model folder."""
    from podium.cli import interop
    from podium.core.errors import ValidationError
    from podium.edge import export_onnx
    from podium.workspace import Workspace

    model_uri, format = interop.export_format(model_uri, mlflow_model, format)
    if format == "mlflow":
        if quantize is not None:
            raise ValidationError("--quantize applies to --format onnx.", field="quantize")
        interop.export_mlflow(model_uri, out_dir, force, json_)
        return
    if format != "onnx":
        raise ValidationError(f"--format takes onnx or mlflow, got {format!r}.", field="format")
    if out_dir is not None or force:
        raise ValidationError(
            "--out and --force apply to --format mlflow: an ONNX export becomes a flavor of "
            "the version itself.",
            field="out",
            hint="Then `podium edge bundle MODEL_URI --out DIR` writes it to a folder.",
        )
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
