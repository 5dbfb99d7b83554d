"""Streaming: podium's stream scorer against plain redis-py and nats-py loops, same batch.

The stream is pre-filled with N messages of 30 floats (the breast-cancer features, about
600 bytes of JSON each). The floor is the least a careful consumer does: read a batch
(XREADGROUP, or a JetStream pull fetch), decode the JSON with orjson, ``predict_proba`` on
a numpy array, publish the answers (pipelined XADD; JetStream async publishes, confirmed
before acking), ack. podium adds validation, labels, the model version, dead letters,
read-ahead and metrics. All run in this process, one after the other, on a fresh stream
each; BLAS gets one thread.

    python benchmarks/streaming.py                       # Redis on 127.0.0.1:6379
    python benchmarks/streaming.py --messages 20000 --batch 256
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import threading
import time
import uuid
from typing import Any

import orjson

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

REDIS = "redis://127.0.0.1:6379/0"
NATS = "nats://127.0.0.1:4222"


def fill(broker: Any, stream: str, payloads: list[bytes]) -> None:
    for i in range(0, len(payloads), 1000):
        broker.publish(stream, payloads[i : i + 1000])


def floor(model: Any, columns: list[str], payloads: list[bytes], batch: int) -> float:
    import numpy as np
    import redis

    r = redis.Redis.from_url(REDIS)
    s_in, s_out = f"bench-in-{uuid.uuid4().hex[:6]}", f"bench-out-{uuid.uuid4().hex[:6]}"
    pipe = r.pipeline(transaction=False)
    for p in payloads:
        pipe.xadd(s_in, {b"d": p})
    pipe.execute()
    r.xgroup_create(s_in, "g", id="0")
    t = time.perf_counter()
    done = 0
    while done < len(payloads):
        got = r.xreadgroup("g", "c", {s_in: ">"}, count=batch, block=1000)
        entries = got[0][1]
        decoded = [orjson.loads(f[b"d"]) for _, f in entries]
        x = np.asarray([[d[c] for c in columns] for d in decoded])
        proba = model.predict_proba(x)
        pipe = r.pipeline(transaction=False)
        for (mid, _), p in zip(entries, proba.tolist(), strict=True):
            pipe.xadd(s_out, {b"d": orjson.dumps({"input_id": mid.decode(), "p": p})})
        pipe.xack(s_in, "g", *[mid for mid, _ in entries])
        pipe.execute()
        done += len(entries)
    elapsed = time.perf_counter() - t
    r.delete(s_in, s_out)
    return len(payloads) / elapsed


def nats_floor(model: Any, columns: list[str], payloads: list[bytes], batch: int) -> float:
    """The same loop on NATS JetStream with nats-py: fetch, decode, score, publish, ack."""
    import asyncio

    import numpy as np

    async def go() -> float:
        import nats
        from nats.js.api import AckPolicy, ConsumerConfig

        nc = await nats.connect(NATS)
        js = nc.jetstream()
        tag = uuid.uuid4().hex[:6]
        subj_in, subj_out = f"floor-in-{tag}", f"floor-out-{tag}"
        await js.add_stream(name=f"floor-in-{tag}", subjects=[subj_in])
        await js.add_stream(name=f"floor-out-{tag}", subjects=[subj_out])
        for i in range(0, len(payloads), 1000):
            chunk = payloads[i : i + 1000]
            await asyncio.gather(*[await js.publish_async(subj_in, p) for p in chunk])
        sub = await js.pull_subscribe(
            subj_in, durable="g", config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT)
        )
        t = time.perf_counter()
        done = 0
        while done < len(payloads):
            msgs = await sub.fetch(batch, timeout=5)
            x = np.asarray([[d[c] for c in columns] for d in (orjson.loads(m.data) for m in msgs)])
            futures = [
                await js.publish_async(subj_out, orjson.dumps({"input_id": m.reply, "p": p}))
                for m, p in zip(msgs, model.predict_proba(x).tolist(), strict=True)
            ]
            await asyncio.gather(*futures)  # confirmed before the inputs are acked
            for m in msgs:
                await m.ack()
            done += len(msgs)
        elapsed = time.perf_counter() - t
        await sub.unsubscribe()
        for name in (f"floor-in-{tag}", f"floor-out-{tag}"):
            await js.delete_stream(name)
        await nc.close()
        return len(payloads) / elapsed

    return asyncio.run(go())


def podium_rate(predictor: Any, url: str | None, payloads: list[bytes], batch: int) -> float:
    from podium.streaming import open_broker
    from podium.streaming.scorer import StreamScorer

    s_in, s_out = f"bench-in-{uuid.uuid4().hex[:6]}", f"bench-out-{uuid.uuid4().hex[:6]}"
    with open_broker(url) as b:
        fill(b, s_in, payloads)
    scorer = StreamScorer(
        lambda: open_broker(url),
        predictor,
        s_in,
        s_out,
        batch=batch,
        max_wait_ms=50,
    )
    # Timed until the last answer is published (polled every 2 ms), not until the scorer
    # notices the stream is idle.
    runner = threading.Thread(target=scorer.run)
    t = time.perf_counter()
    runner.start()
    while scorer.stats.published < len(payloads) and runner.is_alive():
        time.sleep(0.002)
    elapsed = time.perf_counter() - t
    scorer.stop.set()
    runner.join()
    assert scorer.stats.published == len(payloads), scorer.stats
    if url is not None and url.startswith("redis://"):
        import redis

        redis.Redis.from_url(url).delete(s_in, s_out, f"{s_in}.dead")
    return len(payloads) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=256)
    args = parser.parse_args()
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["PODIUM_HOME"] = tmp
        import podium

        x, y = load_breast_cancer(return_X_y=True, as_frame=True)
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(x, y)
        podium.register_model(model, "bench", input_example=x)
        predictor = podium.load("bench/1")
        rows = x.sample(args.messages, replace=True, random_state=0)
        payloads = [json.dumps(r).encode() for r in rows.to_dict("records")]
        one = payloads[: max(500, args.messages // 20)]
        results = {
            f"redis-py loop, batch {args.batch} (floor)": floor(
                model, list(x.columns), payloads, args.batch
            ),
            f"podium stream on Redis, batch {args.batch}": podium_rate(
                predictor, REDIS, payloads, args.batch
            ),
            "podium stream on Redis, batch 1": podium_rate(predictor, REDIS, one, 1),
            f"podium stream, embedded queue, batch {args.batch}": podium_rate(
                predictor, None, payloads, args.batch
            ),
            f"nats-py loop, batch {args.batch} (floor)": nats_floor(
                model, list(x.columns), payloads, args.batch
            ),
            f"podium stream on NATS, batch {args.batch}": podium_rate(
                predictor, NATS, payloads, args.batch
            ),
        }
    print(f"{args.messages:,} messages of 30 floats\n")
    for name, rate in results.items():
        print(f"{name:<46} {rate:>10,.0f} messages/s")
    names = list(results)
    print(f"podium / floor on NATS: {results[names[5]] / results[names[4]]:.0%} (target >= 80%)")
    print(
        f"\npodium / floor on Redis: {results[names[1]] / results[names[0]]:.0%} (target >= 80%);"
        f" micro-batching / one at a time: {results[names[1]] / results[names[2]]:.1f}x "
        "(target >= 10x)"
    )


if __name__ == "__main__":
    main()
