"""``podium build`` (bundles) and ``podium env create|check`` (their environments)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from podium.cli.render import err, out, print_json

app = typer.Typer(no_args_is_help=True, help="Environments re-created from bundles.")


def build(
    target: Annotated[
        str | None,
        typer.Argument(help="A model URI (models:/NAME/VERSION, NAME@ALIAS) or a deployment."),
    ] = None,
    out_: Annotated[Path | None, typer.Option("--out", help="The bundle folder to write.")] = None,
    archive: Annotated[bool, typer.Option(help="Also write OUT.tar.gz.")] = False,
    docker: Annotated[bool, typer.Option(help="Add a Dockerfile and .dockerignore.")] = False,
    hashes: Annotated[
        bool, typer.Option(help="Lock with the sha256 hashes the package index lists.")
    ] = True,
    force: Annotated[bool, typer.Option(help="Replace an existing bundle at --out.")] = False,
    image: Annotated[
        str | None,
        typer.Option(help="Also build the image with this tag (implies --docker; needs Docker)."),
    ] = None,
    verify: Annotated[
        Path | None,
        typer.Option(help="Check a bundle against its SHA256SUMS instead of building one."),
    ] = None,
    json_: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Write a self-contained bundle: model, signature, reference predictions, lock, card."""
    from podium.packaging import bundle as bundles
    from podium.workspace import Workspace

    if verify is not None:
        if target is not None or out_ is not None:
            raise typer.BadParameter("--verify DIR checks a bundle; it takes no TARGET or --out.")
        b = bundles.open_bundle(verify)
        n = sum(1 for line in (verify / "SHA256SUMS").read_text().splitlines() if line)
        if json_:
            print_json({"bundle": str(verify), "model": b.uri, "files": n, "ok": True})
        else:
            out.print(f"{verify}: {n} files match their sha256 ({escape(b.uri)}).")
        return
    if target is None or out_ is None:
        raise typer.BadParameter("podium build needs TARGET and --out DIR (or --verify DIR).")
    docker = docker or image is not None
    result = bundles.build(
        Workspace.current(),
        target,
        out_,
        archive=archive,
        docker=docker,
        hashes=hashes,
        force=force,
    )
    size = None
    if image is not None:
        from podium.packaging.docker import build_image

        size = build_image(out_, image)
    if json_:
        print_json(result.to_dict() | {"docker": docker, "image": image, "image_bytes": size})
        return
    out.print(
        f"Bundle of {escape(result.model)} ({result.flavor}) in {escape(str(result.out))}: "
        f"{result.files} files, {result.bytes / 1e6:.1f} MB, {result.packages} packages "
        f"locked{' with hashes' if result.hashed else ''}, in {result.seconds:.1f} s."
    )
    if result.archive:
        out.print(f"Archive: {escape(str(result.archive))}")
    if docker:
        out.print(f"Dockerfile: {escape(str(out_ / 'Dockerfile'))}")
    if size is not None:
        out.print(f"Image {escape(str(image))}: {size / 1e6:.0f} MB.")
    err.print(f"Next: podium env create {escape(str(out_))}")


@app.command("create")
def env_create(
    bundle: Annotated[Path, typer.Argument(help="A bundle folder from `podium build`.")],
    python: Annotated[
        str | None, typer.Option(help="Python X.Y for the environment (default: this one).")
    ] = None,
    venv: Annotated[
        Path | None, typer.Option(help="Where to create it (default: BUNDLE.venv).")
    ] = None,
    json_: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Create a virtual environment from the bundle's lock and prove parity inside it."""
    from podium.packaging.env import create

    if not json_:
        err.print(f"Creating the environment of {escape(str(bundle))} ...")
    result = create(bundle, python=python, venv=venv)
    if json_:
        print_json(result.to_dict())
    else:
        out.print(
            f"{escape(str(result.venv))}: Python {result.python}, {result.packages} packages "
            f"({result.installer}, {result.seconds_install:.1f} s)."
        )
        _report(result.parity)
    if not result.ok:
        raise typer.Exit(1)


@app.command("check")
def env_check(
    bundle: Annotated[Path, typer.Argument(help="A bundle folder from `podium build`.")],
    json_: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """In this environment: verify the bundle, load its model, compare with the reference."""
    import platform

    from podium.packaging.bundle import open_bundle

    b = open_bundle(bundle)
    report = b.parity().to_dict() | {"model": b.uri, "python": platform.python_version()}
    if json_:
        print_json(report)
    else:
        _report(report)
    if not report["ok"]:
        raise typer.Exit(1)


def _report(parity: dict[str, Any]) -> None:
    rows, tol = parity.get("rows"), parity.get("tolerance") or {}
    if parity.get("ok"):
        out.print(
            f"[green]PASS[/] parity on {rows} example rows: labels identical, probabilities "
            f"within {tol.get('probabilities_rtol', 0):g} relative and "
            f"{tol.get('probabilities_atol', 0):g} absolute "
            f"(max difference {parity.get('max_abs_diff', 0):.3g}).",
            markup=True,
        )
        return
    diffs = parity.get("differences") or []
    out.print(f"[red]FAIL[/] parity: {len(diffs)} of {rows} rows differ:", markup=True)
    for d in diffs[:10]:
        out.print(f"  row {d['row']}: expected {d['expected']!r}, got {d['got']!r}")
