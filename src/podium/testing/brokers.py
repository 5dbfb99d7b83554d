"""Conformance suite for :class:`~podium.streaming.Broker` implementations.

Subclass it in a test module and provide a ``broker`` fixture whose ``claim_after_s`` is
short (0.2 s), and a ``stream`` fixture naming a fresh stream::

    class TestMyBroker(BrokerConformance):
        @pytest.fixture
        def broker(self):
            return MyBroker(..., claim_after_s=0.2)
"""

from __future__ import annotations

import threading
import time

import pytest

from podium.core.errors import InvalidNameError
from podium.streaming import Broker


class BrokerConformance:
    """Behaviour every broker must have: order, groups, at-least-once, redelivery."""

    def test_published_messages_come_back_in_order_once_acked(
        self, broker: Broker, stream: str
    ) -> None:
        ids = broker.publish(stream, [b"a", b"b", b"c"])
        assert len(set(ids)) == 3
        got = broker.consume(stream, "g", "c1", 10, block_s=1)
        assert [m.data for m in got] == [b"a", b"b", b"c"] and [m.id for m in got] == ids
        assert {m.deliveries for m in got} == {1}
        broker.ack(stream, "g", [m.id for m in got])
        time.sleep(broker.claim_after_s * 2)
        assert broker.consume(stream, "g", "c1", 10, block_s=0.2) == []

    def test_publish_and_ack_publishes_in_order_then_acknowledges(
        self, broker: Broker, stream: str
    ) -> None:
        broker.publish(stream, [b"q1", b"q2", b"q3"])
        taken = broker.consume(stream, "g", "c1", 10, block_s=1)
        out = f"{stream}-out"
        ids = broker.publish_and_ack(out, [b"a1", b"a3"], stream, "g", [taken[0].id, taken[2].id])
        assert [m.id for m in broker.last(out, 10)] == ids
        assert [m.data for m in broker.last(out, 10)] == [b"a1", b"a3"]
        time.sleep(broker.claim_after_s * 1.5)  # only the unacknowledged one comes back
        again = broker.consume(stream, "g", "c2", 10, block_s=1)
        assert [m.data for m in again] == [b"q2"]

    def test_an_unacked_message_is_delivered_again_after_claim_after(
        self, broker: Broker, stream: str
    ) -> None:
        broker.publish(stream, [b"x", b"y"])
        first = broker.consume(stream, "g", "dies", 10, block_s=1)
        assert len(first) == 2
        broker.ack(stream, "g", [first[0].id])  # the consumer dies before acking the second
        assert broker.consume(stream, "g", "other", 10, block_s=0.05) == []  # not yet stale
        time.sleep(broker.claim_after_s * 1.5)
        again = broker.consume(stream, "g", "other", 10, block_s=1)
        assert [(m.id, m.data) for m in again] == [(first[1].id, b"y")]
        assert again[0].deliveries >= 2

    def test_consumers_of_a_group_share_the_work_and_groups_each_see_all(
        self, broker: Broker, stream: str
    ) -> None:
        payloads = [str(i).encode() for i in range(200)]
        broker.publish(stream, payloads)
        seen: dict[str, list[bytes]] = {"c1": [], "c2": []}

        def work(name: str) -> None:
            while True:
                got = broker.consume(stream, "shared", name, 7, block_s=0.3)
                if not got:
                    return
                seen[name] += [m.data for m in got]
                broker.ack(stream, "shared", [m.id for m in got])

        threads = [threading.Thread(target=work, args=(n,)) for n in seen]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert sorted(seen["c1"] + seen["c2"], key=int) == payloads  # each exactly once
        other = broker.consume(stream, "audit", "a", 500, block_s=1)
        assert len(other) == 200  # another group sees everything

    def test_lag_counts_what_the_group_has_not_read(self, broker: Broker, stream: str) -> None:
        broker.publish(stream, [b"1", b"2", b"3"])
        assert broker.lag(stream, "g") == 3
        broker.consume(stream, "g", "c", 2, block_s=1)
        assert broker.lag(stream, "g") == 1

    def test_last_shows_the_newest_messages(self, broker: Broker, stream: str) -> None:
        broker.publish(stream, [str(i).encode() for i in range(10)])
        assert [m.data for m in broker.last(stream, 3)] == [b"7", b"8", b"9"]

    def test_size_counts_the_messages(self, broker: Broker, stream: str) -> None:
        assert broker.size(stream) == 0 and broker.last(stream, 5) == []
        broker.publish(stream, [b"1", b"2"])
        assert broker.size(stream) == 2

    def test_unsafe_stream_and_group_names_are_refused(self, broker: Broker, stream: str) -> None:
        for bad in ("../x", "/abs", "a\x00b", "..\\x", "orders.>", "a b", ""):
            with pytest.raises(InvalidNameError):
                broker.publish(bad, [b"1"])
            with pytest.raises(InvalidNameError):
                broker.consume(bad, "g", "c", 1, block_s=0)
            with pytest.raises(InvalidNameError):
                broker.consume(stream, bad, "c", 1, block_s=0)
