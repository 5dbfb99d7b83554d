"""Settings, read from the environment once and passed down explicitly.

=====================  ==========================================  ======================
variable               meaning                                     default
=====================  ==========================================  ======================
PODIUM_HOME            folder for the embedded store and blobs     ``./.podium``
PODIUM_DB_URL          SQLAlchemy URL of the metadata store        SQLite in PODIUM_HOME
PODIUM_ARTIFACTS_URL   fsspec URL of the artifact store            PODIUM_HOME/artifacts
PODIUM_ACTOR           name recorded in the audit log              the OS user
=====================  ==========================================  ======================
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from podium.core.errors import ConfigError


@dataclass(frozen=True)
class Settings:
    """Where podium keeps its state.

    >>> s = Settings.from_env({"PODIUM_HOME": "/tmp/p"})
    >>> s.db_url
    'sqlite:////tmp/p/podium.db'
    """

    home: Path
    db_url: str
    artifacts_url: str

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        raw_home = env.get("PODIUM_HOME") or ".podium"
        home = Path(raw_home).expanduser().absolute()
        db_url = env.get("PODIUM_DB_URL") or f"sqlite:///{home / 'podium.db'}"
        if "://" not in db_url:
            raise ConfigError(
                f"PODIUM_DB_URL={db_url!r} is not a database URL.",
                hint="Use e.g. postgresql+psycopg://user@host/db or sqlite:////abs/path.db.",
            )
        artifacts_url = env.get("PODIUM_ARTIFACTS_URL") or str(home / "artifacts")
        return cls(home=home, db_url=db_url, artifacts_url=artifacts_url)

    @classmethod
    def at(cls, home: str | Path) -> Settings:
        """Embedded defaults rooted at ``home`` (SQLite + local folder)."""
        return cls.from_env({"PODIUM_HOME": str(home)})
