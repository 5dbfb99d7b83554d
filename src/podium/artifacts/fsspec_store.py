"""Artifact store on any fsspec filesystem: a local folder by default, ``s3://`` and others."""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
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
    :meth:`clean_tmp`). On a local folder the file is flushed to disk (``fsync``) before
    the rename and the folder after it, so even a power cut leaves either the whole blob
    or none under its digest. Object stores make each put atomic by themselves.

    A temporary name carries its writer's host and process id: opening a local store
    removes the temporary files of writers that died on this host (kill -9) at once,
    others once they are an hour old.

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
        if self.local:
            # Recovery after a crash: one listing of a folder that is usually empty. A
            # read-only store still serves reads.
            with contextlib.suppress(OSError):
                self.clean_tmp()

    def _path(self, digest: str) -> str:
        d = check_digest(digest)
        return f"{self.root}/sha256/{d[:2]}/{d[2:]}"

    def put(self, data: bytes) -> str:
        digest = sha256_bytes(data)
        path = self._path(digest)
        if self.local and self._intact(path, digest):
            self._touch(path)
            return digest
        # On an object store the upload is the write and also makes the blob young again
        # (see _touch); checking the stored copy first would cost a download anyway.
        tmp = self._tmp_name()
        try:
            with self._open_tmp(tmp) as fh:
                fh.write(data)
                self._sync(fh)
            self._commit(tmp, path)
        except BaseException:
            self._discard(tmp)
            raise
        return digest

    def put_file(self, path: str | Path) -> str:
        h = hashlib.sha256()
        tmp = self._tmp_name()
        try:
            with open(path, "rb") as src, self._open_tmp(tmp) as dst:
                for chunk in iter(lambda: src.read(CHUNK), b""):
                    h.update(chunk)
                    dst.write(chunk)
                self._sync(dst)
            digest = h.hexdigest()
            target = self._path(digest)
            if self.local and self._intact(target, digest):
                self._touch(target)
                self._discard(tmp)
            else:
                self._commit(tmp, target)
        except BaseException:
            self._discard(tmp)
            raise
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

        A file whose writer was a process of this host that no longer exists goes at once;
        any other only once untouched for ``older_than`` seconds: it may be a write in
        progress in another process or on another host.
        """
        removed = 0
        now = time.time()
        for entry in self.fs.ls(f"{self.root}/tmp", detail=True):
            modified = _mtime(entry)
            name = str(entry["name"]).rstrip("/").rsplit("/", 1)[-1]
            young = modified is not None and now - modified < older_than
            if young and not _writer_died(name):
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
        return f"{self.root}/tmp/{_HOST}-{os.getpid()}-{uuid.uuid4().hex}"

    def _open_tmp(self, tmp: str) -> Any:
        # A local file is opened directly, so that it can be fsync'ed before the rename.
        return open(tmp, "wb") if self.local else self.fs.open(tmp, "wb")

    def _sync(self, fh: Any) -> None:
        if self.local:
            fh.flush()
            os.fsync(fh.fileno())

    def _commit(self, tmp: str, path: str) -> None:
        parent = path.rsplit("/", 1)[0]
        self.fs.makedirs(parent, exist_ok=True)
        if self.local:
            os.replace(tmp, path)  # atomic on POSIX; fsspec's mv may copy then delete
            _fsync_dir(parent)  # the rename itself survives a power cut
        else:
            self.fs.mv(tmp, path)

    def _touch(self, path: str) -> None:
        """Make a reused blob young again: garbage collection spares blobs younger than its
        grace period, so a blob an in-flight registration is about to reference (identical
        content stored before, since unreferenced) is not deleted under it."""
        with contextlib.suppress(OSError):  # another user's file in a shared folder
            os.utime(path)

    def _discard(self, tmp: str) -> None:
        """Remove ``tmp`` if it is still there (the write failed, or was not needed)."""
        with contextlib.suppress(OSError):  # a leftover is collected by clean_tmp
            if self.local:
                os.unlink(tmp)
            elif self.fs.exists(tmp):
                self.fs.rm(tmp)

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


def _host() -> str:
    """This machine, as temporary file names record it: the host name, and on Linux the
    process-id namespace too (containers sharing a volume may share a host name, but a pid
    means something only in its own namespace). No dashes, so names split cleanly."""
    name = "".join(c for c in socket.gethostname() if c.isalnum() or c in "._")[:64] or "host"
    try:
        return f"{name}.{os.stat('/proc/self/ns/pid').st_ino}"
    except OSError:
        return name


# Temporary files are named HOST-PID-UUID (the pid read at each write: forked workers
# have their own), so recovery can tell a dead writer's leftovers from a write in progress.
_HOST = _host()


def _writer_died(name: str) -> bool:
    """Whether temporary file ``name`` was written by a process of this host that is gone."""
    host, _, rest = name.partition("-")
    pid, _, _ = rest.partition("-")
    if host != _HOST or not pid.isdigit() or os.name == "nt":  # os.kill(pid, 0) kills there
        return False
    if int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # it exists, owned by someone else
        return False
    return False


def _fsync_dir(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):  # some filesystems refuse fsync on a directory
            os.fsync(fd)
    finally:
        os.close(fd)


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
