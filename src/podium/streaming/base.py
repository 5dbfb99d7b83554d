"""The broker interface: streams of messages, consumer groups, at-least-once delivery.

A message read by a consumer of a group stays *pending* until that consumer acknowledges
it. A message pending for longer than ``claim_after_s`` (its consumer died, or hangs) is
delivered again, to any consumer of the group, with its delivery count raised: nothing is
lost, and a consumer recognises a redelivery by the message id. Groups are independent:
each sees every message of the stream.

Three implementations share this contract and one conformance suite
(:mod:`podium.testing.brokers`): the embedded queue (SQLite in ``$PODIUM_HOME``, no
service), Redis Streams and NATS JetStream.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass


@dataclass(frozen=True)
class Message:
    id: str  # unique in its stream, stable across redeliveries
    data: bytes
    deliveries: int = 1  # 2 and more: delivered before and not acknowledged in time


class Broker(ABC):
    """One connection to a broker. Methods block; implementations are thread-safe."""

    #: Pending messages older than this are delivered again.
    claim_after_s: float = 30.0

    @abstractmethod
    def publish(self, stream: str, payloads: list[bytes]) -> list[str]:
        """Append ``payloads`` to ``stream`` (created if needed); return their ids in order."""

    @abstractmethod
    def consume(
        self, stream: str, group: str, consumer: str, count: int, block_s: float = 1.0
    ) -> list[Message]:
        """Up to ``count`` messages for ``consumer`` of ``group``: stale pending ones first,
        then new ones; waits up to ``block_s`` when there are none."""

    @abstractmethod
    def ack(self, stream: str, group: str, ids: list[str]) -> None:
        """Acknowledge: the messages are done for ``group`` and never delivered to it again."""

    def publish_and_ack(
        self, stream: str, payloads: list[bytes], acked: str, group: str, ids: list[str]
    ) -> list[str]:
        """Publish ``payloads`` to ``stream``, then acknowledge ``ids`` of ``acked`` for
        ``group``: the acknowledgement happens only if every publish succeeded (at least
        once). Brokers that can do both in one round trip override this."""
        out = self.publish(stream, payloads)
        self.ack(acked, group, ids)
        return out

    @abstractmethod
    def last(self, stream: str, count: int) -> list[Message]:
        """The newest ``count`` messages of ``stream``, oldest first (no group involved)."""

    @abstractmethod
    def size(self, stream: str) -> int:
        """Messages in ``stream`` (0 for a stream not created yet)."""

    @abstractmethod
    def lag(self, stream: str, group: str) -> int:
        """Messages of ``stream`` the group has not read yet (pending ones excluded)."""

    def close(self) -> None:  # noqa: B027 (optional: most brokers hold a connection)
        """Release the connection."""

    def __enter__(self) -> Broker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
