"""The orchestration engine: parallelism, retries, timeouts, hooks, fail-fast, caching, resume."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import podium
from podium import pipeline, step
from podium.core.errors import PipelineError
from podium.pipelines import RetryPolicy
from podium.workspace import Workspace

CALLS: dict[str, int] = {}
_lock = threading.Lock()


def _count(name: str) -> int:
    with _lock:
        CALLS[name] = CALLS.get(name, 0) + 1
        return CALLS[name]


@pytest.fixture(autouse=True)
def _reset_calls() -> None:
    CALLS.clear()


# -- parallelism -------------------------------------------------------------------------------
@step(cache=False)
def nap(seconds: float, tag: str) -> str:
    time.sleep(seconds)
    return tag


@step(cache=False)
def join(a: str, b: str) -> str:
    return a + b


@pipeline
def two_naps(seconds: float = 0.5) -> Any:
    return join(nap(seconds, "a"), nap(seconds, "b"))


def test_independent_steps_run_in_parallel(workspace: Workspace) -> None:
    result = two_naps.run(seconds=0.5)
    assert result.outputs == "ab"
    steps = {s.name: s for s in podium.Client().get_run(result.id).steps}
    first, second = steps["nap"], steps["nap_2"]
    assert first.started_at and first.ended_at and second.started_at and second.ended_at
    # They overlapped: a wall-clock bound would only measure how busy the machine is.
    assert second.started_at < first.ended_at and first.started_at < second.ended_at


def test_max_workers_one_runs_steps_one_at_a_time(workspace: Workspace) -> None:
    t0 = time.perf_counter()
    two_naps.run(seconds=0.3, max_workers=1)
    assert time.perf_counter() - t0 >= 0.6


# -- retries, hooks, timeouts ------------------------------------------------------------------
FAILURES: list[tuple[str, str]] = []


def record_failure(name: str, exc: Any) -> None:
    FAILURES.append((name, type(exc).__name__))


@step(retries=3, retry_delay=0.01, cache=False)
def flaky() -> int:
    if _count("flaky") <= 2:
        raise ConnectionError("network blip")
    return 42


@step(
    retries=3, retry_delay=0.01, retry_on=(ConnectionError,), cache=False, on_failure=record_failure
)
def wrong_kind() -> int:
    _count("wrong_kind")
    raise ValueError("a bug, not a blip")


@pipeline
def flaky_pipe() -> Any:
    return flaky()


@pipeline
def wrong_kind_pipe() -> Any:
    return wrong_kind()


def test_a_step_failing_twice_then_succeeding_is_retried(workspace: Workspace) -> None:
    result = flaky_pipe.run()
    assert result.outputs == 42
    [s] = podium.Client().get_run(result.id).steps
    assert (s.status, s.attempts) == ("succeeded", 3)


def test_only_the_listed_exceptions_are_retried_and_hooks_run(workspace: Workspace) -> None:
    FAILURES.clear()
    with pytest.raises(PipelineError, match="ValueError: a bug"):
        wrong_kind_pipe.run()
    assert CALLS["wrong_kind"] == 1
    assert FAILURES == [("wrong_kind", "ValueError")]


@given(
    attempt=st.integers(1, 30),
    delay=st.floats(0, 10),
    backoff=st.floats(1, 4),
    cap=st.floats(0, 100),
    jitter=st.floats(0, 1),
)
def test_backoff_grows_exponentially_up_to_the_cap_within_the_jitter(
    attempt: int, delay: float, backoff: float, cap: float, jitter: float
) -> None:
    policy = RetryPolicy(retries=5, delay=delay, backoff=backoff, max_delay=cap, jitter=jitter)
    base = min(cap, delay * backoff ** (attempt - 1))
    assert base * (1 - jitter) - 1e-9 <= policy.wait(attempt) <= base * (1 + jitter) + 1e-9


def test_bad_retry_settings_are_refused() -> None:
    def noop() -> int:
        return 1

    with pytest.raises(PipelineError, match=r"backoff=0\.5"):
        step(backoff=0.5)(noop)


@step(timeout=1.0, cache=False)
def sleepy(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


@pipeline
def sleepy_pipe(seconds: float = 30.0) -> Any:
    return sleepy(seconds)


@pytest.mark.slow
def test_a_step_past_its_timeout_is_stopped_and_marked_timed_out(workspace: Workspace) -> None:
    t0 = time.perf_counter()
    with pytest.raises(PipelineError, match="timed out"):
        sleepy_pipe.run(seconds=30.0)
    assert time.perf_counter() - t0 < 10
    run = podium.Client().list_runs(pipeline="sleepy_pipe")[0]
    [s] = podium.Client().get_run(run.id).steps
    assert s.status == "timed_out"


@pytest.mark.slow
def test_a_step_within_its_timeout_returns_its_value(workspace: Workspace) -> None:
    assert sleepy_pipe.run(seconds=0.01).outputs == 0.01


# -- failure handling --------------------------------------------------------------------------
@step(cache=False)
def boom() -> int:
    raise RuntimeError("boom")


@step(cache=False)
def after_boom(x: int) -> int:
    return x


@pipeline
def boom_and_slow_chain() -> Any:
    slow = nap(0.3, "s")
    return after_boom(boom()), join(slow, nap(0.3, "t")), join(nap(0.0, "u"), slow)


def test_fail_fast_cancels_steps_not_yet_started(workspace: Workspace) -> None:
    with pytest.raises(PipelineError):
        boom_and_slow_chain.run(fail_fast=True, max_workers=2)
    client = podium.Client()
    run = client.get_run(client.list_runs(pipeline="boom_and_slow_chain")[0].id)
    status = {s.name: s.status for s in run.steps}
    assert status["boom"] == "failed"
    assert status["after_boom"] in ("skipped", "cancelled")
    assert "cancelled" in status.values()


def test_without_fail_fast_independent_branches_finish(workspace: Workspace) -> None:
    result = boom_and_slow_chain.run(raise_on_failure=False)
    status = {s.name: s.status for s in podium.Client().get_run(result.id).steps}
    assert status == {
        "nap": "succeeded",
        "boom": "failed",
        "after_boom": "skipped",
        "nap_2": "succeeded",
        "join": "succeeded",
        "nap_3": "succeeded",
        "join_2": "succeeded",
    }


# -- caching -----------------------------------------------------------------------------------
@step
def make(n: int) -> pd.DataFrame:
    _count("make")
    return pd.DataFrame({"x": range(n)})


@step
def total(frame: pd.DataFrame, scale: float) -> float:
    _count("total")
    return float(frame["x"].sum() * scale)


@pipeline
def cached_pipe(n: int = 5, scale: float = 1.0) -> Any:
    return total(make(n), scale)


def _steps(run_id: str) -> dict[str, Any]:
    return {s.name: s for s in podium.Client().get_run(run_id).steps}


def test_a_second_identical_run_is_served_from_the_cache(workspace: Workspace) -> None:
    first = cached_pipe.run(n=5)
    second = cached_pipe.run(n=5)
    assert second.outputs == first.outputs == 10.0
    assert CALLS == {"make": 1, "total": 1}
    steps = _steps(second.id)
    assert all(s.status == "cached" and s.cache_hit for s in steps.values())
    assert steps["make"].cache_info["from_run"] == first.id
    assert _steps(first.id)["make"].cache_info["reason"] == "first run of this step"


def test_a_miss_says_which_part_of_the_key_changed(workspace: Workspace) -> None:
    cached_pipe.run(n=5, scale=1.0)
    result = cached_pipe.run(n=5, scale=2.0)
    steps = _steps(result.id)
    assert steps["make"].cache_hit
    assert steps["total"].cache_info["reason"] == "parameter 'scale' changed (1.0 -> 2.0)"
    result = cached_pipe.run(n=6, scale=2.0)
    steps = _steps(result.id)
    assert steps["make"].cache_info["reason"] == "parameter 'n' changed (5 -> 6)"
    assert steps["total"].cache_info["reason"] == "input 'frame' changed (new content)"


def test_changed_code_is_a_miss(workspace: Workspace) -> None:
    @step(name="total")
    def total_v2(frame: pd.DataFrame, scale: float) -> float:
        return float(frame["x"].sum() * scale * 10)

    @pipeline(name="cached_pipe")
    def cached_pipe_v2(n: int = 5, scale: float = 1.0) -> Any:
        return total_v2(make(n), scale)

    cached_pipe.run()
    result = cached_pipe_v2.run()
    assert result.outputs == 100.0
    assert _steps(result.id)["total"].cache_info["reason"] == "the step's code changed"


@step
def uses_frame(frame: pd.DataFrame) -> int:
    _count("uses_frame")
    return len(frame)


@pipeline
def unhashable_param(frame: Any = None) -> Any:
    return uses_frame(frame)


def test_an_unhashable_parameter_turns_caching_off_instead_of_a_wrong_hit(
    workspace: Workspace,
) -> None:
    unhashable_param.run(frame=pd.DataFrame({"x": [1]}))
    result = unhashable_param.run(frame=pd.DataFrame({"x": [1, 2]}))
    assert result.outputs == 2 and CALLS["uses_frame"] == 2
    reason = _steps(result.id)["uses_frame"].cache_info["reason"]
    assert "parameter 'frame' is a DataFrame, which cannot be hashed" in reason


# -- resume ------------------------------------------------------------------------------------


@step(cache=False)
def expensive() -> int:
    _count("expensive")
    return 7


@step(cache=False)
def fragile(x: int, flag: str) -> int:
    _count("fragile")
    if Path(flag).exists():
        raise RuntimeError("disk full")
    return x * 2


@step(cache=False)
def finish(x: int) -> int:
    _count("finish")
    return x + 1


@pipeline
def resumable(flag: str = "") -> Any:
    return finish(fragile(expensive(), flag))


def test_resume_reruns_only_failed_and_unrun_steps(workspace: Workspace, tmp_path: Path) -> None:
    flag = tmp_path / "fail"
    flag.write_text("1")
    with pytest.raises(PipelineError, match="podium runs resume"):
        resumable.run(flag=str(flag))
    run_id = podium.Client().list_runs(pipeline="resumable")[0].id
    flag.unlink()
    result = resumable.resume(run_id)
    assert result.id == run_id and result.status == "succeeded" and result.outputs == 15
    assert CALLS == {"expensive": 1, "fragile": 2, "finish": 1}
    steps = _steps(run_id)
    assert [steps[n].status for n in ("expensive", "fragile", "finish")] == ["succeeded"] * 3
    with pytest.raises(PipelineError, match="nothing to resume"):
        resumable.resume(run_id)


def test_resume_of_an_unknown_run_is_not_found(workspace: Workspace) -> None:
    from podium.core.errors import NotFoundError

    with pytest.raises(NotFoundError):
        resumable.resume("nope")


@step(process=True, cache=False)
def where_am_i() -> int:
    import os

    return os.getpid()


@pipeline
def isolated() -> Any:
    return where_am_i()


@pytest.mark.slow
def test_a_process_step_runs_in_its_own_process(workspace: Workspace) -> None:
    import os

    pid = isolated.run().outputs
    assert isinstance(pid, int) and pid != os.getpid()
