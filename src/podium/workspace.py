"""A workspace: the settings, the metadata store and the artifact store, opened lazily."""

from __future__ import annotations

import threading
from functools import cached_property

from podium.artifacts import ArtifactStore, open_store
from podium.core.settings import Settings
from podium.store import MetadataStore

_lock = threading.Lock()
_open: dict[Settings, Workspace] = {}


class Workspace:
    """Where podium keeps state. One per process per settings (see :meth:`default`).

    >>> ws = Workspace(Settings.at("/tmp/podium-demo"))
    >>> ws.store.backend
    'sqlite'
    """

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings.from_env()

    @cached_property
    def store(self) -> MetadataStore:
        return MetadataStore(self.settings.db_url)

    @cached_property
    def artifacts(self) -> ArtifactStore:
        return open_store(self.settings.artifacts_url)

    @classmethod
    def default(cls) -> Workspace:
        """The workspace of the current environment (``PODIUM_HOME`` and friends)."""
        settings = Settings.from_env()
        with _lock:
            ws = _open.get(settings)
            if ws is None:
                ws = _open[settings] = cls(settings)
            return ws

    def close(self) -> None:
        if "store" in self.__dict__:
            self.store.close()
