"""Artifact store on any fsspec filesystem: a local folder by default, ``s3://`` and others."""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fsspec

from podium.artifacts.base import ArtifactStore
from podium.core.errors import ConfigError, IntegrityError, NotFoundError
from podium.core.hashing import CHUNK, sha256_bytes
from podium.core.names import check_digest


class FsspecArtifactStore(ArtifactStore):
    """Blobs at ``ROOT/sha256/ab/cdef...``; temporary writes under ``ROOT/tmp``.

    Writes go to a unique temporary name and are renamed into place, so a reader never
    sees half a blob and a crash leaves only a temporary file (collected by
    :meth:`clean_tmp`). Object stores make each put atomic by themselves.

    >>> import tempfile
    >>> store = FsspecArtifactStore(tempfile.mkdtemp())
    >>> d = store.put(b"hello")
    >>> store.get(d)
    b'hello'
    """

    def __init__(self, url: str, **storage_options: Any) -> None:
        self.url = url
        try:
            fs, root = fsspec.core.url_to_fs(url, **storage_options)
        except (ImportError, ValueError) as exc:
            raise ConfigError(
                f"Cannot open artifact store {url!r}: {exc}.",
                hint="Install the fsspec backend for that URL (e.g. pip install s3fs).",
            ) from exc
        self.fs = fs
        self.root = root.rstrip("/")
        self.local = "file" in (fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,))
        self.fs.makedirs(f"{self.root}/tmp", exist_ok=True)

    def _path(self, digest: str) -> str:
        d = check_digest(digest)
        return f"{self.root}/sha256/{d[:2]}/{d[2:]}"

    def put(self, data: bytes) -> str:
        digest = sha256_bytes(data)
        path = self._path(digest)
        if self._intact(path, digest):
            return digest
        tmp = self._tmp_name()
        with self.fs.open(tmp, "wb") as fh:
            fh.write(data)
        self._commit(tmp, path)
        return digest

    def put_file(self, path: str | Path) -> str:
        h = hashlib.sha256()
        tmp = self._tmp_name()
        with open(path, "rb") as src, self.fs.open(tmp, "wb") as dst:
            for chunk in iter(lambda: src.read(CHUNK), b""):
                h.update(chunk)
                dst.write(chunk)
        digest = h.hexdigest()
        target = self._path(digest)
        if self._intact(target, digest):
            self.fs.rm(tmp)
        else:
            self._commit(tmp, target)
        return digest

    def get(self, digest: str) -> bytes:
        path = self._path(digest)
        try:
            data: bytes = self.fs.cat_file(path)
        except FileNotFoundError:
            raise self._missing(digest) from None
        if sha256_bytes(data) != check_digest(digest):
            raise self._corrupt(digest, path)
        return data

    def get_file(self, digest: str, dest: str | Path) -> Path:
        path = self._path(digest)
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        part = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.part")
        h = hashlib.sha256()
        try:
            with self.fs.open(path, "rb") as src, open(part, "wb") as out:
                for chunk in iter(lambda: src.read(CHUNK), b""):
                    h.update(chunk)
                    out.write(chunk)
        except FileNotFoundError:
            part.unlink(missing_ok=True)
            raise self._missing(digest) from None
        if h.hexdigest() != check_digest(digest):
            part.unlink(missing_ok=True)
            raise self._corrupt(digest, path)
        os.replace(part, dest)
        return dest

    def exists(self, digest: str) -> bool:
        return bool(self.fs.exists(self._path(digest)))

    def size(self, digest: str) -> int:
        try:
            return int(self.fs.size(self._path(digest)))
        except FileNotFoundError:
            raise self._missing(digest) from None

    def age(self, digest: str) -> float | None:
        try:
            modified = _mtime(self.fs.info(self._path(digest)))
        except FileNotFoundError:
            raise self._missing(digest) from None
        return None if modified is None else time.time() - modified

    def delete(self, digest: str) -> bool:
        path = self._path(digest)
        if not self.fs.exists(path):
            return False
        self.fs.rm(path)
        return True

    def digests(self) -> Iterator[str]:
        base = f"{self.root}/sha256"
        if not self.fs.exists(base):
            return
        for prefix in sorted(self.fs.ls(base, detail=False)):
            head = str(prefix).rstrip("/").rsplit("/", 1)[-1]
            for entry in sorted(self.fs.ls(prefix, detail=False)):
                tail = str(entry).rstrip("/").rsplit("/", 1)[-1]
                yield head + tail

    def clean_tmp(self, older_than: float = 3600.0) -> int:
        """Remove temporary files left by interrupted writes; return how many.

        Only files untouched for ``older_than`` seconds go: younger ones may be writes in
        progress in another process.
        """
        removed = 0
        now = time.time()
        for entry in self.fs.ls(f"{self.root}/tmp", detail=True):
            modified = _mtime(entry)
            if modified is not None and now - modified < older_than:
                continue
            try:
                self.fs.rm(entry["name"])
                removed += 1
            except FileNotFoundError:  # finished (renamed) meanwhile
                continue
        return removed

    def _intact(self, path: str, digest: str) -> bool:
        """Whether a stored blob exists with the right content (a corrupt one is rewritten)."""
        if not self.fs.exists(path):
            return False
        h = hashlib.sha256()
        with self.fs.open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(CHUNK), b""):
                h.update(chunk)
        return h.hexdigest() == digest

    def _tmp_name(self) -> str:
        return f"{self.root}/tmp/{uuid.uuid4().hex}"

    def _commit(self, tmp: str, path: str) -> None:
        parent = path.rsplit("/", 1)[0]
        self.fs.makedirs(parent, exist_ok=True)
        if self.local:
            os.replace(tmp, path)  # atomic on POSIX; fsspec's mv may copy then delete
        else:
            self.fs.mv(tmp, path)

    def _missing(self, digest: str) -> NotFoundError:
        return NotFoundError(
            f"Blob sha256:{check_digest(digest)} is not in the artifact store at {self.url}.",
            hint="Check PODIUM_ARTIFACTS_URL points at the store the registry was written with.",
        )

    def _corrupt(self, digest: str, path: str) -> IntegrityError:
        return IntegrityError(
            f"Blob {path} does not match its hash sha256:{check_digest(digest)}: it is corrupt "
            "or was tampered with.",
            hint="Restore it from a backup or re-register the model; podium will not use it.",
        )


def _mtime(entry: dict[str, Any]) -> float | None:
    """Modification time of an ``ls(detail=True)`` entry, as the backends report it."""
    for key in ("mtime", "LastModified", "last_modified", "created"):
        value = entry.get(key)
        if value is None:
            continue
        if hasattr(value, "timestamp"):
            return float(value.timestamp())
        try:
            return float(value)
        except (TypeError, ValueError):
            continue
    return None
