from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from podium.artifacts import ArtifactStore, FsspecArtifactStore
from podium.core.errors import IntegrityError
from podium.testing.artifacts import ArtifactStoreConformance


class TestLocalFolder(ArtifactStoreConformance):
    @pytest.fixture
    def store(self, tmp_path: Path) -> ArtifactStore:
        return FsspecArtifactStore(str(tmp_path / "blobs"))

    def test_a_tampered_blob_raises_an_integrity_error(self, tmp_path: Path) -> None:
        store = FsspecArtifactStore(str(tmp_path / "blobs"))
        digest = store.put(b"the real model")
        path = tmp_path / "blobs" / "sha256" / digest[:2] / digest[2:]
        path.write_bytes(b"a swapped model")
        with pytest.raises(IntegrityError, match="tampered"):
            store.get(digest)
        with pytest.raises(IntegrityError):
            store.get_file(digest, tmp_path / "copy")
        assert not (tmp_path / "copy").exists()

    def test_writes_leave_no_temporary_file(self, tmp_path: Path) -> None:
        store = FsspecArtifactStore(str(tmp_path / "blobs"))
        for i in range(10):
            store.put(f"{i}".encode())
        assert list((tmp_path / "blobs" / "tmp").iterdir()) == []

    def test_an_interrupted_write_is_collected(self, tmp_path: Path) -> None:
        store = FsspecArtifactStore(str(tmp_path / "blobs"))
        (tmp_path / "blobs" / "tmp" / "half-written").write_bytes(b"partial")
        assert store.clean_tmp(older_than=0) == 1
        assert list(store.digests()) == []


class TestFsspecMemory(ArtifactStoreConformance):
    """Any fsspec URL works: the in-memory filesystem stands in for s3:// here."""

    @pytest.fixture
    def store(self) -> ArtifactStore:
        return FsspecArtifactStore(f"memory://podium-{uuid.uuid4().hex}")


def test_putting_the_same_content_again_repairs_a_corrupt_blob(tmp_path: Path) -> None:
    store = FsspecArtifactStore(str(tmp_path / "blobs"))
    digest = store.put(b"model bytes")
    path = tmp_path / "blobs" / "sha256" / digest[:2] / digest[2:]
    path.write_bytes(b"rotten bytes")
    assert store.put(b"model bytes") == digest
    assert store.get(digest) == b"model bytes"


def test_clean_tmp_leaves_writes_in_progress_alone(tmp_path: Path) -> None:
    import os
    import time

    store = FsspecArtifactStore(str(tmp_path / "blobs"))
    old = tmp_path / "blobs" / "tmp" / "abandoned"
    old.write_bytes(b"x")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    (tmp_path / "blobs" / "tmp" / "in-progress").write_bytes(b"y")
    assert store.clean_tmp() == 1
    assert [p.name for p in (tmp_path / "blobs" / "tmp").iterdir()] == ["in-progress"]


def test_temporary_files_of_live_writers_and_other_hosts_wait_for_the_age_limit(
    tmp_path: Path,
) -> None:
    """A temporary file is named after its writer (host, pid): a dead local writer's file
    goes at once, a live writer's or another host's only once old."""
    import os
    import subprocess
    import sys

    from podium.artifacts.fsspec_store import _HOST

    store = FsspecArtifactStore(str(tmp_path))
    tmp = tmp_path / "tmp"
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    (tmp / f"{_HOST}-{dead.stdout.strip()}-abc").write_bytes(b"cut")
    (tmp / f"{_HOST}-{os.getpid()}-def").write_bytes(b"mine, in progress")
    (tmp / f"otherhost-{dead.stdout.strip()}-ghi").write_bytes(b"another machine's")
    assert store.clean_tmp() == 1
    assert sorted(p.name for p in tmp.iterdir()) == sorted(
        [f"{_HOST}-{os.getpid()}-def", f"otherhost-{dead.stdout.strip()}-ghi"]
    )
    assert store.clean_tmp(older_than=0) == 2
