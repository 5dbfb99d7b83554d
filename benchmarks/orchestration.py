"""Per-step orchestration overhead of podium pipelines, against a plain Python loop.

Run from the repository root (the default sizes take a few minutes, most of it at 10000)::

    python benchmarks/orchestration.py
    python benchmarks/orchestration.py --sizes 1,100,1000 --repeat 3
    python benchmarks/orchestration.py --profile 1000      # also: where the time goes

What it measures, in one run (pinned to CPU 0 with ``taskset`` unless ``--no-pin``, one
BLAS/OpenMP thread):

1. **Per-step overhead.** Chains (``x = inc(x)`` N times) and fan-outs (N independent
   ``inc(i)`` gathered by one ``gather`` step) of N trivial steps, caching off
   (``@step(cache=False)``), each run in a fresh workspace in a temporary folder (opened
   and migrated before the clock starts). Reported: the wall time of ``Pipeline.run()``,
   wall/N, the per-step overhead ``(wall(N) - wall(1)) / (N - 1)``, the marginal cost
   between consecutive sizes, and the same for the floor: a plain Python loop calling the
   same functions N times. Linear growth shows as a flat wall/N (100 vs the largest N).
2. **Cached re-run.** A chain (1000 steps by default, caching on) is run once, then re-run
   in the same workspace: every step is served from the cache. Reported per step.
3. **One-step pipeline through the CLI.** ``podium run FILE:one`` as a subprocess, with
   ``PODIUM_HOME`` a fresh temporary folder (best of 3); also in an existing workspace,
   and ``python -c pass`` for the interpreter's own start-up.
4. **Import time**, measured inside a fresh interpreter (best of 5): ``import podium``,
   ``import podium; from podium import pipeline, step`` (which triggers the lazy imports)
   and ``import podium.cli.main`` (what the ``podium`` command loads first).

Beside podium's figures it prints reference figures for Prefect 3 and ZenML (measured by
the team on the same machine) and the targets: <= 1 ms per step, linear growth, a one-step
``podium run`` under 1 s and ``import podium`` under 300 ms.

Results are printed as a table and written as JSON (``--out``). A run whose output is wrong
or a CLI call that fails stops the benchmark with an error; missed targets do not change
the exit status. Compare numbers only between runs on the same machine.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import json
import os
import platform
import pstats
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from podium.pipelines import Pipeline
    from podium.workspace import Workspace

PIN_CPU = 0
PINNED_ENV = "PODIUM_BENCH_PINNED"
THREAD_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "orchestration.json"
DEFAULT_SIZES = (1, 100, 1000, 10000)
SHAPES = ("chain", "fan-out")
CLI_REPEAT = 3
IMPORT_REPEAT = 5
FLOOR_MIN_REPEAT = 20  # the floor is cheap and noisy at small N: more tries, best kept
PROFILE_TOP = 15

# Team measurements on this machine (same kind of trivial steps), for context.
REFERENCES: dict[str, dict[str, float]] = {
    "Prefect 3": {"per_step_s": 12.5e-3, "one_step_cli_s": 8.8, "import_s": 1.2},
    "ZenML": {"per_step_s": 69e-3, "one_step_cli_s": 4.9, "import_s": 1.7},
}
TARGETS = {
    "per_step_s": 1e-3,  # per-step overhead at the largest N, chain and fan-out
    "linear_growth_max_ratio": 1.5,  # wall/N at the largest N over wall/N at N=100
    "one_step_cli_s": 1.0,
    "import_s": 0.3,
}

CLI_PIPELINE = '''\
"""A one-step pipeline for `podium run` start-up timing."""

from podium import pipeline, step


@step(cache=False)
def hello() -> int:
    return 1


@pipeline
def one():
    return hello()
'''

IMPORT_SNIPPETS = {
    "import podium": "import podium",
    "import podium; from podium import pipeline, step": (
        "import podium\nfrom podium import pipeline, step"
    ),
    "import podium.cli.main": "import podium.cli.main",
}


# -- the workload ---------------------------------------------------------------------------
def inc(x: int) -> int:
    return x + 1


def gather(xs: list[int]) -> int:
    return sum(xs)


@dataclass
class Pipelines:
    """The benchmark pipelines; built after the environment is set (podium imported late)."""

    chain: Pipeline
    fan: Pipeline
    cached_chain: Pipeline


def make_pipelines() -> Pipelines:
    from podium import pipeline, step

    inc_step = step(cache=False)(inc)
    gather_step = step(cache=False)(gather)
    inc_cached = step(name="inc_cached")(inc)

    @pipeline
    def chain(n: int = 10) -> Any:
        x: Any = 0
        for _ in range(n):
            x = inc_step(x)
        return x

    @pipeline(name="fan_out")
    def fan(n: int = 10) -> Any:
        return gather_step([inc_step(i) for i in range(n)])

    @pipeline
    def cached_chain(n: int = 10) -> Any:
        x: Any = 0
        for _ in range(n):
            x = inc_cached(x)
        return x

    return Pipelines(chain, fan, cached_chain)


def expected(shape: str, n: int) -> int:
    return n if shape == "chain" else n * (n + 1) // 2


def floor_once(shape: str, n: int) -> tuple[float, int]:
    """The same functions called N times in a plain loop: (seconds, result)."""
    if shape == "chain":
        started = time.perf_counter()
        x = 0
        for _ in range(n):
            x = inc(x)
        return time.perf_counter() - started, x
    started = time.perf_counter()
    total = gather([inc(i) for i in range(n)])
    return time.perf_counter() - started, total


# -- measurements ---------------------------------------------------------------------------
@dataclass
class SizeResult:
    shape: str
    n: int
    steps: int  # steps in the DAG (fan-out: N + the gather step)
    wall_s: float  # best of --repeat
    walls_s: list[float]
    workspace_open_s: float  # create + migrate the fresh workspace (not in wall_s)
    floor_s: float
    per_step_s: float | None = None  # (wall(N) - wall(1)) / (N - 1)
    marginal_s: float | None = None  # between this size and the previous one
    floor_per_step_s: float | None = None
    ratio: float | None = None  # per_step_s / floor_per_step_s

    @property
    def wall_per_n_s(self) -> float:
        return self.wall_s / self.n


@dataclass
class CachedResult:
    n: int
    first_run_s: float  # caching on, nothing cached yet
    rerun_s: float  # every step served from the cache
    rerun_1_s: float  # the same for a one-step chain
    cached_steps: int
    per_step_s: float = field(init=False)
    per_step_diff_s: float = field(init=False)

    def __post_init__(self) -> None:
        self.per_step_s = self.rerun_s / self.n
        self.per_step_diff_s = (self.rerun_s - self.rerun_1_s) / max(self.n - 1, 1)


@dataclass
class ProcessTiming:
    label: str
    best_s: float
    all_s: list[float]
    command: list[str] = field(default_factory=list)


@contextlib.contextmanager
def fresh_workspace() -> Iterator[tuple[Workspace, float]]:
    """A workspace in a new temporary folder, opened and migrated; (workspace, open time)."""
    from podium.core.settings import Settings
    from podium.workspace import Workspace

    with tempfile.TemporaryDirectory(prefix="podium-bench-") as tmp:
        started = time.perf_counter()
        ws = Workspace(Settings.at(tmp))
        _ = ws.store, ws.artifacts
        opened = time.perf_counter() - started
        try:
            yield ws, opened
        finally:
            ws.close()


def timed_run(pipe: Pipeline, n: int, ws: Workspace, workers: int | None) -> tuple[float, Any]:
    gc.collect()
    started = time.perf_counter()
    result = pipe.run(n=n, workspace=ws, max_workers=workers)
    return time.perf_counter() - started, result


def measure_size(
    pipes: Pipelines, shape: str, n: int, repeat: int, workers: int | None
) -> SizeResult:
    pipe = pipes.chain if shape == "chain" else pipes.fan
    walls: list[float] = []
    opens: list[float] = []
    for _ in range(repeat):
        with fresh_workspace() as (ws, opened):
            wall, result = timed_run(pipe, n, ws, workers)
        if result.outputs != expected(shape, n) or result.status != "succeeded":
            raise SystemExit(f"{shape} N={n}: wrong result {result.outputs!r} ({result.status})")
        walls.append(wall)
        opens.append(opened)
    floors = []
    for _ in range(max(repeat, FLOOR_MIN_REPEAT)):
        seconds, value = floor_once(shape, n)
        if value != expected(shape, n):
            raise SystemExit(f"floor {shape} N={n}: wrong result {value!r}")
        floors.append(seconds)
    return SizeResult(
        shape=shape,
        n=n,
        steps=n if shape == "chain" else n + 1,
        wall_s=min(walls),
        walls_s=walls,
        workspace_open_s=min(opens),
        floor_s=min(floors),
    )


def derive(results: list[SizeResult]) -> None:
    """Fill the per-step, marginal and ratio fields of the results of one shape."""
    base = next((r for r in results if r.n == 1), None)
    previous: SizeResult | None = None
    for r in sorted(results, key=lambda r: r.n):
        if base is not None and r.n > 1:
            r.per_step_s = (r.wall_s - base.wall_s) / (r.n - 1)
            r.floor_per_step_s = (r.floor_s - base.floor_s) / (r.n - 1)
            if r.floor_per_step_s > 0:
                r.ratio = r.per_step_s / r.floor_per_step_s
        if previous is not None:
            r.marginal_s = (r.wall_s - previous.wall_s) / (r.n - previous.n)
        previous = r


def measure_cached(pipes: Pipelines, n: int, workers: int | None) -> CachedResult:
    reruns: dict[int, float] = {}
    first = 0.0
    cached_steps = 0
    for size in (1, n):
        with fresh_workspace() as (ws, _):
            first_s, _ = timed_run(pipes.cached_chain, size, ws, workers)
            rerun_s, result = timed_run(pipes.cached_chain, size, ws, workers)
        hits = sum(s.cache_hit for s in result.run.steps)
        if result.outputs != size or hits != size:
            raise SystemExit(
                f"cached chain N={size}: output {result.outputs!r}, {hits}/{size} steps cached"
            )
        reruns[size] = rerun_s
        if size == n:
            first, cached_steps = first_s, hits
    return CachedResult(n, first, reruns[n], reruns[1], cached_steps)


def best_of(label: str, command: list[str], repeat: int, env: dict[str, str]) -> ProcessTiming:
    """Wall time of a whole process, best of ``repeat``."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        proc = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        times.append(time.perf_counter() - started)
        if proc.returncode != 0:
            raise SystemExit(
                f"{label}: {' '.join(command)} exited {proc.returncode}\n{proc.stdout}{proc.stderr}"
            )
    return ProcessTiming(label, min(times), times, command)


def podium_command() -> list[str]:
    """The console script installed with this interpreter (not a pyenv/asdf shim)."""
    script = Path(sys.executable).parent / "podium"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "podium"]


def measure_cli(workdir: Path) -> list[ProcessTiming]:
    pipeline_file = workdir / "one_step.py"
    pipeline_file.write_text(CLI_PIPELINE)
    command = [*podium_command(), "run", f"{pipeline_file}:one"]
    fresh: list[float] = []
    for i in range(CLI_REPEAT):
        home = workdir / f"home-{i}"  # a new workspace each time: created and migrated
        env = {**os.environ, "PODIUM_HOME": str(home)}
        fresh.append(best_of("podium run (fresh)", command, 1, env).best_s)
    existing_env = {**os.environ, "PODIUM_HOME": str(workdir / "home-0")}
    return [
        ProcessTiming("podium run, fresh workspace", min(fresh), fresh, command),
        best_of("podium run, existing workspace", command, CLI_REPEAT, existing_env),
        best_of("python -c pass", [sys.executable, "-c", "pass"], CLI_REPEAT, dict(os.environ)),
    ]


def measure_imports() -> list[ProcessTiming]:
    """Import time inside a fresh interpreter (its own start-up excluded), best of 5."""
    timings = []
    for label, code in IMPORT_SNIPPETS.items():
        script = (
            "import time\n_t = time.perf_counter()\n"
            + code
            + "\nprint(repr(time.perf_counter() - _t))\n"
        )
        runs = []
        for _ in range(IMPORT_REPEAT):
            proc = subprocess.run(
                [sys.executable, "-c", script], capture_output=True, text=True, check=False
            )
            if proc.returncode != 0:
                raise SystemExit(f"{label}: failed\n{proc.stderr}")
            runs.append(float(proc.stdout.strip().splitlines()[-1]))
        timings.append(ProcessTiming(label, min(runs), runs, [sys.executable, "-c", script]))
    return timings


# -- profile ----------------------------------------------------------------------------------
def profile_chain(pipes: Pipelines, n: int, workers: int | None) -> dict[str, Any]:
    """cProfile one chain run: the calling thread and every step thread, merged."""
    from podium.pipelines import runner

    profilers: list[cProfile.Profile] = []
    local = threading.local()
    lock = threading.Lock()
    original = runner._Engine._execute

    def profiled(self: Any, node: Any) -> Any:
        prof = getattr(local, "prof", None)
        if prof is None:
            prof = local.prof = cProfile.Profile()
            with lock:
                profilers.append(prof)
        prof.enable()
        try:
            return original(self, node)
        finally:
            prof.disable()

    main = cProfile.Profile()
    runner._Engine._execute = profiled  # type: ignore[method-assign]
    try:
        with fresh_workspace() as (ws, _):
            main.enable()
            started = time.perf_counter()
            pipes.chain.run(n=n, workspace=ws, max_workers=workers)
            wall = time.perf_counter() - started
            main.disable()
    finally:
        runner._Engine._execute = original  # type: ignore[method-assign]
    stats = pstats.Stats(main)
    for prof in profilers:
        stats.add(prof)
    entries = stats.stats  # type: ignore[attr-defined]

    def row(key: tuple[str, int, str], value: tuple[Any, ...]) -> dict[str, Any]:
        _cc, ncalls, tottime, cumtime, _callers = value
        file, line, func = key
        return {
            "function": f"{_short(file)}:{line}({func})",
            "ncalls": ncalls,
            "tottime_s": tottime,
            "cumtime_s": cumtime,
            "cum_per_step_us": cumtime / n * 1e6,
        }

    inside = [(k, v) for k, v in entries.items() if f"{os.sep}podium{os.sep}" in k[0]]
    inside.sort(key=lambda kv: kv[1][3], reverse=True)
    # The scheduler thread blocks on a lock while steps run: that is waiting, not work.
    anywhere = sorted(
        ((k, v) for k, v in entries.items() if not k[2].startswith("<method 'acquire'")),
        key=lambda kv: kv[1][2],
        reverse=True,
    )
    return {
        "n": n,
        "wall_s_under_profiler": wall,
        "threads_profiled": 1 + len(profilers),
        "top_cumulative_in_podium": [row(k, v) for k, v in inside[:PROFILE_TOP]],
        "top_tottime_anywhere": [row(k, v) for k, v in anywhere[:PROFILE_TOP]],
    }


def _short(path: str) -> str:
    """``podium/pipelines/runner.py`` rather than the full path; site-packages trimmed."""
    inside = f"{os.sep}podium{os.sep}"
    if inside in path:
        return "podium/" + path.rsplit(inside, 1)[1]
    marker = "site-packages" + os.sep
    return path.split(marker, 1)[1] if marker in path else path


# -- report -----------------------------------------------------------------------------------
def fmt_s(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    a = abs(seconds)
    if a >= 1:
        return f"{seconds:.2f} s"
    if a >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    if a >= 1e-6:
        return f"{seconds * 1e6:.1f} µs"
    return f"{seconds * 1e9:.0f} ns"


def table(headers: list[str], rows: list[list[str]], right: set[int] | None = None) -> str:
    right = set(range(1, len(headers))) if right is None else right
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, rows)])


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("PASS" if ok else "MISS")


def evaluate(
    sizes: list[SizeResult], cli: list[ProcessTiming], imports: list[ProcessTiming]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for shape in SHAPES:
        rs = sorted((r for r in sizes if r.shape == shape), key=lambda r: r.n)
        largest = rs[-1] if rs and rs[-1].per_step_s is not None else None
        out[f"per_step_{shape}"] = {
            "n": largest.n if largest else None,
            "value_s": largest.per_step_s if largest else None,
            "ok": (largest.per_step_s or 0) <= TARGETS["per_step_s"] if largest else None,
        }
        at_100 = next((r for r in rs if r.n == 100), None)
        top = rs[-1] if rs else None
        ratio = (
            top.wall_per_n_s / at_100.wall_per_n_s
            if at_100 is not None and top is not None and top.n > at_100.n
            else None
        )
        out[f"linear_{shape}"] = {
            "wall_per_n_ratio": ratio,
            "between": [100, top.n if top else None],
            "ok": ratio <= TARGETS["linear_growth_max_ratio"] if ratio is not None else None,
        }
    out["one_step_cli"] = {
        "value_s": cli[0].best_s,
        "ok": cli[0].best_s < TARGETS["one_step_cli_s"],
    }
    out["import"] = {"value_s": imports[0].best_s, "ok": imports[0].best_s < TARGETS["import_s"]}
    return out


def report(
    sizes: list[SizeResult],
    cached: CachedResult,
    cli: list[ProcessTiming],
    imports: list[ProcessTiming],
    verdicts: dict[str, Any],
    args: argparse.Namespace,
    env: dict[str, Any],
) -> None:
    print(
        f"podium {env['packages'].get('podium')} · Python {env['python']} · "
        f"CPU affinity {env['cpu_affinity']} · workers {args.workers or 'default'} · "
        f"best of {args.repeat}"
    )
    print("\n1. Per-step overhead, caching off (fresh workspace per run; floor: plain loop)\n")
    rows = []
    for r in sorted(sizes, key=lambda r: (SHAPES.index(r.shape), r.n)):
        rows.append(
            [
                r.shape,
                str(r.n),
                str(r.steps),
                fmt_s(r.wall_s),
                fmt_s(r.wall_per_n_s),
                fmt_s(r.per_step_s),
                fmt_s(r.marginal_s),
                fmt_s(r.floor_s),
                fmt_s(r.floor_per_step_s),
                f"{r.ratio:,.0f}x" if r.ratio is not None else "-",
            ]
        )
    print(
        table(
            [
                "shape",
                "N",
                "steps",
                "run() wall",
                "wall/N",
                "overhead/step",
                "marginal/step",
                "floor wall",
                "floor/step",
                "ratio",
            ],
            rows,
        )
    )
    print(
        "\n   overhead/step = (wall(N) - wall(1)) / (N - 1); marginal/step = between this N "
        "and the previous one.\n   ratio = overhead/step over floor/step. Workspace open "
        f"(create + migrate, not timed above): {fmt_s(min(r.workspace_open_s for r in sizes))}."
    )

    print(f"\n2. Cached re-run of a {cached.n}-step chain (caching on)\n")
    print(
        table(
            ["run", "wall", "per step"],
            [
                [
                    "first run (cache on, all misses)",
                    fmt_s(cached.first_run_s),
                    fmt_s(cached.first_run_s / cached.n),
                ],
                [
                    f"re-run ({cached.cached_steps}/{cached.n} from cache)",
                    fmt_s(cached.rerun_s),
                    fmt_s(cached.per_step_s),
                ],
                [
                    "re-run, (wall(N) - wall(1)) / (N - 1)",
                    "-",
                    fmt_s(cached.per_step_diff_s),
                ],
            ],
        )
    )

    print("\n3. Whole-process time of a one-step pipeline, best of 3\n")
    print(
        table(
            ["command", "wall"],
            [[t.label, fmt_s(t.best_s)] for t in cli]
            + [["podium run overhead over python -c pass", fmt_s(cli[0].best_s - cli[-1].best_s)]],
        )
    )
    print(f"   command: {' '.join(cli[0].command[:-1])} one_step.py:one")

    print("\n4. Import time inside a fresh interpreter, best of 5\n")
    print(table(["statement", "time"], [[t.label, fmt_s(t.best_s)] for t in imports]))

    print("\nBeside the references (team measurements on this machine) and the targets\n")
    ours_step = max(
        (r.per_step_s for r in sizes if r.per_step_s is not None and r.n == max(args.sizes)),
        default=None,
    )
    ref_rows = [
        [
            "podium (this run)",
            fmt_s(ours_step),
            fmt_s(cli[0].best_s),
            fmt_s(imports[0].best_s),
        ],
        *(
            [name, fmt_s(v["per_step_s"]), fmt_s(v["one_step_cli_s"]), fmt_s(v["import_s"])]
            for name, v in REFERENCES.items()
        ),
        [
            "target",
            f"<= {fmt_s(TARGETS['per_step_s'])}",
            f"< {fmt_s(TARGETS['one_step_cli_s'])}",
            f"< {fmt_s(TARGETS['import_s'])}",
        ],
    ]
    print(table(["", "per step", "one-step pipeline", "import"], ref_rows))
    print("   podium per step: the worse of chain and fan-out at the largest N.\n")

    checks = []
    for shape in SHAPES:
        v = verdicts[f"per_step_{shape}"]
        checks.append(
            [
                f"per-step overhead, {shape} (N={v['n']})",
                fmt_s(v["value_s"]),
                "<= 1 ms",
                verdict(v["ok"]),
            ]
        )
    for shape in SHAPES:
        v = verdicts[f"linear_{shape}"]
        ratio = v["wall_per_n_ratio"]
        checks.append(
            [
                f"linear growth, {shape}: wall/N at N={v['between'][1]} / at N=100",
                f"{ratio:.2f}x" if ratio is not None else "-",
                f"<= {TARGETS['linear_growth_max_ratio']}x",
                verdict(v["ok"]),
            ]
        )
    checks.append(
        [
            "one-step `podium run` (fresh workspace)",
            fmt_s(verdicts["one_step_cli"]["value_s"]),
            "< 1 s",
            verdict(verdicts["one_step_cli"]["ok"]),
        ]
    )
    checks.append(
        [
            "`import podium`",
            fmt_s(verdicts["import"]["value_s"]),
            "< 300 ms",
            verdict(verdicts["import"]["ok"]),
        ]
    )
    print(table(["target", "measured", "goal", ""], checks, right={1}))


def print_profile(prof: dict[str, Any]) -> None:
    n = prof["n"]
    print(
        f"\nProfile of one {n}-step chain (cProfile, {prof['threads_profiled']} threads merged; "
        f"{fmt_s(prof['wall_s_under_profiler'])} under the profiler)\n"
    )
    for title, key in (
        (f"top {PROFILE_TOP} cumulative inside podium", "top_cumulative_in_podium"),
        (f"top {PROFILE_TOP} own time anywhere (lock waits left out)", "top_tottime_anywhere"),
    ):
        print(f"   {title}:")
        rows = [
            [
                e["function"],
                str(e["ncalls"]),
                fmt_s(e["tottime_s"]),
                fmt_s(e["cumtime_s"]),
                fmt_s(e["cum_per_step_us"] / 1e6),
            ]
            for e in prof[key]
        ]
        print(
            textwrap.indent(
                table(["function", "ncalls", "tottime", "cumtime", "cum/step"], rows), "   "
            )
        )
        print()


# -- main ---------------------------------------------------------------------------------------
def parse_sizes(text: str) -> list[int]:
    try:
        sizes = sorted({int(s) for s in text.split(",") if s.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma list of integers: {text!r}") from None
    if not sizes or sizes[0] < 1:
        raise argparse.ArgumentTypeError("sizes must be >= 1")
    if 1 not in sizes:
        sizes.insert(0, 1)  # the per-step overhead is measured against N=1
    return sizes


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument(
        "--sizes",
        type=parse_sizes,
        default=list(DEFAULT_SIZES),
        help="comma list of step counts N (1 is always added); default 1,100,1000,10000",
    )
    p.add_argument("--repeat", type=int, default=1, help="runs per size, best kept (1)")
    p.add_argument(
        "--cached-size", type=int, default=1000, help="steps in the cached re-run chain (1000)"
    )
    p.add_argument(
        "--workers", type=int, default=None, help="max_workers for run() (podium's default)"
    )
    p.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="N",
        help="also cProfile one N-step chain and print where the time goes (off)",
    )
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"JSON path ({DEFAULT_OUT})")
    p.add_argument(
        "--no-pin", action="store_true", help=f"do not re-exec under taskset -c {PIN_CPU}"
    )
    args = p.parse_args(argv)
    if args.repeat < 1 or args.cached_size < 1:
        p.error("--repeat and --cached-size must be >= 1")
    return args


def maybe_pin(args: argparse.Namespace, argv: list[str]) -> None:
    """Re-exec this script under ``taskset -c 0`` with one BLAS/OpenMP thread."""
    for key, value in THREAD_ENV.items():
        os.environ[key] = value
    if args.no_pin or os.environ.get(PINNED_ENV) or shutil.which("taskset") is None:
        return
    os.environ[PINNED_ENV] = "1"
    sys.stdout.flush()
    os.execvp(
        "taskset",
        ["taskset", "-c", str(PIN_CPU), sys.executable, str(Path(__file__).resolve()), *argv],
    )


def environment(pinned: bool) -> dict[str, Any]:
    affinity = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    packages: dict[str, str | None] = {}
    for name in ("podium", "sqlalchemy", "fsspec"):
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            packages[name] = None
    return {
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "cpu_affinity": affinity,
        "pinned": pinned,
        "thread_env": THREAD_ENV,
        "packages": packages,
    }


def run_all(
    args: argparse.Namespace, log: Callable[[str], None]
) -> tuple[list[SizeResult], CachedResult, list[ProcessTiming], list[ProcessTiming]]:
    pipes = make_pipelines()
    with fresh_workspace() as (ws, _):  # warm-up: imports, first statement compilations
        for pipe in (pipes.chain, pipes.fan):
            pipe.run(n=2, workspace=ws, max_workers=args.workers)
    sizes: list[SizeResult] = []
    for shape in SHAPES:
        for n in args.sizes:
            log(f"{shape} N={n} ...")
            sizes.append(measure_size(pipes, shape, n, args.repeat, args.workers))
        derive([r for r in sizes if r.shape == shape])
    log(f"cached chain N={args.cached_size} ...")
    cached = measure_cached(pipes, args.cached_size, args.workers)
    log("podium run (CLI) ...")
    with tempfile.TemporaryDirectory(prefix="podium-bench-cli-") as tmp:
        cli = measure_cli(Path(tmp))
    log("imports ...")
    imports = measure_imports()
    return sizes, cached, cli, imports


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    maybe_pin(args, argv)
    pinned = bool(os.environ.get(PINNED_ENV))
    env = environment(pinned)

    def log(msg: str) -> None:
        print(f"  [{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)

    if not pinned and not args.no_pin:
        log("taskset not found: running unpinned")
    sizes, cached, cli, imports = run_all(args, log)
    verdicts = evaluate(sizes, cli, imports)
    prof = None
    if args.profile:
        log(f"profiling a {args.profile}-step chain ...")
        prof = profile_chain(make_pipelines(), args.profile, args.workers)

    report(sizes, cached, cli, imports, verdicts, args, env)
    if prof is not None:
        print_profile(prof)

    payload = {
        "settings": {
            "sizes": args.sizes,
            "repeat": args.repeat,
            "cached_size": args.cached_size,
            "workers": args.workers,
            "cli_repeat": CLI_REPEAT,
            "import_repeat": IMPORT_REPEAT,
            "floor_repeat_min": FLOOR_MIN_REPEAT,
        },
        "environment": env,
        "steps": [{**asdict(r), "wall_per_n_s": r.wall_per_n_s} for r in sizes],
        "cached_rerun": asdict(cached),
        "cli": [asdict(t) for t in cli],
        "imports": [{k: v for k, v in asdict(t).items() if k != "command"} for t in imports],
        "references": REFERENCES,
        "targets": TARGETS,
        "verdicts": verdicts,
        "profile": prof,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"\nWrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
