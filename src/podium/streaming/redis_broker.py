"""Redis Streams: XADD, consumer groups with XREADGROUP, XAUTOCLAIM for stale pending
messages, XACK. Needs the ``redis`` package (``pip install 'podium[redis]'``)."""

from __future__ import annotations

import time
from typing import Any

from podium.core.errors import ConfigError, StoreError
from podium.core.names import check_name
from podium.streaming.base import Broker, Message

FIELD = b"d"  # the one field of each entry: the payload

# Publish, then acknowledge, in one round trip. A script stops at the first failing call,
# so the XACK runs only once every XADD has succeeded: at least once still holds.
# KEYS: out stream, in stream; ARGV: group, number of payloads, payloads..., ids...
PUBLISH_AND_ACK = """
local n = tonumber(ARGV[2])
local out = {}
for i = 1, n do
    out[i] = redis.call('XADD', KEYS[1], '*', 'd', ARGV[2 + i])
end
if #ARGV > n + 2 then
    redis.call('XACK', KEYS[2], ARGV[1], unpack(ARGV, n + 3, #ARGV))
end
return out
"""


class RedisBroker(Broker):
    def __init__(self, url: str, *, claim_after_s: float = 30.0) -> None:
        try:
            import redis
        except ImportError:
            raise ConfigError(
                "A redis:// broker needs the redis package.", hint="pip install 'podium[redis]'"
            ) from None
        self.claim_after_s = claim_after_s
        self.url = url
        self.redis = redis.Redis.from_url(url)
        self._groups: set[tuple[str, str]] = set()
        self._claimed_at: dict[tuple[str, str], float] = {}
        self._publish_and_ack = self.redis.register_script(PUBLISH_AND_ACK)
        self._errors: tuple[type[Exception], ...] = (redis.exceptions.ConnectionError,)
        self._response_error = redis.exceptions.ResponseError

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except self._errors as exc:
            raise StoreError(
                f"Redis at {self.url} is not reachable: {exc}.",
                hint="Check the --broker URL and that Redis is running.",
            ) from None
        except self._response_error as exc:
            if "WRONGTYPE" not in str(exc):
                raise
            raise StoreError(
                f"A key named like the stream holds something else than a stream: {exc}",
                hint="Use another stream name, or delete that key in Redis.",
            ) from None

    def _group(self, stream: str, group: str) -> None:
        if (stream, group) in self._groups:
            return
        check_name(stream, "stream name")
        check_name(group, "consumer group name")
        import redis

        try:
            self._call(self.redis.xgroup_create, stream, group, id="0", mkstream=True)
        except redis.exceptions.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):  # it exists already: fine
                raise
        self._groups.add((stream, group))

    def publish(self, stream: str, payloads: list[bytes]) -> list[str]:
        check_name(stream, "stream name")
        pipe = self.redis.pipeline(transaction=False)
        for p in payloads:
            pipe.xadd(stream, {FIELD: p})
        return [i.decode() for i in self._call(pipe.execute)]

    def publish_and_ack(
        self, stream: str, payloads: list[bytes], acked: str, group: str, ids: list[str]
    ) -> list[str]:
        check_name(stream, "stream name")
        if len(payloads) + len(ids) > 4000:  # keep each script call's arguments modest
            return super().publish_and_ack(stream, payloads, acked, group, ids)
        out = self._call(
            self._publish_and_ack,
            keys=[stream, acked],
            args=[group, len(payloads), *payloads, *ids],
        )
        return [i.decode() for i in out]

    def consume(
        self, stream: str, group: str, consumer: str, count: int, block_s: float = 1.0
    ) -> list[Message]:
        self._group(stream, group)
        out = []
        claimed = self._claim(stream, group, consumer, count)
        if claimed:
            ids = [entry_id for entry_id, fields in claimed if fields]
            counts = self._deliveries(stream, group, ids)
            out = [
                Message(i.decode(), fields[FIELD], counts.get(i, 2))
                for i, fields in claimed
                if fields
            ]
        if len(out) < count:
            got = self._call(
                self.redis.xreadgroup,
                group,
                consumer,
                {stream: ">"},
                count=count - len(out),
                block=int(block_s * 1000) if not out else None,
            )
            for _, entries in got or []:
                out += [Message(i.decode(), fields[FIELD], 1) for i, fields in entries]
        if not out:
            self._claimed_at.pop((stream, group), None)  # idle: look for stale ones next time
        return out

    def _claim(self, stream: str, group: str, consumer: str, count: int) -> list[Any]:
        """Stale pending entries of other consumers (XAUTOCLAIM). A message can only go stale
        after ``claim_after_s``, so looking a few times per that period is enough; looking on
        every read would add a round trip to each batch."""
        now = time.monotonic()
        key = (stream, group)
        if now - self._claimed_at.get(key, -1e9) < min(1.0, self.claim_after_s / 4):
            return []
        ms = int(self.claim_after_s * 1000)
        _, claimed, _ = self._call(
            self.redis.xautoclaim, stream, group, consumer, ms, start_id="0-0", count=count
        )
        if len(claimed) < count:  # a full batch may mean more are waiting: look again
            self._claimed_at[key] = now
        return list(claimed)

    def _deliveries(self, stream: str, group: str, ids: list[bytes]) -> dict[bytes, int]:
        if not ids:
            return {}
        rows = self._call(
            self.redis.xpending_range, stream, group, min=ids[0], max=ids[-1], count=len(ids)
        )
        return {r["message_id"]: int(r["times_delivered"]) for r in rows}

    def ack(self, stream: str, group: str, ids: list[str]) -> None:
        if ids:
            self._call(self.redis.xack, stream, group, *ids)

    def last(self, stream: str, count: int) -> list[Message]:
        rows = self._call(self.redis.xrevrange, stream, count=count)
        return [Message(i.decode(), fields[FIELD]) for i, fields in reversed(rows)]

    def size(self, stream: str) -> int:
        return int(self._call(self.redis.xlen, stream))

    def lag(self, stream: str, group: str) -> int:
        self._group(stream, group)
        for g in self._call(self.redis.xinfo_groups, stream):
            if g["name"].decode() == group:
                return int(g.get("lag") or 0)
        return 0

    def close(self) -> None:
        self.redis.close()
