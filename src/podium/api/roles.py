"""Which role each control API route needs.

========================================================  =========
route                                                     least role
========================================================  =========
``GET /openapi.json``, ``/api/v1/health``                 open
``/api/v1/session`` (sign in and out of the dashboard)   open
``GET /`` and ``/ui/...`` (the dashboard's own files)     open
other ``GET`` (lists, details, ``/docs``)                 viewer
``/api/v1/tokens...``, ``/api/v1/policies...`` changes,
``POST /api/v1/schedules`` (names code the server runs)   admin
any other change (aliases, deployments, traffic, ...)     operator
========================================================  =========

Approving a request needs the role its policy names; :mod:`podium.approvals` checks that
with the caller's role, which the server puts in :data:`podium.core.context.role_var`.
"""

from __future__ import annotations

from podium.auth import Role

API_PREFIX = "/api/v1"
OPEN = frozenset({"/openapi.json", f"{API_PREFIX}/health"})
READ = frozenset({"GET", "HEAD"})
ADMIN_PREFIXES = (f"{API_PREFIX}/tokens", f"{API_PREFIX}/policies")
SESSION = f"{API_PREFIX}/session"  # signing in is how a browser gets a token to present
UI_PREFIX = "/ui/"  # the dashboard's scripts and styles: no data in them


def route_role(method: str, path: str) -> Role | None:
    """The least role ``method path`` needs on the control API; None when it is open."""
    if path.startswith(f"{API_PREFIX}/tokens"):
        return Role.ADMIN  # even listing tokens: names and prefixes are an admin's business
    if path == SESSION:
        return None
    if method in READ:
        return None if path in OPEN or path == "/" or path.startswith(UI_PREFIX) else Role.VIEWER
    if path.startswith(ADMIN_PREFIXES):
        return Role.ADMIN
    if method == "POST" and path.rstrip("/") == f"{API_PREFIX}/schedules":
        return Role.ADMIN
    return Role.OPERATOR
