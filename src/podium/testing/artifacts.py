"""Conformance suite for :class:`~podium.artifacts.ArtifactStore` implementations.

Subclass it in a test module and provide a ``store`` fixture::

    class TestMyStore(ArtifactStoreConformance):
        @pytest.fixture
        def store(self, tmp_path):
            return MyStore(tmp_path)
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from podium.artifacts import ArtifactStore
from podium.core.errors import InvalidNameError, NotFoundError


class ArtifactStoreConformance:
    """Behaviour every artifact store must have."""

    def test_put_returns_the_sha256_and_get_returns_the_bytes(self, store: ArtifactStore) -> None:
        data = b"podium" * 1000
        digest = store.put(data)
        assert digest == hashlib.sha256(data).hexdigest()
        assert store.get(digest) == data
        assert store.get(f"sha256:{digest}") == data
        assert store.size(digest) == len(data)

    def test_identical_content_is_stored_once(self, store: ArtifactStore) -> None:
        a = store.put(b"same")
        b = store.put(b"same")
        assert a == b
        assert list(store.digests()).count(a) == 1

    def test_put_file_streams_and_get_file_verifies(
        self, store: ArtifactStore, tmp_path: Path
    ) -> None:
        src = tmp_path / "big.bin"
        src.write_bytes(bytes(range(256)) * 20_000)  # 5 MB: several chunks
        digest = store.put_file(src)
        assert digest == hashlib.sha256(src.read_bytes()).hexdigest()
        dest = store.get_file(digest, tmp_path / "out" / "copy.bin")
        assert dest.read_bytes() == src.read_bytes()
        assert not [p for p in dest.parent.iterdir() if p.name.endswith(".part")]

    def test_missing_blob_is_a_not_found_error(self, store: ArtifactStore) -> None:
        with pytest.raises(NotFoundError, match="not in the artifact store"):
            store.get("0" * 64)
        assert not store.exists("0" * 64)

    @pytest.mark.parametrize(
        "key",
        ["../../etc/passwd", "/etc/passwd", "sha256:../x", "a" * 63, "A" * 64, "", "x/../y"],
    )
    def test_keys_that_are_not_digests_are_rejected(self, store: ArtifactStore, key: str) -> None:
        with pytest.raises(InvalidNameError):
            store.get(key)
        with pytest.raises(InvalidNameError):
            store.exists(key)

    def test_delete_and_list(self, store: ArtifactStore) -> None:
        digests = {store.put(f"blob {i}".encode()) for i in range(5)}
        assert digests <= set(store.digests())
        victim = sorted(digests)[0]
        assert store.delete(victim) is True
        assert store.delete(victim) is False
        assert victim not in set(store.digests())
