"""`podium stream` end to end on the embedded queue and Redis: micro-batches, dead letters,
the prediction log, and a kill -9 mid-batch with every input answered after redelivery."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from tests.conftest import Trained
from typer.testing import CliRunner

import podium
from podium.cli.main import app
from podium.deploy import deploy_model
from podium.streaming import open_broker
from podium.testing.services import require_service
from podium.workspace import Workspace

runner = CliRunner()
BROKERS = ["embedded", "redis", "nats"]


def broker_url(kind: str) -> str | None:
    if kind == "redis":
        require_service("Redis", "127.0.0.1", 6379)
        return "redis://127.0.0.1:6379/0"
    if kind == "nats":
        require_service("NATS", "127.0.0.1", 4222)
        return "nats://127.0.0.1:4222"
    return None


def records_file(trained: Trained, path: Path, n: int, bad: bool = True) -> Path:
    lines = [json.dumps(trained.X.iloc[i % len(trained.X)].to_dict()) for i in range(n)]
    if bad:
        lines[3] = "{not json"
        lines[7] = json.dumps({"mean radius": 1.0})  # the other 29 columns are missing
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("kind", BROKERS)
def test_a_stream_is_scored_in_micro_batches_with_dead_letters(
    workspace: Workspace, trained: Trained, tmp_path: Path, kind: str
) -> None:
    url = broker_url(kind)
    podium.register_model(trained.model, "cancer", input_example=trained.X, alias="champion")
    deploy_model(workspace, "models:/cancer@champion", "cancer")
    s_in, s_out = f"in-{uuid.uuid4().hex[:8]}", f"out-{uuid.uuid4().hex[:8]}"
    opts = ["--broker", url] if url else []
    good = records_file(trained, tmp_path / "r.jsonl", 300, bad=False)
    r = runner.invoke(app, ["stream", "produce", str(good), "--stream", s_in, *opts])
    assert r.exit_code == 0 and "Published 300" in r.output, r.output
    with open_broker(url) as b:  # and two that produce would refuse
        b.publish(s_in, [b"{not json", json.dumps({"mean radius": 1.0}).encode()])
    r = runner.invoke(
        app,
        [
            "stream",
            "cancer",
            "--in",
            s_in,
            "--out",
            s_out,
            "--batch",
            "64",
            "--idle-exit",
            "0.5",
            "--json",
            *opts,
        ],
    )
    assert r.exit_code == 0, r.output
    stats = json.loads(r.stdout)
    assert (stats["consumed"], stats["published"], stats["dead_lettered"]) == (302, 300, 2)
    assert stats["batches"] <= 10  # micro-batches, not one message at a time
    with open_broker(url) as b:
        outs = [json.loads(m.data) for m in b.last(s_out, 1_000)]
        dead = [json.loads(m.data) for m in b.last(f"{s_in}.dead", 10)]
        assert b.lag(s_in, "podium") == 0
    assert len({o["input_id"] for o in outs}) == 300
    expected = trained.model.predict(trained.X.iloc[:20]).tolist()
    by_id = {o["input_id"]: o for o in outs}
    with open_broker(url) as b:
        inputs = b.last(s_in, 302)
    assert [by_id[m.id]["prediction"] for m in inputs[:20]] == expected
    reasons = sorted(d["reason"] for d in dead)
    assert len(reasons) == 2 and reasons[0].startswith("not JSON")
    assert "missing column 'mean texture'" in reasons[1]
    assert all(o["model_version"] == "models:/cancer/1" for o in outs)
    # Monitoring sees streamed predictions: they are in the deployment's prediction log.
    assert len(workspace.store.predictions.recent("cancer", limit=1_000)) == 300
    r = runner.invoke(app, ["stream", "tail", "--stream", s_out, "--count", "2", "--json", *opts])
    assert r.exit_code == 0 and len(r.stdout.splitlines()) == 2


@pytest.mark.slow
@pytest.mark.xdist_group("processes")
@pytest.mark.parametrize("kind", BROKERS)
def test_kill_9_mid_batch_loses_nothing_after_redelivery(
    sqlite_workspace: Workspace, trained: Trained, tmp_path: Path, kind: str
) -> None:
    url = broker_url(kind)
    podium.register_model(trained.model, "cancer", input_example=trained.X, alias="champion")
    s_in, s_out = f"in-{uuid.uuid4().hex[:8]}", f"out-{uuid.uuid4().hex[:8]}"
    n = 6_000
    with open_broker(url) as b:
        lines = records_file(trained, tmp_path / "r.jsonl", n, bad=False).read_text().splitlines()
        ids = b.publish(s_in, [line.encode() for line in lines])
    cmd = [
        sys.executable,
        "-m",
        "podium",
        "stream",
        "cancer@champion",
        "--in",
        s_in,
        "--out",
        s_out,
        "--batch",
        "50",
        "--claim-after",
        "1",
        "--idle-exit",
        "3",  # past the redelivery of the killed batch (--claim-after 1)
        "--json",
        *(["--broker", url] if url else []),
    ]
    env = {**os.environ}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while _count(url, s_out) < 500:
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert _count(url, s_out) < n, "the consumer finished before it could be killed"
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    with open_broker(url) as b:
        outs = [json.loads(m.data)["input_id"] for m in b.last(s_out, 2 * n)]
    assert set(outs) == set(ids)  # every input answered at least once ...
    assert len(outs) - len(set(outs)) <= 50  # ... and at most the killed batch twice


def _count(url: str | None, stream: str) -> int:
    with open_broker(url) as b:
        return b.size(stream)


def test_stream_mistakes_are_one_clear_line(workspace: Workspace, tmp_path: Path) -> None:
    r = runner.invoke(app, ["stream", "produce", str(tmp_path / "none.jsonl"), "--stream", "s"])
    assert r.exit_code == 1 and "No such file" in r.output
    r = runner.invoke(app, ["stream", "nope@champion", "--in", "a", "--out", "b"])
    assert r.exit_code == 1 and "nope" in r.output
    r = runner.invoke(app, ["stream", "x", "--in", "a", "--out", "b", "--broker", "kafka://x"])
    assert r.exit_code == 1


@pytest.mark.slow
@pytest.mark.xdist_group("processes")
@pytest.mark.parametrize("kind", BROKERS)
def test_sigterm_drains_the_batch_in_hand_so_nothing_is_answered_twice(
    sqlite_workspace: Workspace, trained: Trained, tmp_path: Path, kind: str
) -> None:
    url = broker_url(kind)
    podium.register_model(trained.model, "cancer", input_example=trained.X, alias="champion")
    s_in, s_out = f"in-{uuid.uuid4().hex[:8]}", f"out-{uuid.uuid4().hex[:8]}"
    n = 4_000
    with open_broker(url) as b:
        lines = records_file(trained, tmp_path / "r.jsonl", n, bad=False).read_text().splitlines()
        ids = b.publish(s_in, [line.encode() for line in lines])
    cmd = [
        sys.executable,
        "-m",
        "podium",
        "stream",
        "cancer@champion",
        "--in",
        s_in,
        "--out",
        s_out,
        "--batch",
        "50",
        "--claim-after",
        "1",
        "--idle-exit",
        "2",
        "--json",
        *(["--broker", url] if url else []),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    deadline = time.monotonic() + 60
    while _count(url, s_out) < 300:
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0
    stopped = json.loads(out)
    assert stopped["published"] == stopped["consumed"] < n  # every batch taken was finished
    time.sleep(1.5)  # past --claim-after: anything left unacknowledged would come back
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["redelivered"] == 0
    with open_broker(url) as b:
        outs = [json.loads(m.data)["input_id"] for m in b.last(s_out, 2 * n)]
    assert sorted(outs, key=str) == sorted(ids, key=str)  # each input answered exactly once


def test_a_worker_holds_at_most_two_batches_unanswered(
    workspace: Workspace, trained: Trained, tmp_path: Path
) -> None:
    """Read-ahead overlaps the next read with scoring, and no more: back-pressure holds."""
    from podium.streaming.embedded import EmbeddedBroker
    from podium.streaming.scorer import StreamScorer

    class Counting(EmbeddedBroker):  # the real queue, counting taken-but-unacked messages
        held = peak = 0

        def consume(self, *args: object, **kwargs: object) -> list:  # type: ignore[override]
            got = super().consume(*args, **kwargs)  # type: ignore[arg-type]
            Counting.held += len(got)
            Counting.peak = max(Counting.peak, Counting.held)
            return got

        def ack(self, stream: str, group: str, ids: list[str]) -> None:
            super().ack(stream, group, ids)
            Counting.held -= len(ids)

        def publish_and_ack(  # type: ignore[override]
            self, stream: str, payloads: list, acked: str, group: str, ids: list[str]
        ) -> list[str]:
            out = super().publish_and_ack(stream, payloads, acked, group, ids)
            Counting.held -= len(ids)
            return out

    podium.register_model(trained.model, "cancer", input_example=trained.X)
    with Counting(tmp_path / "q.db") as b:
        b.publish("in", [json.dumps(r).encode() for r in trained.X.head(200).to_dict("records")])
    scorer = StreamScorer(
        lambda: Counting(tmp_path / "q.db"),
        podium.load("cancer/1"),
        "in",
        "out",
        batch=8,
        idle_exit_s=0.3,
    )
    stats = scorer.run()
    assert stats.published == 200 and Counting.held == 0
    assert 8 < Counting.peak <= 16  # the read-ahead happened, and only one batch of it


def test_stream_lag_messages_and_batch_sizes_are_on_metrics(
    sqlite_workspace: Workspace, trained: Trained, tmp_path: Path
) -> None:
    import httpx

    podium.register_model(trained.model, "cancer", input_example=trained.X, alias="champion")
    s_in, s_out = f"in-{uuid.uuid4().hex[:8]}", f"out-{uuid.uuid4().hex[:8]}"
    with open_broker(None) as b:
        lines = records_file(trained, tmp_path / "r.jsonl", 300).read_text().splitlines()
        b.publish(s_in, [line.encode() for line in lines])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "podium", "stream", "cancer@champion", "--in", s_in]
    cmd += ["--out", s_out, "--batch", "32", "--metrics-port", str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline, text = time.monotonic() + 60, ""
        while f'podium_stream_messages_total{{outcome="scored",stream="{s_in}"}} 298.0' not in text:
            assert proc.poll() is None and time.monotonic() < deadline, text[-2000:]
            time.sleep(0.1)
            try:
                text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
            except httpx.TransportError:
                continue  # not listening yet
        assert f'podium_stream_messages_total{{outcome="dead",stream="{s_in}"}} 2.0' in text
        assert f'podium_stream_batch_messages_count{{stream="{s_in}"}}' in text
        assert f'podium_stream_batch_messages_bucket{{le="32.0",stream="{s_in}"}}' in text
        time.sleep(1.2)  # the lag gauge is refreshed once a second
        text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
        assert f'podium_stream_lag{{stream="{s_in}"}} 0.0' in text
    finally:
        proc.send_signal(signal.SIGTERM)
        _, errors = proc.communicate(timeout=60)
    assert proc.returncode == 0 and f"127.0.0.1:{port}/metrics" in errors


def test_a_busy_metrics_port_is_one_clear_line(
    sqlite_workspace: Workspace, trained: Trained
) -> None:
    podium.register_model(trained.model, "cancer", input_example=trained.X, alias="champion")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = runner.invoke(
            app,
            ["stream", "cancer@champion", "--in", "a", "--out", "b", "--metrics-port", str(port)],
        )
    assert r.exit_code != 0 and f"Cannot serve metrics on 127.0.0.1:{port}" in r.output
    assert "Traceback" not in r.output


@pytest.mark.parametrize(
    ("field", "bad"),
    [("in_stream", "../x"), ("out_stream", "/abs"), ("group", "a.>"), ("dead_stream", "a\x00b")],
)
def test_a_scorer_refuses_unsafe_stream_and_group_names(field: str, bad: str) -> None:
    from podium.core.errors import InvalidNameError
    from podium.streaming.scorer import StreamScorer

    names = {"in_stream": "in", "out_stream": "out", "group": "g", "dead_stream": None}
    names[field] = bad
    with pytest.raises(InvalidNameError):
        StreamScorer(lambda: None, None, **names)  # type: ignore[arg-type]
