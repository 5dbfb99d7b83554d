"""Data versions: datasets registered by content hash, with schema and statistics profile."""

from podium.data.profile import profile
from podium.data.versions import get_data, load_data, read_table, register_data

__all__ = ["get_data", "load_data", "profile", "read_table", "register_data"]
