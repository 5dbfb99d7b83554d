"""Streaming: brokers (embedded SQLite queue, Redis Streams, NATS JetStream) behind one
small interface."""

from __future__ import annotations

from pathlib import Path

from podium.core.errors import ConfigError
from podium.streaming.base import Broker, Message

__all__ = ["Broker", "Message", "open_broker"]


def open_broker(
    url: str | None, *, home: str | Path | None = None, claim_after_s: float = 30.0
) -> Broker:
    """The broker at ``url``: ``redis://...``, ``nats://...``, or None for the embedded
    queue in ``home``
    (``$PODIUM_HOME/queue.db``)."""
    if url is None or url.startswith(("embedded://", "file://")) or "://" not in url:
        from podium.core.settings import Settings
        from podium.streaming.embedded import EmbeddedBroker

        if url is not None and "://" in url:
            path = Path(url.split("://", 1)[1])
        elif url is not None:
            path = Path(url)
        else:
            path = Path(home or Settings.from_env().home) / "queue.db"
        return EmbeddedBroker(path, claim_after_s=claim_after_s)
    if url.startswith(("redis://", "rediss://", "unix://")):
        from podium.streaming.redis_broker import RedisBroker

        return RedisBroker(url, claim_after_s=claim_after_s)
    if url.startswith(("nats://", "tls://")):
        from podium.streaming.nats_broker import NatsBroker

        return NatsBroker(url, claim_after_s=claim_after_s)
    raise ConfigError(
        f"Unknown broker {url!r}.",
        hint="Use redis://host:6379, nats://host:4222, or no --broker for the embedded queue.",
    )
