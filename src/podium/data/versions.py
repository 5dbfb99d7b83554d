"""Register and load data versions: files, URLs or DataFrames, by content hash."""

from __future__ import annotations

import io
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from podium.core.context import current_actor, run_id_var
from podium.core.errors import ValidationError
from podium.core.names import DataRef
from podium.core.records import DataVersion
from podium.core.signature import Signature
from podium.data.profile import profile
from podium.workspace import Workspace

FORMATS = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}


def register_data(
    source: Any,
    name: str,
    *,
    format: str | None = None,
    workspace: Workspace | None = None,
    label: str | None = None,
) -> DataVersion:
    """Register ``source`` (a path, an fsspec URL, or a DataFrame) as a version of ``name``.

    Identical content is the same version: registering it again returns that version.
    ``label`` is recorded as the source instead of ``source`` (an upload's original path).

    >>> dv = register_data("data/churn.csv", "churn")  # doctest: +SKIP
    >>> dv.uri, dv.rows  # doctest: +SKIP
    ('data:/churn/1', 10000)
    """
    import pandas as pd

    ws = workspace or Workspace.current()
    if isinstance(source, pd.DataFrame):
        buf = io.BytesIO()
        source.to_parquet(buf, index=False)
        data = buf.getvalue()
        digest = ws.artifacts.put(data)
        return _record(ws, name, digest, "parquet", "<DataFrame>", len(data), source)
    with local_file(source, format) as (path, fmt, text):
        digest = ws.artifacts.put_file(path)
        frame = _read(path, fmt, label or text)  # an upload's errors name the client's file
        size = path.stat().st_size
    return _record(ws, name, digest, fmt, label or text, size, frame)


@contextmanager
def local_file(source: Any, format: str | None = None) -> Iterator[tuple[Path, str, str]]:
    """``source`` (a path or an fsspec URL) as a local file, checked as :func:`register_data`
    checks it: ``(path, format, source as text)``; a URL is downloaded for the duration."""
    if not isinstance(source, str | Path):
        raise ValidationError(
            f"Cannot register a {type(source).__name__} as data.",
            field="source",
            hint="Pass a file path, an fsspec URL (s3://...) or a pandas DataFrame.",
        )
    text = str(source)
    fmt = _format(text, format)
    with _local_copy(text) as path:
        yield path, fmt, text


def read_table(source: str | Path, *, format: str | None = None) -> Any:
    """Read a CSV, Parquet or JSON-lines file (a path or an fsspec URL) as a DataFrame,
    without registering it."""
    text = str(source)
    fmt = _format(text, format)
    with _local_copy(text) as path:
        return _read(path, fmt, text)


def _format(text: str, given: str | None) -> str:
    fmt = given or FORMATS.get(Path(text.split("?")[0]).suffix.lower())
    if fmt not in ("csv", "parquet", "jsonl"):
        raise ValidationError(
            f"Cannot tell the format of {text!r}.",
            field="format",
            hint="Use a .csv, .parquet or .jsonl file, or pass format='csv'|'parquet'|'jsonl'.",
        )
    return fmt


def load_data(ref: str | DataRef, *, workspace: Workspace | None = None) -> Any:
    """The DataFrame of a data version (verified against its hash).

    Inside a pipeline step the read is recorded, so the run's lineage shows the version.
    """
    ws = workspace or Workspace.current()
    dv = get_data(ref, workspace=ws)
    with tempfile.TemporaryDirectory() as tmp:
        path = ws.artifacts.get_file(dv.digest, Path(tmp) / f"data.{dv.format}")
        frame = _read(path, dv.format, dv.uri)
    run_id = run_id_var.get()
    if run_id is not None:
        ws.store.data.record_input(run_id, dv, None)
    return frame


def get_data(ref: str | DataRef, *, workspace: Workspace | None = None) -> DataVersion:
    ws = workspace or Workspace.current()
    return ws.store.data.get(ref if isinstance(ref, DataRef) else DataRef.parse(ref))


def _record(
    ws: Workspace, name: str, digest: str, fmt: str, source: str, size: int, frame: Any
) -> DataVersion:
    schema = {"columns": Signature.infer(frame).to_dict()["inputs"]} if len(frame.columns) else {}
    dv, created = ws.store.data.create_version(
        name,
        digest=digest,
        format=fmt,
        source=source[:4000],
        rows=len(frame),
        size=size,
        schema=schema,
        profile=profile(frame),
        created_by=current_actor(),
        run_id=run_id_var.get(),
    )
    if created:  # pipelines scheduled --on-data NAME fire on this
        ws.store.schedules.emit(f"data:{name}", {"data": dv.uri, "version": dv.version})
    return dv


@contextmanager
def _local_copy(url: str) -> Iterator[Path]:
    """A local path for ``url``: the file itself, or a temporary download."""
    if "://" not in url or url.startswith("file://"):
        path = Path(url.removeprefix("file://"))
        if not path.is_file():
            raise ValidationError(f"No such file: {url!r}.", field="source")
        yield path
        return
    import fsspec

    with tempfile.TemporaryDirectory() as tmp:
        dest = Path(tmp) / "download"
        try:
            fs, remote = fsspec.core.url_to_fs(url)
            fs.get(remote, str(dest))
        except (ImportError, ValueError, OSError) as exc:  # FileNotFoundError is an OSError
            raise ValidationError(
                f"Cannot read {url!r}: {exc}.",
                field="source",
                hint="Check the URL and that its fsspec backend is installed (e.g. s3fs).",
            ) from None
        yield dest


def _read(path: Path, fmt: str, label: str) -> Any:
    import pandas as pd

    try:
        if fmt == "csv":
            return pd.read_csv(path)
        if fmt == "parquet":
            return pd.read_parquet(path)
        return pd.read_json(path, lines=True)
    except Exception as exc:  # parser errors of three libraries: all mean a bad file
        detail = str(exc).replace(str(path), label)  # a download or upload: name the source
        raise ValidationError(
            f"{label} is not readable as {fmt}: {type(exc).__name__}: {detail}.",
            field="source",
            hint="Check the file, or pass the right format.",
        ) from None
