"""``podium import mlflow`` and ``podium export MODEL --format mlflow``: MLflow's model folders."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from podium.cli.render import out, print_json
from podium.core.errors import ValidationError

import_app = typer.Typer(
    help="Register models saved by other tools (MLflow).", no_args_is_help=True
)


@import_app.command("mlflow")
def import_mlflow(
    path: Annotated[Path, typer.Argument(help="The MLflow model folder (it holds MLmodel).")],
    name: Annotated[str, typer.Option("--name", help="The podium model to add a version to.")],
    trust: Annotated[
        bool,
        typer.Option(
            "--trust", help="Load a pickled model: it can run any code, so vouch for its source."
        ),
    ] = False,
    alias: Annotated[str | None, typer.Option(help="Point this alias at the new version.")] = None,
    json_: Annotated[bool, typer.Option("--json", help="Print the version as JSON.")] = False,
) -> None:
    """Register a model saved with mlflow.sklearn, with its signature and input example.

    Pickled models need --trust; the file's sha256 is recorded with the version."""
    from podium.interop import import_mlflow as run_import
    from podium.workspace import Workspace

    mv = run_import(Workspace.current(), path, name, trust=trust, alias=alias)
    if json_:
        print_json(mv.to_dict())
        return
    flavor = mv.flavors[0].flavor if mv.flavors else "-"
    digest = mv.tags.get("mlflow.pickle_sha256") or mv.tags.get("mlflow.skops_sha256", "")
    out.print(
        f"Registered {mv.uri} from {path} (flavor {flavor}; MLflow file sha256:{digest[:12]}…)."
    )
    if "mlflow.skops_refused" in mv.tags:
        out.print(f"skops could not re-save it: {mv.tags['mlflow.skops_refused']}")
    out.print(f"Serve it: podium serve {mv.uri}")


def export_mlflow(model_uri: str, out_dir: Path | None, force: bool, json_: bool) -> None:
    """``podium export MODEL_URI --format mlflow --out DIR`` (called by ``podium export``)."""
    from podium.interop import export_mlflow as run_export
    from podium.workspace import Workspace

    if out_dir is None:
        raise ValidationError(
            "--format mlflow needs --out DIR, the folder to write.",
            field="out",
            hint=f"podium export {model_uri} --format mlflow --out DIR",
        )
    path = run_export(Workspace.current(), model_uri, out_dir, force=force)
    files = sorted(p.name for p in path.iterdir())
    if json_:
        print_json({"model": model_uri, "out": str(path), "files": files})
        return
    out.print(f"Wrote {path}: {', '.join(files)}.")
    out.print(f"Load it: mlflow.pyfunc.load_model({str(path)!r})", markup=False)


def export_format(first: str, second: str | None, format: str | None) -> tuple[str, str]:
    """(model URI, format) of ``podium export``: ``MODEL --format F``, or ``mlflow MODEL``."""
    if second is None:
        if first == "mlflow" and format is None:  # the alias form, missing its model
            raise ValidationError(
                "`podium export mlflow` needs the model to export.",
                field="model_uri",
                hint="podium export mlflow MODEL_URI --out DIR (a model named mlflow: "
                "podium export models:/mlflow/1).",
            )
        return first, format or "onnx"
    if first != "mlflow":
        raise ValidationError(
            f"podium export takes one model, got {first!r} and {second!r}.",
            field="model_uri",
            hint="podium export MODEL_URI --format onnx|mlflow (or podium export mlflow "
            "MODEL_URI --out DIR).",
        )
    if format not in (None, "mlflow"):
        raise ValidationError(
            f"`podium export mlflow` writes MLflow's format, not --format {format}.",
            field="format",
            hint=f"podium export {second} --format {format}",
        )
    return second, "mlflow"
