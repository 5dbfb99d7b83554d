"""Ambient context: who acts, in which run, step and request. Read by the audit log, lineage
and the log formatter (:mod:`podium.core.logs`)."""

from __future__ import annotations

import getpass
import os
from contextvars import ContextVar

actor_var: ContextVar[str | None] = ContextVar("podium_actor", default=None)
# The caller's role when a server admitted it by token; None: direct access to the store,
# which counts as admin (whoever holds the store holds the keys).
role_var: ContextVar[str | None] = ContextVar("podium_role", default=None)
run_id_var: ContextVar[str | None] = ContextVar("podium_run_id", default=None)
request_id_var: ContextVar[str | None] = ContextVar("podium_request_id", default=None)
step_var: ContextVar[str | None] = ContextVar("podium_step", default=None)


def current_actor() -> str:
    """The actor recorded in the audit log: explicit context, ``$PODIUM_ACTOR``, or the OS user."""
    actor = actor_var.get() or os.environ.get("PODIUM_ACTOR")
    if not actor:
        try:
            actor = getpass.getuser()
        except Exception:  # no user database entry in some containers
            actor = "unknown"
    return actor[:128]  # the audit column's width
