"""Batch scoring: stream parts of the input through the model into partitioned output.

Each part becomes one output file, written under a temporary name and renamed into place,
and only then recorded in the manifest (``_manifest.jsonl``, one line per part). A re-run
skips the parts the manifest lists for the same model version and unchanged input; a job
killed at any point resumes with neither duplicate nor missing rows, because a part is
either fully written and recorded, or rewritten from scratch.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from podium.batch.rows import check_columns, validate
from podium.batch.sources import InputFile, is_database, list_inputs, read_parts, sql_input
from podium.core.errors import ValidationError
from podium.registry import Predictor

log = logging.getLogger("podium.batch")
MANIFEST = "_manifest.jsonl"
REJECTS = "_rejects"
OUTPUT_FORMATS = ("parquet", "csv")
EXECUTORS = ("local", "ray")

Progress = Callable[[int, int | None], None]  # (rows done, rows in total if known)


class TooManyErrors(ValidationError):
    """More rows failed validation than ``max_errors`` allows."""


@dataclass
class BatchResult:
    output: str
    model_version: str
    rows: int = 0  # scored in this run
    rejected: int = 0
    parts_written: int = 0
    parts_skipped: int = 0  # already scored by this model version
    seconds: float = 0.0
    files: list[str] = field(default_factory=list)
    flavor: str = ""  # what scored it: onnx (the fast path), sklearn, ...
    flavor_choice: dict[str, Any] | None = None  # how it was chosen (podium.batch.choice)

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "rows_per_s": self.rows_per_s}


def score(
    model: Predictor | str,
    input: str,
    output: str,
    *,
    chunk_size: int = 100_000,
    id_column: str | None = None,
    output_format: str = "parquet",
    input_format: str | None = None,
    max_errors: int = 0,
    progress: Progress | None = None,
    executor: str = "local",
    table: str | None = None,
    query: str | None = None,
    flavor: str | None = None,
) -> BatchResult:
    """Score every row of ``input`` with ``model`` (a predictor, or a model URI loaded from the
    current workspace) into the folder ``output``.

    For a URI, ``flavor`` names what scores (sklearn, onnx, or any flavor the version has);
    by default (auto) the faster of the model and its ONNX fast path on this input's first
    rows does (:mod:`podium.batch.choice`).

    >>> score("models:/churn@champion", "data/*.parquet", "scored/")  # doctest: +SKIP
    """
    import fsspec

    from podium.batch.choice import FlavorChoice, candidates, choose

    if isinstance(model, str):
        from podium.client import Client

        options = candidates(model, flavor, Client().load)
    elif flavor is not None:
        raise ValidationError(
            "flavor applies to a model URI; a predictor scores with its own.", field="flavor"
        )
    else:
        options = [model]
    predictor = options[0]
    if predictor.signature is None or predictor.version is None:
        raise ValidationError(
            "Batch scoring needs a registered model with a signature.",
            field="model",
            hint="Register it with an input_example.",
        )
    if output_format not in OUTPUT_FORMATS:
        raise ValidationError(
            f"--format must be parquet or csv, got {output_format!r}.", field="format"
        )
    if chunk_size < 1:
        raise ValidationError("--chunk-size must be at least 1.", field="chunk_size")
    if executor not in EXECUTORS:
        raise ValidationError(
            f"--executor must be local or ray, got {executor!r}.", field="executor"
        )
    t0 = time.perf_counter()
    fs, root = fsspec.core.url_to_fs(output)
    if is_database(input):
        inputs = [sql_input(input, table=table, query=query, order_by=id_column)]
    elif table is not None or query is not None:
        raise ValidationError(
            "--table and --query read a database: INPUT must then be a database URL.",
            field="input",
            hint="e.g. postgresql://user@host/db or sqlite:////path/to.db",
        )
    else:  # never read our own output (an output folder inside the input folder)
        inputs = [f for f in list_inputs(input, input_format) if not _inside(f.name, root)]
    if not inputs:
        raise ValidationError(
            f"{input!r} holds nothing to score outside the output folder {output!r}.",
            field="input",
        )
    if isinstance(model, str):
        predictor, choice = choose(options, inputs, chunk_size, flavor)
    else:
        choice = FlavorChoice(predictor.runtime, "asked", "a predictor was given")
    # Every option is a flavor of the version checked above.
    assert predictor.version is not None and predictor.signature is not None
    fs.makedirs(root, exist_ok=True)
    fs.makedirs(f"{root}/{REJECTS}", exist_ok=True)
    version = predictor.version.uri
    records = _manifest(fs, f"{root}/{MANIFEST}")
    result = BatchResult(output, version, flavor=choice.flavor, flavor_choice=choice.to_dict())
    known = [f.rows for f in inputs if f.rows is not None]
    total = sum(known) if len(known) == len(inputs) else None
    job = _Job(
        fs,
        root,
        output,
        version,
        chunk_size,
        output_format,
        max_errors,
        progress,
        total,
        choice.flavor,
    )

    text = tuple(predictor.signature.columns) + ((id_column,) if id_column else ())

    def work() -> Iterator[tuple[InputFile, int, Any]]:
        """(file, part, its rows or None for a Parquet part a Ray task reads itself)."""
        for f in inputs:
            finished = _clean(
                fs,
                root,
                f,
                [r for r in records if r["input"] == f.name],
                (f.fingerprint, version, chunk_size),
            )
            start = 0
            while start in finished:
                start += 1
            job.seen += start * chunk_size if f.rows is None else min(start * chunk_size, f.rows)
            result.parts_skipped += start
            if executor == "ray" and f.fmt == "parquet" and f.rows is not None:
                for number in range(start, -(-f.rows // chunk_size)):
                    if number in finished:
                        result.parts_skipped += 1
                        job.seen += min(chunk_size, f.rows - number * chunk_size)
                    else:
                        yield f, number, None
                continue
            for number, table in read_parts(f, chunk_size, start, text):
                if number in finished:
                    result.parts_skipped += 1
                    job.seen += table.num_rows
                else:
                    yield f, number, table

    spec = _PartSpec(chunk_size, id_column, len(inputs), output_format, version)
    if executor == "ray":
        from podium.batch.ray_executor import run_on_ray

        run_on_ray(predictor, work(), spec, fs, root, job, result)
    else:
        for f, number, table in work():
            job.done(
                f, number, _score_to_files(predictor, f, number, table, spec, fs, root), result
            )
    result.seconds = time.perf_counter() - t0
    return result


@dataclass(frozen=True)
class _PartSpec:
    chunk_size: int
    id_column: str | None
    n_inputs: int
    output_format: str
    version: str

    def tag(self, f: InputFile) -> str:
        return _tag((f.fingerprint, self.version, self.chunk_size))


@dataclass(frozen=True)
class Written:
    """What scoring one part left on disk."""

    name: str
    rows: int
    rejected: int
    first_reason: str | None


@dataclass
class _Job:
    """The driver's bookkeeping: the manifest, the counts, progress and --max-errors."""

    fs: Any
    root: str
    output: str
    version: str
    chunk_size: int
    output_format: str
    max_errors: int
    progress: Progress | None
    total: int | None
    flavor: str = ""
    seen: int = 0

    def done(self, f: InputFile, number: int, w: Written, result: BatchResult) -> None:
        _record(
            self.fs,
            f"{self.root}/{MANIFEST}",
            f,
            number,
            self.version,
            self.chunk_size,
            w.rows,
            w.name,
            w.rejected,
            self.flavor,
        )
        result.files.append(w.name)
        result.parts_written += 1
        result.rows += w.rows
        result.rejected += w.rejected
        self.seen += w.rows + w.rejected
        if self.progress is not None:
            self.progress(self.seen, self.total)
        if result.rejected > self.max_errors:
            raise TooManyErrors(
                f"Stopped after {result.rejected} rejected row(s), more than --max-errors "
                f"{self.max_errors} (first in {f.name}: {w.first_reason}).",
                field="max_errors",
                hint=f"See {self.output.rstrip('/')}/{REJECTS}/; fix the input or raise "
                "--max-errors, then run again: scored parts are kept.",
            )


def _tag(state: tuple[str, str, int]) -> str:
    """A short hash of (input fingerprint, model version, chunk size), in part file names: parts
    of different states never share a name, so a file is never mistaken for another's."""
    return hashlib.sha1("|".join(map(str, state)).encode()).hexdigest()[:8]


def _clean(
    fs: Any, root: str, f: InputFile, mine: list[dict[str, Any]], current: tuple[str, str, int]
) -> set[int]:
    """The parts of one input already scored as ``current`` (recorded, and still on disk).
    Files of this input in any other state (model version, chunk size, content), recorded
    or not, are stale and removed: the rows are about to be scored again."""
    tag = _tag(current)
    for folder in (root, f"{root}/{REJECTS}"):
        for path in fs.glob(f"{folder}/part-{f.key}-*"):
            if f"-{tag}-" not in path.rsplit("/", 1)[-1]:
                fs.rm(path)
    return {
        int(r["part"])
        for r in mine
        if _state(r) == current and _is_part(r.get("file")) and fs.exists(f"{root}/{r['file']}")
    }


def _is_part(name: object) -> bool:
    """Whether a manifest's file entry is a part file of this folder (the manifest is a
    plain file in the output: a hand-edited ``../x`` must not make podium look elsewhere)."""
    return (
        isinstance(name, str) and name.startswith("part-") and "/" not in name and ".." not in name
    )


def _score_to_files(
    predictor: Predictor,
    f: InputFile,
    number: int,
    table: Any,
    spec: _PartSpec,
    fs: Any,
    root: str,
) -> Written:
    """Score one part (reading it first when ``table`` is None) and write its files."""
    if table is None:
        table = next(iter(read_parts(f, spec.chunk_size, number)))[1]
    scored, rejected = _part(
        predictor, f, number, table, spec.chunk_size, spec.id_column, spec.n_inputs
    )
    name = f"part-{f.key}-{spec.tag(f)}-{number:06d}.{spec.output_format}"
    _write(fs, f"{root}/{name}", scored, spec.output_format)
    first = None
    if rejected is not None:
        _write(fs, f"{root}/{REJECTS}/{name}", rejected, spec.output_format)
        first = rejected.column("reason")[0].as_py()
    return Written(name, scored.num_rows, 0 if rejected is None else rejected.num_rows, first)


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def _manifest(fs: Any, path: str) -> list[dict[str, Any]]:
    """The manifest's records, oldest first; a line cut by a crash is ignored (its part is
    redone)."""
    if not fs.exists(path):
        return []
    out = []
    with fs.open(path, "r") as f:
        for line in f:
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return out


def _state(record: dict[str, Any]) -> tuple[str, str, int]:
    return record["fingerprint"], record["model_version"], int(record.get("chunk_size", 0))


def _part(
    predictor: Predictor,
    f: InputFile,
    number: int,
    table: Any,
    chunk_size: int,
    id_column: str | None,
    n_inputs: int,
) -> tuple[Any, Any]:
    """(scored rows, rejected rows or None) of one part, as pyarrow Tables."""
    import pyarrow as pa

    sig = predictor.signature
    assert sig is not None  # checked by score()
    names = table.column_names
    check_columns(names, sig, f.name)
    if id_column is not None and id_column not in names:
        raise ValidationError(
            f"{f.name} has no id column {id_column!r}.",
            field="id_column",
            hint=f"Its columns: {', '.join(names[:10])}.",
        )
    frame = table.select([c for c in sig.columns if c in names]).to_pandas()
    x, ok, reasons = validate(frame, sig)
    if id_column is not None:
        ids = table.column(id_column)
        id_name = id_column
    else:
        first = number * chunk_size
        ids = pa.array(np.arange(first, first + table.num_rows, dtype=np.int64))
        id_name = "row"
    now = datetime.now(UTC)
    keep = pa.array(ok)
    cols: dict[str, Any] = {id_name: ids.filter(keep)}
    m = int(ok.sum())
    if n_inputs > 1:
        cols["source"] = _constant(f.name, m)
    if ok.any():
        labels, proba = predictor.infer_arrays(x)
        cols["prediction"] = pa.array(labels)
        if proba is not None and predictor.classes is not None:
            for i, c in enumerate(predictor.classes):
                cols[f"proba_{c}"] = pa.array(proba[:, i])
    else:
        cols["prediction"] = pa.array([], pa.null())
    cols["model_version"] = _constant(predictor.version.uri, m)  # type: ignore[union-attr]
    stamp = np.datetime64(now.replace(tzinfo=None), "us")
    cols["scored_at"] = pa.array(np.full(m, stamp), pa.timestamp("us", tz="UTC"))
    scored = pa.table(cols)
    if ok.all():
        return scored, None
    bad = pa.array(~ok)
    rejected = table.filter(bad)
    rejected = pa.table(
        {
            id_name: ids.filter(bad),
            # the input's own columns, then the reason (an input column "reason" is renamed)
            **{
                (c if c != "reason" else "input_reason"): rejected.column(c).cast(pa.string())
                for c in rejected.column_names
                if c != id_name
            },
            "reason": pa.array([r for r in reasons if r is not None], pa.string()),
        }
    )
    return scored, rejected


def _constant(value: str, n: int) -> Any:
    """A column of one repeated string, dictionary-encoded: one copy, not n."""
    import pyarrow as pa

    return pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, dtype=np.int32)), [value])


def _write(fs: Any, path: str, table: Any, fmt: str) -> None:
    """Write under a temporary name, then rename: a reader never sees half a file."""
    tmp = f"{path}.tmp"
    with fs.open(tmp, "wb") as out:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            pq.write_table(table, out)
        else:
            from pyarrow import csv

            csv.write_csv(table, out)
    fs.mv(tmp, path)


def _record(
    fs: Any,
    path: str,
    f: InputFile,
    number: int,
    version: str,
    chunk_size: int,
    rows: int,
    name: str,
    rejected: int,
    flavor: str = "",
) -> None:
    line = {
        "input": f.name,
        "fingerprint": f.fingerprint,
        "part": number,
        "model_version": version,
        "chunk_size": chunk_size,
        "rows": rows,
        "rejected": rejected,
        "file": name,
        "flavor": flavor,
        "at": datetime.now(UTC).isoformat(),
    }
    with fs.open(path, "a") as out:
        out.write(json.dumps(line) + "\n")
        out.flush()
