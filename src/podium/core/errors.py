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
    """A request body or batch exceeds a configured limit (HTTP 413).

    Args:
        limit: the limit's name and value (``("max_body_bytes", 10485760)``), echoed in the
            JSON body as ``{"limit": {"name": ..., "value": ...}}``.
    """

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        hint: str | None = None,
        limit: tuple[str, int | str] | None = None,
    ) -> None:
        super().__init__(message, field=field, hint=hint)
        self.limit = limit

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        if self.limit is not None:
            out["limit"] = {"name": self.limit[0], "value": self.limit[1]}
        return out


class HeadersTooLargeError(PayloadTooLargeError):
    """The request line and headers exceed the server's limit (HTTP 431)."""


class RateLimitedError(PodiumError):
    """A client sent more requests than its rate limit allows (HTTP 429).

    Args:
        limit: the configured rate, as given (``"100/s"``).
        retry_after: seconds until the client may send again.
    """

    def __init__(
        self, message: str, *, limit: str, retry_after: float, hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.limit = limit
        self.retry_after = retry_after

    def to_dict(self) -> dict[str, Any]:
        return {
            **super().to_dict(),
            "limit": {"name": "rate_limit", "value": self.limit},
            "retry_after": self.retry_after,
        }


class MalformedRequestError(ValidationError):
    """A request body that cannot be parsed at all (bad JSON, wrong content type)."""


class IntegrityError(PodiumError):
    """Stored content does not match its recorded hash: it was corrupted or tampered with."""


class UnsafeModelError(PodiumError):
    """Loading this model would execute code that the registry has not vouched for."""


class AuthenticationError(PodiumError):
    """A request carries no valid token: missing, unknown, expired or revoked (HTTP 401).

    Args:
        required_role: the least role the refused action needs.
    """

    def __init__(self, message: str, *, required_role: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.required_role = required_role

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "required_role": self.required_role}


class PermissionDeniedError(AuthenticationError):
    """A valid token whose role is below what the action needs (HTTP 403)."""


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


class PromotionRefusedError(PodiumError):
    """An approval policy (G2) refused a promotion: a gate failed (HTTP 409).

    409, not 403: the caller may well hold the role for the call; what refuses it is the
    target's state under its policy (the figures, a missing approval), which changes, and
    then the same call succeeds. A 403 would send clients after their token instead.

    Args:
        target: what was to change, e.g. ``models:/churn@champion``.
        missing: what the policy still needs, one sentence each.
    """

    target: str = ""
    missing: tuple[str, ...] = ()

    def __init__(
        self, message: str, *, target: str, missing: list[str], hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.target = target
        self.missing = tuple(missing)

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "target": self.target, "missing": list(self.missing)}


class ApprovalRequiredError(PromotionRefusedError):
    """The promotion waits for an approval: request ``request_id`` asks for it (HTTP 409).

    Args:
        request_id: the pending request (made by this call, or an earlier identical one).
        approver_role: the least role that may approve it.
        created: whether this call made the request (not sent over HTTP).
    """

    request_id: str = ""
    approver_role: str = ""
    created: bool = False

    def __init__(
        self,
        message: str,
        *,
        target: str,
        missing: list[str],
        request_id: str,
        approver_role: str,
        created: bool = False,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, target=target, missing=missing, hint=hint)
        self.request_id = request_id
        self.approver_role = approver_role
        self.created = created

    def to_dict(self) -> dict[str, Any]:
        return {
            **super().to_dict(),
            "approval_request_id": self.request_id,  # "request_id" is the HTTP request's
            "approver_role": self.approver_role,
        }


# The one place where errors become HTTP status codes.
HTTP_STATUS: dict[type[PodiumError], int] = {
    HeadersTooLargeError: 431,
    PayloadTooLargeError: 413,
    RateLimitedError: 429,
    MalformedRequestError: 400,
    ValidationError: 422,
    InvalidNameError: 400,
    ConfigError: 400,
    NotFoundError: 404,
    ConflictError: 409,
    PromotionRefusedError: 409,  # see the class for why not 403
    UnsafeModelError: 403,
    PermissionDeniedError: 403,
    AuthenticationError: 401,
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


def error_from_dict(body: dict[str, Any], status: int) -> PodiumError:
    """The error a podium server answered with (:meth:`PodiumError.to_dict`), raised again
    on the client as the same class, so a remote mistake reads exactly like a local one."""
    wanted = body.get("type")
    cls: type[PodiumError] = next(
        (c for c in _subclasses(PodiumError) if c.__name__ == wanted),
        next((c for c, code in HTTP_STATUS.items() if code == status), PodiumError),
    )
    err = cls.__new__(cls)
    PodiumError.__init__(err, str(body.get("error") or f"HTTP {status}"), hint=body.get("hint"))
    if "approval_request_id" in body:
        body = {**body, "request_id": body["approval_request_id"]}
    elif "request_id" in body:  # the HTTP request's id, not an attribute of the error
        body = {k: v for k, v in body.items() if k != "request_id"}
    for key, value in body.items():  # the extra attributes of some classes
        declared = key in ("field", "required_role") or (
            key not in ("error", "type", "hint") and hasattr(cls, key)
        )
        if declared and not callable(getattr(cls, key, None)):
            setattr(err, key, tuple(value) if isinstance(value, list) else value)
    if isinstance(err, ValidationError) and not hasattr(err, "field"):
        err.field = None
    limit = body.get("limit") if isinstance(body.get("limit"), dict) else None
    if isinstance(err, PayloadTooLargeError):
        err.limit = (limit["name"], limit["value"]) if limit else None
    if isinstance(err, RateLimitedError):
        err.limit = str(limit["value"]) if limit else ""
        err.retry_after = float(body.get("retry_after") or 0)
    if isinstance(err, AuthenticationError) and not hasattr(err, "required_role"):
        err.required_role = ""
    return err


def _subclasses(cls: type[PodiumError]) -> list[type[PodiumError]]:
    out = [cls]
    for sub in cls.__subclasses__():
        out += _subclasses(sub)
    return out
