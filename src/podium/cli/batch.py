"""``podium batch``: score a file, folder or glob into partitioned Parquet or CSV."""

from __future__ import annotations

from typing import Annotated

import typer

from podium.cli.render import err, out, print_json


def batch(
    model_uri: Annotated[str, typer.Argument(help="models:/NAME/3 or NAME@alias.")],
    input: Annotated[
        str, typer.Argument(help="A file, folder, glob, fsspec URL, or a database URL.")
    ],
    output: Annotated[str, typer.Argument(help="The output folder (parts + manifest).")],
    chunk_size: Annotated[
        int, typer.Option(min=1, help="Rows per part: peak memory follows it.")
    ] = 100_000,
    id_column: Annotated[
        str | None, typer.Option(help="Carry this input column as each row's id.")
    ] = None,
    max_errors: Annotated[
        int, typer.Option(min=0, help="Rows that may fail validation (to _rejects/).")
    ] = 0,
    output_format: Annotated[str, typer.Option("--format", help="parquet or csv.")] = "parquet",
    input_format: Annotated[
        str | None, typer.Option(help="csv, parquet or jsonl (default: by suffix).")
    ] = None,
    flavor: Annotated[
        str | None,
        typer.Option(
            help="sklearn, onnx (or any flavor the version has); default: the faster of the "
            "model and its ONNX fast path, measured on the input's first rows."
        ),
    ] = None,
    table: Annotated[
        str | None, typer.Option(help="With a database URL: score this table.")
    ] = None,
    query: Annotated[
        str | None, typer.Option(help="With a database URL: score this query's rows.")
    ] = None,
    executor: Annotated[
        str, typer.Option(help="local, or ray: parts as Ray tasks (same output).")
    ] = "local",
    json_: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Score every row of INPUT with a registered model, by parts, resumably.

    Re-running skips the parts already scored by the same model version, so an
    interrupted job picks up where it stopped.
    """
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from podium.batch import score

    bar = Progress(
        TextColumn("scoring"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("rows"),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
        disable=json_ or not err.is_terminal,
    )
    import time

    started = time.perf_counter()
    with bar:
        task = bar.add_task("score", total=None, rate="")

        def progress(done: int, total: int | None) -> None:
            rate = done / max(time.perf_counter() - started, 1e-9)
            bar.update(task, completed=done, total=total, rate=f"{rate:,.0f} rows/s")

        result = score(
            model_uri,
            input,
            output,
            chunk_size=chunk_size,
            id_column=id_column,
            output_format=output_format,
            input_format=input_format,
            max_errors=max_errors,
            progress=progress,
            executor=executor,
            table=table,
            query=query,
            flavor=flavor,
        )
    if json_:
        print_json(result.to_dict())
        return
    skipped = f", {result.parts_skipped} already scored" if result.parts_skipped else ""
    rejected = f", {result.rejected:,} rejected (see _rejects/)" if result.rejected else ""
    choice = result.flavor_choice or {}
    why = f"; {choice['reason']}" if choice.get("how") == "measured" else ""
    out.print(
        f"Scored {result.rows:,} rows with {result.model_version} ({result.flavor}{why}) "
        f"in {result.seconds:.1f} s "
        f"({result.rows_per_s:,.0f} rows/s): {result.parts_written} part(s) written"
        f"{skipped}{rejected}, into {output}."
    )
