"""The store's engine wrapper: read and write transactions with errors translated."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError, StatementError

from podium.core.errors import ConflictError, StoreError, ValidationError


class Database:
    """Holds the engine; ``read()`` and ``write()`` yield connections inside a transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self._translate(), self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        with self._translate(), self.engine.connect() as conn:
            conn.execution_options(podium_write=True)
            with conn.begin():
                yield conn

    @contextmanager
    def translate_errors(self) -> Iterator[None]:
        """Turn SQLAlchemy errors into podium errors (for work outside read/write)."""
        with self._translate():
            yield

    @contextmanager
    def _translate(self) -> Iterator[None]:
        try:
            yield
        except IntegrityError as exc:
            raise ConflictError(
                f"The change conflicts with stored data: {_first_line(exc)}.",
                hint="Re-read the current state and try again.",
            ) from exc
        except DataError as exc:  # the value's fault: a number out of range, a NUL in text
            raise ValidationError(
                f"A value cannot be stored: {_first_line(exc)}.",
                hint="Check the values sent: no NUL characters in text, numbers in range.",
            ) from exc
        except OperationalError as exc:
            raise StoreError(
                f"The metadata store at {self.engine.url!r} failed: {_first_line(exc)}.",
                hint="Check PODIUM_DB_URL and that the database is reachable.",
            ) from exc
        except DBAPIError as exc:
            raise StoreError(f"The metadata store failed: {_first_line(exc)}.") from exc
        except StatementError as exc:  # a value no column can hold (JSON: an int past 64 bits)
            raise ValidationError(
                f"A value cannot be stored: {exc.orig}.",
                hint="Check the values sent: integers must fit in 64 bits.",
            ) from exc


def _first_line(exc: DBAPIError) -> str:
    return str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
