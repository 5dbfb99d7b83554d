"""NATS JetStream: one JetStream stream per podium stream, a durable pull consumer per group.

nats-py is asynchronous; this broker runs its own event loop in a thread and offers the
same blocking interface as the others. JetStream itself redelivers a message not
acknowledged within ``ack_wait`` (``claim_after_s``) to any consumer of the durable, and
counts deliveries. Needs ``pip install 'podium[nats]'``.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import Any

from podium.core.errors import ConfigError, StoreError
from podium.core.names import check_name
from podium.streaming.base import Broker, Message

PUBLISH_TIMEOUT_S = 30.0


def _name(stream: str) -> str:
    """JetStream stream and consumer names cannot hold dots."""
    return "podium-" + stream.replace(".", "_")


def _position(msg: Any) -> tuple[str, int]:
    """A delivered message's stream sequence and delivery count, read from its ack subject
    (``$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>...``) rather than through
    ``msg.metadata``, which builds dataclasses and a datetime per message."""
    from nats.aio.msg import Msg

    tokens = (msg.reply or "").split(".")
    if tokens[:2] == ["$JS", "ACK"]:
        if len(tokens) == 9:  # the original form
            return tokens[5], int(tokens[4])
        if len(tokens) >= 11:  # with domain and account hash
            return tokens[Msg.Ack.StreamSeq], int(tokens[Msg.Ack.NumDelivered])
    meta = msg.metadata  # raises nats-py's own error for a non-JetStream message
    return str(meta.sequence.stream), int(meta.num_delivered)


class NatsBroker(Broker):
    def __init__(self, url: str, *, claim_after_s: float = 30.0) -> None:
        try:
            import nats  # noqa: F401
        except ImportError:
            raise ConfigError(
                "A nats:// broker needs nats-py.", hint="pip install 'podium[nats]'"
            ) from None
        self.url = url
        self.claim_after_s = claim_after_s
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.streams: set[str] = set()
        self.subs: dict[tuple[str, str], Any] = {}
        self.inflight: dict[tuple[str, str, str], Any] = {}  # (stream, group, id) -> msg
        try:
            self.nc, self.js = self._run(self._connect())
        except BaseException:
            self._stop_loop()
            raise

    def _run(self, coro: Any, timeout: float = 60.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def _connect(self) -> tuple[Any, Any]:
        import nats

        try:
            nc = await nats.connect(self.url, connect_timeout=5, max_reconnect_attempts=3)
        except Exception as exc:  # nats-py raises several types for "not reachable"
            raise StoreError(
                f"NATS at {self.url} is not reachable: {exc}.",
                hint="Check the --broker URL and that nats-server runs with JetStream (-js).",
            ) from None
        return nc, nc.jetstream()

    async def _stream(self, stream: str) -> None:
        if stream in self.streams:
            return
        check_name(stream, "stream name")  # a subject like 'a.>' would capture others
        from nats.js.errors import NotFoundError

        try:
            await self.js.stream_info(_name(stream))
        except NotFoundError:
            await self.js.add_stream(name=_name(stream), subjects=[stream])
        self.streams.add(stream)

    async def _sub(self, stream: str, group: str) -> Any:
        key = (stream, group)
        if key not in self.subs:
            check_name(group, "consumer group name")
            from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

            await self._stream(stream)
            config = ConsumerConfig(
                ack_policy=AckPolicy.EXPLICIT,
                ack_wait=self.claim_after_s,
                deliver_policy=DeliverPolicy.ALL,
            )
            self.subs[key] = await self.js.pull_subscribe(
                stream, durable=_name(group), stream=_name(stream), config=config
            )
        return self.subs[key]

    def publish(self, stream: str, payloads: list[bytes]) -> list[str]:
        check_name(stream, "stream name")
        return list(self._run(self._publish(stream, payloads)))

    def publish_and_ack(
        self, stream: str, payloads: list[bytes], acked: str, group: str, ids: list[str]
    ) -> list[str]:
        check_name(stream, "stream name")

        async def go() -> list[str]:  # one hop to the event loop instead of two
            out = await self._publish(stream, payloads)
            await self._ack(acked, group, ids)
            return out

        return list(self._run(go()))

    async def _publish(self, stream: str, payloads: list[bytes]) -> list[str]:
        await self._stream(stream)
        # All in flight at once, confirmed together: one round trip, not one each, and no
        # task or timer per message. Sent in order on one connection, so the stream keeps
        # the order. Callers ack their inputs only after this returns.
        futures = [await self.js.publish_async(stream, p) for p in payloads]
        acks = await asyncio.wait_for(asyncio.gather(*futures), PUBLISH_TIMEOUT_S)
        return [str(a.seq) for a in acks]

    def consume(
        self, stream: str, group: str, consumer: str, count: int, block_s: float = 1.0
    ) -> list[Message]:
        from nats.errors import TimeoutError as NatsTimeout

        async def go() -> list[Message]:
            sub = await self._sub(stream, group)
            try:
                msgs = await sub.fetch(count, timeout=max(block_s, 0.05))
            except (TimeoutError, NatsTimeout):
                return []
            out = []
            for m in msgs:
                mid, deliveries = _position(m)
                self.inflight[(stream, group, mid)] = m
                out.append(Message(mid, bytes(m.data), deliveries))
            return out

        return list(self._run(go(), timeout=block_s + 60))

    def ack(self, stream: str, group: str, ids: list[str]) -> None:
        self._run(self._ack(stream, group, ids))

    async def _ack(self, stream: str, group: str, ids: list[str]) -> None:
        for i in ids:  # each ack is a buffered fire-and-forget publish
            m = self.inflight.pop((stream, group, i), None)
            if m is not None:
                await m.ack()

    def last(self, stream: str, count: int) -> list[Message]:
        async def go() -> list[Message]:
            await self._stream(stream)
            state = (await self.js.stream_info(_name(stream))).state
            if not state.messages:
                return []
            out = []
            for seq in range(max(state.first_seq, state.last_seq - count + 1), state.last_seq + 1):
                raw = await self.js.get_msg(_name(stream), seq)
                out.append(Message(str(seq), bytes(raw.data or b"")))
            return out

        return list(self._run(go()))

    def size(self, stream: str) -> int:
        async def go() -> int:
            from nats.js.errors import NotFoundError

            try:
                return int((await self.js.stream_info(_name(stream))).state.messages)
            except NotFoundError:
                return 0

        return int(self._run(go()))

    def lag(self, stream: str, group: str) -> int:
        async def go() -> int:
            await self._sub(stream, group)
            info = await self.js.consumer_info(_name(stream), _name(group))
            return int(info.num_pending)

        return int(self._run(go()))

    def close(self) -> None:
        if self.loop.is_closed():
            return

        async def shutdown() -> None:
            for sub in self.subs.values():  # first, or their tasks outlive the loop
                with contextlib.suppress(Exception):
                    await sub.unsubscribe()
            with contextlib.suppress(Exception):
                await self.nc.close()

        with contextlib.suppress(Exception):
            self._run(shutdown(), timeout=15)
        self._stop_loop()

    def _stop_loop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()
