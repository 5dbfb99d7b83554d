"""SHA256SUMS files: every file of a folder with its hash, checkable with ``sha256sum -c``."""

from __future__ import annotations

import hashlib
from pathlib import Path

from podium.core.errors import IntegrityError

SUMS = "SHA256SUMS"


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_sums(folder: Path) -> Path:
    """Hash every file under ``folder`` (but the sums file itself) into ``SHA256SUMS``."""
    lines = [
        f"{file_sha256(p)}  {p.relative_to(folder).as_posix()}\n"
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != SUMS
    ]
    out = folder / SUMS
    out.write_text("".join(lines))
    return out


def verify_sums(folder: Path) -> int:
    """Check ``folder`` against its ``SHA256SUMS``: a changed, missing or added file is
    refused by name. Returns the number of files checked."""
    sums = folder / SUMS
    if not sums.is_file():
        raise IntegrityError(
            f"{folder} has no {SUMS}: it is not a bundle, or it was not finished.",
            hint="Build it again with `podium build`.",
        )
    # A link could make a listed name read a file elsewhere on this machine (the sums
    # come with the folder, so they would agree): a bundle holds plain files only.
    links = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_symlink())
    if links:
        raise IntegrityError(
            f"{folder}: {_first(links)} is a symbolic link; a bundle holds plain files only, "
            "and a link can lead outside it.",
            hint="Rebuild it with `podium build`; copy a bundle as files (cp -rL), not links.",
        )
    listed: dict[str, str] = {}
    for n, line in enumerate(sums.read_text().splitlines(), 1):
        digest, sep, name = line.partition("  ")
        bad = not name or name.startswith("/") or ".." in name or "\\" in name or "\x00" in name
        if not sep or len(digest) != 64 or bad:
            raise IntegrityError(f"{sums} line {n} is malformed: {line[:80]!r}.")
        listed[name] = digest
    present = {
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and p.name != SUMS and "__pycache__" not in p.parts
    }
    for name, digest in listed.items():
        if name not in present:
            raise IntegrityError(f"{folder}: {name} is listed in {SUMS} but missing.")
        if file_sha256(folder / name) != digest:
            raise IntegrityError(
                f"{folder}: {name} does not match its recorded sha256: it was changed.",
                hint="Rebuild the bundle from the registry; do not edit a bundle by hand.",
            )
    extra = sorted(present - set(listed))
    if extra:
        raise IntegrityError(
            f"{folder}: {_first(extra)} is not listed in {SUMS}: something was added.",
            hint="Remove it, or rebuild the bundle.",
        )
    return len(listed)


def _first(names: list[str]) -> str:
    """The first name, and how many more there are."""
    return names[0] + (f" (and {len(names) - 1} more)" if len(names) > 1 else "")
