"""Validation of names that become paths, URLs or keys, and model references."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from podium.core.errors import InvalidNameError, ValidationError

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}", re.ASCII)
_DIGEST = re.compile(r"[0-9a-f]{64}", re.ASCII)
_VERSION = re.compile(r"[1-9][0-9]{0,9}", re.ASCII)
MAX_VERSION = 2**31 - 1  # the store's integer column


def check_name(name: object, kind: str = "name") -> str:
    """Return ``name`` if it is a safe identifier, else raise :class:`InvalidNameError`.

    A safe name is 1-128 characters of letters, digits, ``.``, ``_`` and ``-``, starts
    with a letter or digit and is not made only of dots: it can never climb out of a
    folder (``..``), be absolute (``/etc``) or carry a URL separator.

    >>> check_name("churn-model_v2")
    'churn-model_v2'
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name) or set(name) <= {"."}:
        raise InvalidNameError(
            f"Invalid {kind} {name!r}: use 1-128 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit.",
            hint=f"Pick a {kind} such as 'churn' or 'fraud-detector_v2'.",
        )
    return name


# What starts a run: by hand (or a test), a schedule's fire (``schedule:NAME``), an event
# (``event:NAME``), the retraining loop, or ``Pipeline.check``.
RUN_TRIGGERS = ("manual", "schedule", "event", "retrain", "check")
NAMED_TRIGGERS = ("schedule", "event")


def check_trigger(trigger: object, field: str = "trigger") -> str:
    """Return ``trigger`` if runs can be filtered by it, else raise :class:`ValidationError`:
    a kind of :data:`RUN_TRIGGERS`, or one schedule's or event's runs (``schedule:nightly``).

    >>> check_trigger("schedule:nightly")
    'schedule:nightly'
    """
    kind, sep, name = trigger.partition(":") if isinstance(trigger, str) else ("", "", "")
    if kind in RUN_TRIGGERS and (not sep or (kind in NAMED_TRIGGERS and name)):
        return str(trigger)
    raise ValidationError(
        f"Invalid {field} {trigger!r}: expected one of {', '.join(RUN_TRIGGERS)}, or "
        "schedule:NAME or event:NAME.",
        field=field,
        hint="E.g. 'schedule' for every scheduled run, 'schedule:nightly' for the runs of "
        "schedule 'nightly'.",
    )


def check_digest(digest: object) -> str:
    """Return a bare lowercase sha256 hex digest, accepting an optional ``sha256:`` prefix."""
    if isinstance(digest, str):
        bare = digest.removeprefix("sha256:")
        if _DIGEST.fullmatch(bare):
            return bare
    raise InvalidNameError(
        f"Invalid content digest {digest!r}: expected 64 lowercase hex characters "
        "(optionally prefixed 'sha256:').",
        hint="Digests come from the artifact store; do not build them by hand.",
    )


_DRIVE = re.compile(r"[A-Za-z]:", re.ASCII)


def check_member(folder: Path, name: object, *, what: str, field: str, source: str) -> Path:
    """``folder / name`` for a file name read from an untrusted file (a bundle's metadata,
    an MLmodel), refusing any name that could reach outside ``folder``.

    Refused, with a :class:`ValidationError` naming ``field``: anything but a non-empty
    string, a NUL byte, a backslash (``..\\x`` is a parent folder on Windows), an absolute
    path or drive, a ``..`` component, and a path that leaves ``folder`` through a
    symbolic link. Returns the resolved path.

    >>> check_member(Path("/b"), "model/model.skops", what="model file", field="file",
    ...              source="podium-bundle.json").as_posix()
    '/b/model/model.skops'
    """
    reason = None
    if not isinstance(name, str) or not name:
        reason = "it is not a file name"
    elif "\x00" in name:
        reason = "it holds a NUL byte"
    elif "\\" in name:
        reason = "it holds a backslash"
    elif name.startswith("/") or _DRIVE.match(name):
        reason = "it is absolute"
    elif ".." in PurePosixPath(name).parts:
        reason = "it climbs out with '..'"
    path = folder.resolve() / str(name)
    if reason is None:
        path = path.resolve()
        if not path.is_relative_to(folder.resolve()):
            reason = "a symbolic link leads out of it"
    if reason is not None:
        raise ValidationError(
            f"{source} names the {what} {name!r}, outside the folder {folder}: {reason}.",
            field=field,
            hint=f"{source} must name a file inside its own folder; this one was made by "
            "hand or tampered with.",
        )
    return path


@dataclass(frozen=True, slots=True)
class ModelRef:
    """A reference to one model version: by number or by alias.

    Accepted forms: ``models:/NAME/3``, ``models:/NAME@champion``, ``NAME/3``,
    ``NAME@champion``, and ``NAME`` alone (meaning the latest version).

    >>> ModelRef.parse("models:/churn@champion")
    ModelRef(name='churn', version=None, alias='champion')
    """

    name: str
    version: int | None = None
    alias: str | None = None

    @classmethod
    def parse(cls, uri: str) -> ModelRef:
        if not isinstance(uri, str) or not uri:
            raise InvalidNameError(
                f"Invalid model reference {uri!r}.",
                hint="Use models:/NAME/VERSION, models:/NAME@ALIAS, NAME/VERSION or NAME@ALIAS.",
            )
        body = uri.removeprefix("models:/")
        if body.startswith("/"):
            body = body[1:]
        hint = "Use models:/NAME/VERSION, models:/NAME@ALIAS, NAME/VERSION or NAME@ALIAS."
        if "@" in body:
            name, _, alias = body.partition("@")
            return cls(check_name(name, "model name"), alias=check_name(alias, "alias"))
        if "/" in body:
            name, _, ver = body.partition("/")
            check_name(name, "model name")
            if not _VERSION.fullmatch(ver) or int(ver) > MAX_VERSION:
                raise InvalidNameError(
                    f"Invalid model version {ver!r} in {uri!r}: expected a whole number from 1 "
                    f"to {MAX_VERSION}.",
                    hint=hint,
                )
            return cls(check_name(name, "model name"), version=int(ver))
        return cls(check_name(body, "model name"))

    def __str__(self) -> str:
        if self.alias:
            return f"models:/{self.name}@{self.alias}"
        if self.version:
            return f"models:/{self.name}/{self.version}"
        return f"models:/{self.name}"


@dataclass(frozen=True, slots=True)
class DataRef:
    """A reference to a data version: ``data:/NAME/3``, ``NAME/3``, or ``NAME`` (the latest).

    >>> DataRef.parse("data:/churn/3")
    DataRef(name='churn', version=3)
    """

    name: str
    version: int | None = None

    @classmethod
    def parse(cls, uri: str) -> DataRef:
        hint = "Use data:/NAME/VERSION, NAME/VERSION, or NAME for the latest version."
        if not isinstance(uri, str) or not uri:
            raise InvalidNameError(f"Invalid data reference {uri!r}.", hint=hint)
        body = uri.removeprefix("data:/").removesuffix("@latest")
        name, sep, ver = body.partition("/")
        check_name(name, "dataset name")
        if not sep:
            return cls(name)
        if not _VERSION.fullmatch(ver) or int(ver) > MAX_VERSION:
            raise InvalidNameError(f"Invalid data version {ver!r} in {uri!r}.", hint=hint)
        return cls(name, int(ver))

    def __str__(self) -> str:
        return f"data:/{self.name}/{self.version}" if self.version else f"data:/{self.name}"
