"""Tests that need a real service skip when it is absent, unless PODIUM_REQUIRE_SERVICES=1."""

from __future__ import annotations

import os
import socket


def service_available(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def require_service(name: str, host: str, port: int) -> None:
    """Skip the calling test when ``name`` is not listening, or fail when services are required."""
    import pytest

    if service_available(host, port):
        return
    reason = f"{name} is not reachable at {host}:{port}"
    if os.environ.get("PODIUM_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason}, and PODIUM_REQUIRE_SERVICES=1 requires it.")
    pytest.skip(f"{reason} (set PODIUM_REQUIRE_SERVICES=1 to make this a failure).")
