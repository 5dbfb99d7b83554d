"""OpenTelemetry spans, only when the program uses OpenTelemetry.

podium never imports ``opentelemetry`` itself: a tracer provider can only be configured by
code that imported ``opentelemetry.trace`` (your program, or ``opentelemetry-instrument``),
so until that module is loaded :meth:`Tracer.active` is one dictionary lookup and callers
skip every span. Once a real provider is set (the SDK's ``TracerProvider``), podium's spans
go to it: served requests (``podium.serving``) and pipeline runs and steps
(``podium.pipelines``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Any

_API = "opentelemetry.trace"
# A provider named by this variable is created on first use by get_tracer_provider().
_ENV_PROVIDER = "OTEL_PYTHON_TRACER_PROVIDER" in os.environ


class Tracer:
    """A lazily found OpenTelemetry tracer for ``scope``.

    >>> Tracer("podium.serving").active() is None  # no provider configured
    True
    """

    def __init__(self, scope: str, version: str | None = None) -> None:
        self.scope = scope
        self.version = version
        self._real: Any = None

    def active(self) -> Any | None:
        """The tracer when a real provider is configured, else None (cheap: see module doc)."""
        real = self._real
        if real is not None:
            return real
        api = sys.modules.get(_API)
        if api is None:
            return None
        # get_tracer_provider() looks the environment up on every call (1.3 us); the global
        # it returns is read first (0.1 us), with the public call as the fallback.
        if getattr(api, "_TRACER_PROVIDER", 0) is None and not _ENV_PROVIDER:
            return None
        provider = api.get_tracer_provider()
        if isinstance(provider, api.ProxyTracerProvider):
            return None  # nothing configured yet: spans would go nowhere
        # The global provider can be set only once, so the tracer is kept for good.
        self._real = provider.get_tracer(self.scope, self.version)
        return self._real

    def start(
        self,
        name: str,
        *,
        parent: Any = None,
        headers: Mapping[str, str] | None = None,
        server: bool = False,
        attributes: dict[str, Any] | None = None,
    ) -> Any | None:
        """Start a span (not made current), or return None when tracing is off.

        ``parent`` is a span; ``headers`` carry a W3C ``traceparent`` to continue instead.
        """
        tracer = self.active()
        if tracer is None:
            return None
        api = sys.modules[_API]
        context = None
        if parent is not None:
            context = api.set_span_in_context(parent)
        elif headers is not None:
            from opentelemetry import propagate

            context = propagate.extract(headers)
        kind = api.SpanKind.SERVER if server else api.SpanKind.INTERNAL
        return tracer.start_span(name, context=context, kind=kind, attributes=attributes)


def activate(span: Any) -> Any:
    """Make ``span`` the current span (so spans started inside nest under it); a token."""
    from opentelemetry import context, trace

    return context.attach(trace.set_span_in_context(span))


def deactivate(token: Any) -> None:
    from opentelemetry import context

    context.detach(token)


def finish(span: Any, attributes: dict[str, Any], error: str | None = None) -> None:
    """Set ``attributes`` on ``span``, mark it failed when ``error`` is given, and end it."""
    span.set_attributes({k: v for k, v in attributes.items() if v is not None})
    if error is not None:
        from opentelemetry.trace import Status, StatusCode

        span.set_status(Status(StatusCode.ERROR, error))
    span.end()


def current_ids() -> dict[str, str] | None:
    """``trace_id`` and ``span_id`` of the current span, for log lines; None without one."""
    api = sys.modules.get(_API)
    if api is None:
        return None
    ctx = api.get_current_span().get_span_context()
    if not ctx.is_valid:
        return None
    return {"trace_id": f"{ctx.trace_id:032x}", "span_id": f"{ctx.span_id:016x}"}
