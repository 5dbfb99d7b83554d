"""Shared fixtures. Expensive things (a trained model, a PostgreSQL database, a running
server) are session-scoped; per-test state (a workspace) is cheap and isolated."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from podium.core.settings import Settings
from podium.testing import require_service
from podium.workspace import Workspace

PG_HOST, PG_PORT = "127.0.0.1", 5432
PG_ADMIN_URL = os.environ.get(
    "PODIUM_TEST_PG_URL", f"postgresql+psycopg://postgres@{PG_HOST}:{PG_PORT}/test"
)


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session (one per xdist worker)."""
    require_service("PostgreSQL", PG_HOST, PG_PORT)
    import sqlalchemy as sa

    name = f"podium_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    yield url
    Workspace.close_all()
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _truncate(url: str) -> None:
    import sqlalchemy as sa

    from podium.store import MetadataStore
    from podium.store.schema import metadata

    MetadataStore(url).close()  # make sure the schema exists
    engine = sa.create_engine(url)
    names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The metadata store URL: every test using it runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'podium.db'}"
    url: str = request.getfixturevalue("pg_database")
    _truncate(url)
    return url


@pytest.fixture(autouse=True)
def _close_workspaces() -> Iterator[None]:
    yield
    Workspace.close_all()


@pytest.fixture
def settings(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings for an isolated workspace, also exported to the environment."""
    monkeypatch.setenv("PODIUM_HOME", str(tmp_path))
    monkeypatch.setenv("PODIUM_DB_URL", db_url)
    monkeypatch.setenv("PODIUM_ARTIFACTS_URL", str(tmp_path / "artifacts"))
    return Settings.from_env()


@pytest.fixture
def workspace(settings: Settings) -> Workspace:
    return Workspace.default()


@pytest.fixture
def sqlite_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    """A workspace on embedded defaults only (for tests about something else than the store)."""
    monkeypatch.setenv("PODIUM_HOME", str(tmp_path))
    monkeypatch.delenv("PODIUM_DB_URL", raising=False)
    monkeypatch.delenv("PODIUM_ARTIFACTS_URL", raising=False)
    return Workspace.default()


@dataclass
class Trained:
    model: Any
    X: Any
    y: Any


@pytest.fixture(scope="session")
def trained() -> Trained:
    """The reference model: StandardScaler + LogisticRegression on breast cancer."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    model = Pipeline([("s", StandardScaler()), ("c", LogisticRegression(max_iter=1000))])
    return Trained(model.fit(X, y), X, y)


@pytest.fixture(params=["local", "remote"])
def both_ways(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Run the test's CLI commands against the local store, then again through a control API
    server (``podium server``) on loopback over the same store, with ``PODIUM_URL`` set.

    List it after the fixtures that fill the store: it starts the server over the store the
    environment names at that moment.
    """
    if request.param == "local":
        yield "local"
        return
    from podium.api import create_control_app
    from podium.serving.server import start_in_thread

    server = start_in_thread(create_control_app(Workspace.current()))
    monkeypatch.setenv("PODIUM_URL", server.url)
    try:
        yield "remote"
    finally:
        monkeypatch.delenv("PODIUM_URL")
        server.stop()


def same_both_ways(args: list[str], **kwargs: Any) -> Any:
    """``podium ARGS`` through Typer's runner; when ``PODIUM_URL`` is set, run again without it
    and require the very same exit code, stdout and stderr (the remote client must print what
    the local one does). Returns the first result."""
    from typer.testing import CliRunner

    from podium.cli.main import app

    runner = CliRunner()
    result = runner.invoke(app, args, **kwargs)
    if os.environ.get("PODIUM_URL"):
        env = {**kwargs.pop("env", {}), "PODIUM_URL": None}
        local = runner.invoke(app, args, env=env, **kwargs)
        assert (result.exit_code, result.stdout, result.stderr) == (
            local.exit_code,
            local.stdout,
            local.stderr,
        ), f"podium {' '.join(args)}: remote and local differ"
    return result
