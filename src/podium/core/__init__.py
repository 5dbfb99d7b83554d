"""Value types, the error tree, settings and hashing. Imports nothing else of podium."""

from podium.core.errors import (
    ConfigError,
    ConflictError,
    IntegrityError,
    InvalidNameError,
    NotFoundError,
    PayloadTooLargeError,
    PipelineError,
    PodiumError,
    StoreError,
    UnsafeModelError,
    ValidationError,
)
from podium.core.names import ModelRef, check_digest, check_name
from podium.core.settings import Settings
from podium.core.signature import ColumnSpec, InputValidator, Signature

__all__ = [
    "ColumnSpec",
    "ConfigError",
    "ConflictError",
    "InputValidator",
    "IntegrityError",
    "InvalidNameError",
    "ModelRef",
    "NotFoundError",
    "PayloadTooLargeError",
    "PipelineError",
    "PodiumError",
    "Settings",
    "Signature",
    "StoreError",
    "UnsafeModelError",
    "ValidationError",
    "check_digest",
    "check_name",
]
