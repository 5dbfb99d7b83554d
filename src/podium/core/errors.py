"""The one exception tree of podium.

Every error a user can cause is a :class:`PodiumError` with a message that says what
was wrong and a ``hint`` that says how to fix it. Foreign errors (SQLAlchemy, fsspec,
httpx) are translated into these at the edge; HTTP codes are mapped in one place,
:data:`HTTP_STATUS`.
"""

from __future__ import annotations

from typing import Any


class PodiumError(Exception):
    """Base of every podium error.

    Args:
        message: what was wrong, with the value received and what was expected.
        hint: how to fix it, ideally a command to run.
    """

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} Hint: {self.hint}"

    def to_dict(self) -> dict[str, Any]:
        """The JSON error body: ``error`` holds the message, as the OIP v2 spec requires."""
        out: dict[str, Any] = {"error": self.message, "type": type(self).__name__}
        if self.hint:
            out["hint"] = self.hint
        return out


class ConfigError(PodiumError):
    """A setting (environment variable, option, file) has a wrong value."""


class NotFoundError(PodiumError):
    """A named thing (model, version, alias, run, blob) does not exist."""


class ConflictError(PodiumError):
    """The action conflicts with the current state (e.g. a name already taken)."""


class InvalidNameError(PodiumError):
    """A name that would become a path or URL is unsafe or malformed."""


class ValidationError(PodiumError):
    """Input does not match what was expected (a signature, a schema, a payload).

    Args:
        field: the field (column, key, path) that was wrong, when there is one.
    """

    def __init__(self, message: str, *, field: str | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.field = field

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        if self.field is not None:
            out["field"] = self.field
        return out


class PayloadTooLargeError(ValidationError):
    """A request body or batch exceeds a configured limit."""


class MalformedRequestError(ValidationError):
    """A request body that cannot be parsed at all (bad JSON, wrong content type)."""


class IntegrityError(PodiumError):
    """Stored content does not match its recorded hash: it was corrupted or tampered with."""


class UnsafeModelError(PodiumError):
    """Loading this model would execute code that the registry has not vouched for."""


class StoreError(PodiumError):
    """The metadata store failed (unreachable, locked too long, wrong schema)."""


class PipelineError(PodiumError):
    """A pipeline could not be built or a run failed."""


class GateFailed(PipelineError):
    """A validation gate refused its input; ``failures`` lists each failed check."""

    def __init__(self, gate: str, failures: list[str]) -> None:
        super().__init__(
            f"Gate {gate!r} failed: " + "; ".join(failures) + ".",
            hint="Fix the data or model, or change the gate's thresholds if they are wrong.",
        )
        self.gate = gate
        self.failures = failures


# The one place where errors become HTTP status codes.
HTTP_STATUS: dict[type[PodiumError], int] = {
    PayloadTooLargeError: 413,
    MalformedRequestError: 400,
    ValidationError: 422,
    InvalidNameError: 400,
    ConfigError: 400,
    NotFoundError: 404,
    ConflictError: 409,
    UnsafeModelError: 403,
    IntegrityError: 500,
    StoreError: 503,
    PipelineError: 500,
}


def http_status(error: PodiumError) -> int:
    """Return the HTTP status for ``error`` (most specific class wins)."""
    for cls in type(error).__mro__:
        if cls in HTTP_STATUS:
            return HTTP_STATUS[cls]
    return 500
