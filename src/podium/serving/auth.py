"""Tokens and roles on the model server: which role each route needs, and turning it on.

========================================================  =========
route                                                     least role
========================================================  =========
``GET /openapi.json``, ``/v2/health/live|ready``, ``/ping``  open
other ``GET`` (metadata, ``/metrics``, ``/docs``, ...)     viewer
``POST /predict``, ``/invocations``, ``.../infer``,
``/feedback``                                             predictor
anything else (changes to a deployment)                   operator
========================================================  =========

The check runs before routing, so it covers the fast prediction path as well as the
routes FastAPI dispatches; an unknown path needs a token too (no probing without one).
"""

from __future__ import annotations

from typing import Any

from podium.auth import Authenticator, Guard, Role

OPEN = frozenset({"/openapi.json", "/v2/health/live", "/v2/health/ready", "/ping"})
PREDICT = frozenset({"/predict", "/invocations", "/feedback"})
READ = frozenset({"GET", "HEAD"})


def route_role(method: str, path: str) -> Role | None:
    """The least role ``method path`` needs on a model server; None when it is open."""
    if method in READ:
        return None if path in OPEN else Role.VIEWER
    if method == "POST" and (path in PREDICT or _is_infer(path)):
        return Role.PREDICTOR
    return Role.OPERATOR


def _is_infer(path: str) -> bool:
    return path.startswith("/v2/models/") and path.endswith("/infer")


def protect(app: Any, authenticator: Authenticator | None = None) -> Any:
    """Require tokens on ``app`` (from :func:`create_app` or :func:`create_deployment_app`).

    Tokens are looked up in the current workspace's store unless ``authenticator`` says
    otherwise.

    >>> app = protect(create_app(podium.load("churn@champion")))  # doctest: +SKIP
    """
    if not hasattr(app, "guard"):
        raise TypeError(f"{type(app).__name__} is not a podium serving app: it has no guard.")
    if authenticator is None:
        from podium.workspace import Workspace

        authenticator = Authenticator(Workspace.current().store.tokens)
    app.guard = Guard(authenticator, route_role)
    return app
