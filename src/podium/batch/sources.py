"""Batch inputs: files, folders, globs and fsspec URLs, read as fixed-size parts.

A part is ``chunk_size`` consecutive rows of one input file, numbered from 0. The numbering
depends only on the file and the chunk size, so a re-run finds the same parts and can skip
those already scored. Parquet skips whole row groups to reach a part; CSV and JSON Lines
are parsed up to it (pyarrow's streaming readers), never loaded whole.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from podium.core.errors import ValidationError
from podium.data.versions import FORMATS as DATA_FORMATS

# The suffixes data versions read, and .json for JSON Lines exports named that way.
FORMATS = {**DATA_FORMATS, ".json": "jsonl"}
GLOB_CHARS = set("*?[")


@dataclass(frozen=True)
class InputFile:
    url: str  # what fsspec opens
    name: str  # the path as listed: the source of its rows in the output
    fmt: str
    fingerprint: str  # size and modification time (or etag): a changed file is re-scored
    rows: int | None  # known up front for Parquet and SQL
    query: str | None = None  # for a database input

    @property
    def key(self) -> str:
        """A short stable id for output file names."""
        return hashlib.sha1(self.name.encode()).hexdigest()[:10]


def list_inputs(spec: str, fmt: str | None = None) -> list[InputFile]:
    """The files ``spec`` names (a file, a folder, a glob or an fsspec URL), sorted."""
    import fsspec

    try:
        fs, path = fsspec.core.url_to_fs(spec)
    except (ImportError, ValueError) as exc:
        raise ValidationError(
            f"Cannot open {spec!r}: {exc}.",
            field="input",
            hint="Use a path, a glob or an fsspec URL (s3://... needs s3fs).",
        ) from None
    protocol = fs.protocol[0] if isinstance(fs.protocol, tuple | list) else fs.protocol
    if any(c in path for c in GLOB_CHARS):
        paths = sorted(fs.glob(path))
    elif fs.isdir(path):
        paths = sorted(p for p in fs.find(path) if _format(p, fmt, strict=False))
    elif fs.exists(path):
        paths = [path]
    else:
        raise ValidationError(f"No such input: {spec!r}.", field="input")
    if not paths:
        raise ValidationError(
            f"{spec!r} names no CSV, Parquet or JSON Lines file.",
            field="input",
            hint="Point at a file, a folder of them, or a glob such as 'data/*.parquet'.",
        )
    out = []
    for p in paths:
        info = fs.info(p)
        stamp = info.get("mtime") or info.get("LastModified") or info.get("ETag") or ""
        f = _format(p, fmt, strict=True) or ""
        # A remote file keeps its protocol in the output's source column: "bucket/key" alone
        # would not say which store it came from.
        url = p if protocol in ("file", "local") else fs.unstrip_protocol(p)
        rows = _parquet_rows(fs, p) if f == "parquet" else None
        out.append(InputFile(url, url, f, f"{info.get('size')}:{stamp}", rows))
    return out


SQL_SCHEMES = ("postgresql", "postgres", "sqlite", "mysql", "mariadb", "mssql", "oracle")


def is_database(spec: str) -> bool:
    scheme = spec.split("://", 1)[0] if "://" in spec else ""
    return scheme.split("+", 1)[0].lower() in SQL_SCHEMES


def sql_input(url: str, *, table: str | None, query: str | None, order_by: str | None) -> InputFile:
    """A table or query of a database as one input: its parts are chunks of the result, in
    ``order_by`` order (a table) or the query's own (give it an ORDER BY)."""
    from podium.store import sql

    if (table is None) == (query is None):
        raise ValidationError(
            "A database input needs --table NAME or --query 'SELECT ...' (one of them).",
            field="table",
        )
    if table is not None and order_by is None:
        raise ValidationError(
            "A table has no order of its own; parts (and resuming) need one.",
            field="id_column",
            hint="Add --id-column with the table's key: rows are read in its order.",
        )
    if query is not None and "order by" not in " ".join(query.lower().split()):
        raise ValidationError(
            "The query needs an ORDER BY: parts (and resuming) need a stable row order.",
            field="query",
            hint="e.g. SELECT ... FROM customers ORDER BY customer_id",
        )
    text = query if query is not None else sql.table_query(str(table), order_by)
    rows = sql.count(url, text)
    name = (
        f"table:{table}"
        if table is not None
        else "query:" + hashlib.sha1(text.encode()).hexdigest()[:12]
    )
    # The content of a table has no cheap fingerprint; its size and the query stand in.
    return InputFile(
        url, name, "sql", f"{rows}:{hashlib.sha1(text.encode()).hexdigest()}", rows, query=text
    )


def _format(path: str, fmt: str | None, *, strict: bool) -> str | None:
    if fmt is not None:
        return fmt
    suffix = "." + path.rsplit(".", 1)[-1].lower() if "." in path.rsplit("/", 1)[-1] else ""
    found = FORMATS.get(suffix)
    if found is None and strict:
        raise ValidationError(
            f"Cannot tell the format of {path!r}.",
            field="format",
            hint="Use .csv, .parquet or .jsonl files, or pass --format.",
        )
    return found


def _parquet_rows(fs: Any, path: str) -> int:
    import pyarrow.parquet as pq

    with fs.open(path, "rb") as f:
        return int(pq.ParquetFile(f).metadata.num_rows)


def read_parts(
    f: InputFile, chunk_size: int, start: int = 0, text: tuple[str, ...] = ()
) -> Iterator[tuple[int, Any]]:
    """(part number, pyarrow Table of up to ``chunk_size`` rows) from part ``start`` on.

    CSV and JSON Lines columns named in ``text`` are read as text: their types are the
    model's business (a bad value is one rejected row), not the reader's guess from the
    first megabytes (where a bad value deep in the file would fail the whole job)."""
    import fsspec

    if f.fmt == "sql":
        from podium.store import sql

        yield from sql.read_parts(f.url, str(f.query), chunk_size, start)
        return
    with fsspec.open(f.url, "rb") as stream:
        try:
            if f.fmt == "parquet":
                yield from _parquet(stream, chunk_size, start)
            else:
                yield from _rechunk(_text_batches(stream, f.fmt, text), chunk_size, start, 0)
        except ValidationError:
            raise
        except Exception as exc:  # a parser error of pyarrow: the file is bad, say which
            raise ValidationError(
                f"{f.name} is not readable as {f.fmt}: {type(exc).__name__}: {exc}.",
                field="input",
            ) from None


def _parquet(stream: Any, chunk_size: int, start: int) -> Iterator[tuple[int, Any]]:
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(stream)
    skip = start * chunk_size
    first, offset = 0, 0  # the row group holding row `skip`, and the row it starts at
    for i in range(pf.num_row_groups):
        n = pf.metadata.row_group(i).num_rows
        if offset + n > skip:
            first = i
            break
        offset += n
    else:
        return
    batches = pf.iter_batches(batch_size=chunk_size, row_groups=range(first, pf.num_row_groups))
    yield from _rechunk(batches, chunk_size, start, offset)


def _text_batches(stream: Any, fmt: str, text: tuple[str, ...]) -> Iterator[Any]:
    import pyarrow as pa

    if fmt == "csv":
        import csv as pycsv

        from pyarrow import csv

        # Every column as text (empty = null): the header says which columns there are.
        head = stream.read(1 << 16)
        first = head.split(b"\n", 1)[0].decode("utf-8-sig").rstrip("\r")
        names = next(pycsv.reader([first]), [])
        rest = io.BufferedReader(_Prefixed(head, stream))  # the bytes already read, then on
        yield from csv.open_csv(
            rest,
            read_options=csv.ReadOptions(block_size=1 << 22),
            convert_options=csv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=True
            ),
        )
        return
    # JSON values keep their JSON types (1.5, "x", null in one column), which Arrow's
    # reader cannot hold in one column: pandas reads them, as text where asked.
    import pandas as pd

    for frame in pd.read_json(stream, lines=True, chunksize=1 << 16, dtype=False):
        for c in frame.columns:
            if c in text or frame[c].dtype == object:
                frame[c] = frame[c].map(lambda v: v if v is None else str(v), na_action="ignore")
        if len(frame):
            yield from pa.Table.from_pandas(frame, preserve_index=False).to_batches()


def _rechunk(
    batches: Iterator[Any], chunk_size: int, start: int, first_row: int
) -> Iterator[tuple[int, Any]]:
    """Exact ``chunk_size``-row parts, numbered by row position in the file; ``first_row`` is
    the file row of the first batch. Parts before ``start`` are dropped unread by the model."""
    import pyarrow as pa

    pending: list[Any] = []
    have = 0
    row = first_row  # file row of pending[0]'s first row
    for batch in batches:
        if batch.num_rows == 0:
            continue
        pending.append(batch)
        have += batch.num_rows
        while have >= chunk_size or (have and row % chunk_size):
            table = pa.Table.from_batches(pending)
            # Align to part boundaries: the first part may start mid-batch after a skip.
            take = chunk_size - (row % chunk_size)
            if have < take:
                break
            part, rest = table.slice(0, take), table.slice(take)
            number = row // chunk_size
            if number >= start:
                yield number, part
            row += take
            pending = rest.to_batches() if rest.num_rows else []
            have = rest.num_rows
    if have:
        number = row // chunk_size
        if number >= start:
            yield number, pa.Table.from_batches(pending)


class _Prefixed(io.RawIOBase):
    """A stream that replays ``head`` before reading on from ``stream``."""

    def __init__(self, head: bytes, stream: Any) -> None:
        self.head = memoryview(head)
        self.stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.head:
            n = min(len(buffer), len(self.head))
            buffer[:n] = self.head[:n]
            self.head = self.head[n:]
            return n
        data = self.stream.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)
