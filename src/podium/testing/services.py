"""Tests that need a real service (or an optional package) skip when it is absent, unless
PODIUM_REQUIRE_SERVICES=1."""

from __future__ import annotations

import importlib
import os
import socket
from types import ModuleType
from typing import NoReturn


def service_available(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def require_service(name: str, host: str, port: int) -> None:
    """Skip the calling test when ``name`` is not listening, or fail when services are required."""
    if service_available(host, port):
        return
    _skip_or_fail(f"{name} is not reachable at {host}:{port}")


def require_module(name: str, install: str) -> ModuleType:
    """Import ``name`` for the calling test (an optional dependency such as mlflow). Skip
    when it cannot be imported, or fail when PODIUM_REQUIRE_SERVICES=1 (CI installs every
    extra, so a missing one there is a broken set-up, not a reason to test less)."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        _skip_or_fail(f"{name} cannot be imported ({exc}); install it with {install}")


def _skip_or_fail(reason: str) -> NoReturn:
    import pytest

    if os.environ.get("PODIUM_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason}, and PODIUM_REQUIRE_SERVICES=1 requires it.")
    pytest.skip(f"{reason} (set PODIUM_REQUIRE_SERVICES=1 to make this a failure).")
