"""Public conformance suites and helpers for testing podium backends (needs pytest)."""

from podium.testing.services import require_service, service_available

__all__ = ["require_service", "service_available"]
