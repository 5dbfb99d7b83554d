"""Every broker passes the same conformance suite: the embedded queue, Redis Streams and NATS
JetStream."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from podium.core.errors import ConfigError, InvalidNameError
from podium.streaming import Broker, open_broker
from podium.testing.brokers import BrokerConformance
from podium.testing.services import require_service


@pytest.fixture
def stream() -> str:
    return f"s-{uuid.uuid4().hex[:10]}"


class TestEmbedded(BrokerConformance):
    @pytest.fixture
    def broker(self, tmp_path: Path) -> Iterator[Broker]:
        with open_broker(None, home=tmp_path, claim_after_s=0.2) as b:
            yield b


class TestRedis(BrokerConformance):
    @pytest.fixture
    def broker(self) -> Iterator[Broker]:
        require_service("Redis", "127.0.0.1", 6379)
        with open_broker("redis://127.0.0.1:6379/0", claim_after_s=0.2) as b:
            yield b


class TestNats(BrokerConformance):
    @pytest.fixture
    def broker(self) -> Iterator[Broker]:
        require_service("NATS", "127.0.0.1", 4222)
        # JetStream redelivers on its own after ack_wait: leave room for a slow machine.
        with open_broker("nats://127.0.0.1:4222", claim_after_s=1.0) as b:
            yield b


def test_the_embedded_queue_is_shared_by_processes_through_its_file(tmp_path: Path) -> None:
    a = open_broker(None, home=tmp_path)
    b = open_broker(str(tmp_path / "queue.db"))
    a.publish("orders", [b"1"])
    assert [m.data for m in b.consume("orders", "g", "c", 5, block_s=1)] == [b"1"]


def test_bad_brokers_and_stream_names_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="Unknown broker"):
        open_broker("kafka://localhost:9092")
    with pytest.raises(InvalidNameError):
        open_broker(None, home=tmp_path).publish("../etc", [b"x"])


@pytest.mark.parametrize(
    "reply",
    [
        "$JS.ACK.podium-in.podium-g.3.1042.977.1732960000000000000.12",
        "$JS.ACK._.ACCHASH.podium-in.podium-g.3.1042.977.1732960000000000000.12",
        "$JS.ACK.hub.ACCHASH.podium-in.podium-g.1.7.7.1732960000000000000.0.rnd",
    ],
)
def test_nats_position_matches_nats_py_metadata(reply: str) -> None:
    """The fast ack-subject reading agrees with nats-py's own parser, in both forms."""
    pytest.importorskip("nats")
    from nats.aio.msg import Msg

    from podium.streaming.nats_broker import _position

    msg = Msg(_client=None, subject="in", reply=reply, data=b"{}")  # type: ignore[arg-type]
    meta = msg.metadata
    assert _position(msg) == (str(meta.sequence.stream), meta.num_delivered)


def test_redis_acks_nothing_when_a_publish_fails(stream: str) -> None:
    """The one-round-trip publish-and-ack stops at the failing XADD: the input stays pending."""
    require_service("Redis", "127.0.0.1", 6379)
    import redis

    from podium.core.errors import StoreError

    with open_broker("redis://127.0.0.1:6379/0", claim_after_s=0.2) as b:
        b.publish(stream, [b"q"])
        (taken,) = b.consume(stream, "g", "c1", 10, block_s=1)
        out = f"{stream}-out"
        r = redis.Redis.from_url("redis://127.0.0.1:6379/0")
        r.set(out, "not a stream")
        try:
            with pytest.raises(StoreError, match="something else than a stream"):
                b.publish_and_ack(out, [b"a"], stream, "g", [taken.id])
            time.sleep(0.3)
            again = b.consume(stream, "g", "c2", 10, block_s=1)
            assert [m.data for m in again] == [b"q"] and again[0].deliveries >= 2
        finally:
            r.delete(out, stream)
