"""Reading a user's SQL table or query, streamed, for batch scoring (any SQLAlchemy URL).

This is the user's database, not podium's store; it lives here because this package is the
one that speaks SQLAlchemy, and translates its errors.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from podium.core.errors import ValidationError
from podium.store.engine import normalize_url

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")


def table_query(table: str, order_by: str | None) -> str:
    """``SELECT * FROM table [ORDER BY column]``, names checked and quoted."""
    for what, name in (("--table", table), ("--id-column", order_by)):
        if name is not None and not _IDENTIFIER.match(name):
            raise ValidationError(
                f"{what} must be a plain SQL name (letters, digits, _), got {name!r}.",
                field=what.lstrip("-").replace("-", "_"),
                hint="For anything else, pass --query.",
            )
    quoted = ".".join(f'"{part}"' for part in table.split("."))
    return f"SELECT * FROM {quoted}" + (f' ORDER BY "{order_by}"' if order_by else "")


@contextmanager
def _connection(url: str) -> Iterator[Any]:
    from sqlalchemy import create_engine
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

    try:
        engine = create_engine(normalize_url(url))
    except (ArgumentError, NoSuchModuleError) as exc:
        from sqlalchemy.engine import make_url

        try:
            shown = make_url(url).render_as_string(hide_password=True)
        except ArgumentError:
            shown = url.split("@")[-1]  # never echo a password
        raise ValidationError(
            f"Invalid database URL {shown!r}: {exc}.",
            field="input",
            hint="e.g. postgresql://user@host:5432/db or sqlite:////abs/path.db",
        ) from None
    try:
        with engine.connect() as conn:
            yield conn
    except SQLAlchemyError as exc:
        raise ValidationError(
            f"The database at {engine.url.render_as_string(hide_password=True)} refused the "
            f"query: {str(getattr(exc, 'orig', None) or exc).strip().splitlines()[0]}.",
            field="query",
        ) from None
    finally:
        engine.dispose()


def count(url: str, query: str) -> int:
    from sqlalchemy import text

    with _connection(url) as conn:
        return int(conn.execute(text(f"SELECT COUNT(*) FROM ({query}) AS podium_q")).scalar_one())


def read_parts(url: str, query: str, chunk_size: int, start: int = 0) -> Iterator[tuple[int, Any]]:
    """(part number, pyarrow Table) of the query's rows, ``chunk_size`` at a time, streamed
    with a server-side cursor where the driver has one. Parts before ``start`` are fetched
    and dropped: the order must be stable (ORDER BY) for parts to mean the same rows."""
    import pyarrow as pa
    from sqlalchemy import text

    with _connection(url) as conn:
        result = conn.execution_options(stream_results=True).execute(text(query))
        columns = list(result.keys())
        number = 0
        while rows := result.fetchmany(chunk_size):
            if number >= start:
                data = list(zip(*rows, strict=True))  # rows is never empty here
                yield (
                    number,
                    pa.table({c: pa.array(list(v)) for c, v in zip(columns, data, strict=True)}),
                )
            number += 1
