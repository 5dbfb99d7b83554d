"""The artifact store interface: content-addressed blobs keyed by sha256."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path


class ArtifactStore(ABC):
    """Content-addressed blobs. Keys are sha256 hex digests; nothing else names a blob.

    Implementations write atomically, verify the hash on every read (raising
    :class:`~podium.core.errors.IntegrityError` on a mismatch) and store identical
    content once. The conformance suite is :mod:`podium.testing.artifacts`.
    """

    url: str

    @abstractmethod
    def put(self, data: bytes) -> str:
        """Store ``data``; return its digest. Storing the same bytes twice is a no-op."""

    @abstractmethod
    def put_file(self, path: str | Path) -> str:
        """Store a local file by streaming it; return its digest."""

    @abstractmethod
    def get(self, digest: str) -> bytes:
        """The bytes of ``digest``, verified against it."""

    @abstractmethod
    def get_file(self, digest: str, dest: str | Path) -> Path:
        """Copy the blob to ``dest`` (verified, written atomically); return ``dest``."""

    @abstractmethod
    def exists(self, digest: str) -> bool: ...

    @abstractmethod
    def delete(self, digest: str) -> bool:
        """Remove the blob; return whether it existed."""

    @abstractmethod
    def digests(self) -> Iterator[str]:
        """Every stored digest (for garbage collection)."""

    @abstractmethod
    def size(self, digest: str) -> int: ...

    @abstractmethod
    def age(self, digest: str) -> float | None:
        """Seconds since the blob was written, when the backend knows."""
