"""Engines for SQLite (embedded default) and PostgreSQL, with the settings concurrency needs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool

from podium.core.errors import ConfigError

# SQLite: how long a writer waits for the lock before giving up (ms).
BUSY_TIMEOUT_MS = 60_000


def normalize_url(url: str) -> str:
    """Route bare ``postgresql://`` URLs to psycopg 3, the driver podium depends on."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def sqlite_path(url: str) -> Path | None:
    """The database file of a SQLite URL, or None for other backends and memory DBs."""
    u = make_url(url)
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:":
        return None
    return Path(u.database)


def make_engine(url: str) -> Engine:
    """Create an engine; on SQLite, WAL + busy timeout + ``BEGIN IMMEDIATE`` for writers.

    ``BEGIN IMMEDIATE`` takes the write lock when the transaction starts: a deferred
    transaction that reads and then writes can fail at once with "database is locked"
    when another writer got in between, and the busy timeout cannot help it.
    """
    url = normalize_url(url)
    try:
        u = make_url(url)
    except Exception as exc:
        raise ConfigError(
            f"Invalid database URL {url!r}: {exc}.",
            hint="Use postgresql+psycopg://user@host:5432/db or sqlite:////abs/path/podium.db.",
        ) from exc
    backend = u.get_backend_name()
    if backend == "sqlite":
        path = sqlite_path(url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            json_serializer=_dumps,
            json_deserializer=_loads,
            connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
            # One shared connection keeps an in-memory database alive and the same for all.
            poolclass=StaticPool if path is None else None,
        )
        _sqlite_events(engine)
        return engine
    if backend == "postgresql":
        return create_engine(
            url,
            pool_pre_ping=True,
            pool_size=5,
            max_overflow=10,
            json_serializer=_dumps,
            json_deserializer=_loads,
        )
    raise ConfigError(
        f"Unsupported database backend {backend!r} in {url!r}.",
        hint="podium supports SQLite (default) and PostgreSQL.",
    )


def _sqlite_events(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves, below
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        # The default 2 MiB page cache turns prediction log inserts into disk reads once
        # the log outgrows it; pages are only allocated as they are used.
        cur.execute("PRAGMA cache_size=-65536")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        write = conn.get_execution_options().get("podium_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def _dumps(value: object) -> str:
    """JSON columns through orjson: the prediction log writes thousands of rows a second.

    NaN and infinity become null (PostgreSQL's JSON refuses them anyway)."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY).decode()


def _loads(value: str | bytes | float) -> object:
    # SQLite gives a JSON column holding a bare number back as that number.
    return value if isinstance(value, int | float) else orjson.loads(value)
