"""Content-addressed artifact store over fsspec."""

from podium.artifacts.base import ArtifactStore
from podium.artifacts.fsspec_store import FsspecArtifactStore

__all__ = ["ArtifactStore", "FsspecArtifactStore", "open_store"]


def open_store(url: str) -> ArtifactStore:
    """Open the artifact store at ``url`` (a folder or any fsspec URL)."""
    return FsspecArtifactStore(url)
