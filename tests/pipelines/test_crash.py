"""kill -9 in the middle of a run: detected by the missing heartbeat, marked crashed, resumable."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import podium
from podium.pipelines import resume_run
from podium.workspace import Workspace

PIPELINE = textwrap.dedent(
    """
    import time
    from pathlib import Path
    from podium import pipeline, step

    LOG = Path({log!r})

    @step(cache=False)
    def first() -> int:
        with LOG.open("a") as fh:
            fh.write("first\\n")
        return 1

    @step(cache=False)
    def slow(x: int, hang: str) -> int:
        with LOG.open("a") as fh:
            fh.write("slow\\n")
        if Path(hang).exists():
            time.sleep(600)
        return x + 1

    @pipeline
    def crashy(hang: str = ""):
        return slow(first(), hang)

    if __name__ == "__main__":
        import sys
        crashy.run(hang=sys.argv[1])
    """
)


@pytest.mark.slow
def test_a_killed_run_is_marked_crashed_and_resumes_from_the_unfinished_step(
    workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PODIUM_HEARTBEAT_SECONDS", "0.2")
    log = tmp_path / "calls.log"
    hang = tmp_path / "hang"
    hang.write_text("1")
    script = tmp_path / "crashy.py"
    script.write_text(PIPELINE.format(log=str(log)))
    proc = subprocess.Popen([sys.executable, str(script), str(hang)], env=dict(os.environ))
    client = podium.Client()
    deadline = time.monotonic() + 60
    while not (log.exists() and "slow" in log.read_text()):
        assert proc.poll() is None, "the pipeline process ended early"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    [run] = client.list_runs()
    assert run.status == "running"
    time.sleep(0.2)  # step states are recorded in batches every 50 ms
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    time.sleep(1.0)  # more than three missed heartbeats of 0.2 s
    assert client.recover_crashed_runs() == [run.id]
    crashed = client.get_run(run.id)
    assert crashed.status == "crashed" and "no heartbeat" in (crashed.error or "")
    assert {s.name: s.status for s in crashed.steps} == {"first": "succeeded", "slow": "crashed"}
    hang.unlink()
    result = resume_run(run.id)
    assert result.status == "succeeded" and result.outputs == 2
    assert log.read_text().split() == ["first", "slow", "slow"]  # 'first' was not re-run


def test_a_live_run_is_not_marked_crashed(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PODIUM_HEARTBEAT_SECONDS", "0.1")
    from tests.pipelines.test_engine import two_naps

    result = two_naps.run(seconds=0.6)  # six heartbeats long
    assert result.status == "succeeded"
    assert podium.Client().recover_crashed_runs() == []
