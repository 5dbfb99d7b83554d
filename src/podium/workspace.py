"""A workspace: the settings, the metadata store and the artifact store, opened lazily."""

from __future__ import annotations

import threading
from contextvars import ContextVar
from functools import cached_property

from podium.artifacts import ArtifactStore, open_store
from podium.core.settings import Settings
from podium.store import MetadataStore

_lock = threading.Lock()
_open: dict[Settings, Workspace] = {}
# Set by the pipeline runner so code inside a step (podium.register_model ...) writes to
# the workspace of its run.
_current: ContextVar[Workspace | None] = ContextVar("podium_workspace", default=None)


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

    @classmethod
    def current(cls) -> Workspace:
        """The workspace of the running pipeline, else :meth:`default`."""
        return _current.get() or cls.default()

    @staticmethod
    def activated() -> Workspace | None:
        """The workspace a running pipeline activated, else None."""
        return _current.get()

    def activate(self) -> object:
        """Make this the current workspace; pass the token to :meth:`deactivate`."""
        return _current.set(self)

    @staticmethod
    def deactivate(token: object) -> None:
        _current.reset(token)  # type: ignore[arg-type]

    def close(self) -> None:
        if "store" in self.__dict__:
            self.store.close()

    @staticmethod
    def close_all() -> None:
        """Close and forget every cached default workspace (tests, long-lived hosts)."""
        with _lock:
            for ws in _open.values():
                ws.close()
            _open.clear()
