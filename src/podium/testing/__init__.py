"""Public conformance suites and helpers for testing podium backends (needs pytest)."""

from podium.testing.services import require_module, require_service, service_available

__all__ = ["require_module", "require_service", "service_available"]
