"""Write loops for tests/test_crash_safety.py, run until the test kills them with SIGKILL.

    python tests/crash_workload.py MODE SEED LOG

MODE is ``blobs`` (large artifact writes), ``registry`` (versions registered inside a
pipeline run, aliases moved and deleted) or ``deploy`` (deployments applied, promoted,
rolled back and re-pointed while the aliases they follow move). The workspace comes from
PODIUM_HOME / PODIUM_DB_URL / PODIUM_ARTIFACTS_URL. Each operation appends ``start ...``
to LOG before it begins and ``done ...`` once it returned, so the test knows what was
acknowledged (and must survive) and what was in flight (and may or may not have happened).
"""

from __future__ import annotations

import contextlib
import os
import random
import sys
from pathlib import Path
from typing import Any

LOG: Path


def note(line: str) -> None:
    with LOG.open("a") as fh:
        fh.write(line + "\n")
        fh.flush()


def blobs(seed: int) -> None:
    from podium.workspace import Workspace

    store = Workspace.default().artifacts
    rng = random.Random(seed)
    data = bytearray(rng.randbytes(4 << 20))  # 4 MiB: a write takes a while
    src = LOG.with_suffix(".bin")  # beside the log, in the test's temporary folder
    src.write_bytes(data)
    note("ready")
    for i in range(1_000_000):
        # New content each time at almost no cost, so nearly all the time goes to writes.
        stamp = i.to_bytes(8, "big")
        if i % 2:
            data[:8] = stamp
            note("start put")
            digest = store.put(bytes(data))
        else:
            with src.open("r+b") as fh:
                fh.write(stamp)
            note("start put_file")
            digest = store.put_file(src)
        note(f"done {digest}")


def registry(seed: int) -> None:
    from podium import pipeline, step

    @step(cache=False)
    def churn(seed: int) -> int:
        import numpy as np
        import pandas as pd
        from sklearn.linear_model import LogisticRegression

        import podium
        from podium.core.errors import NotFoundError

        rng = random.Random(seed)
        gen = np.random.default_rng(seed)
        X = pd.DataFrame(gen.normal(size=(300, 4)), columns=["a", "b", "c", "d"])
        y = (X["a"] + X["b"] > 0).astype(int)
        client = podium.Client()
        note("ready")
        while True:
            latest = max((m.latest_version for m in client.list_models()), default=0)
            op = rng.random()
            if op < 0.5 or latest == 0:
                model = LogisticRegression(C=rng.uniform(0.01, 10)).fit(X, y)
                with_ref = rng.random() < 0.3
                alias = rng.choice([None, "champion", "challenger"])
                note(f"start register alias={alias}")
                mv = client.register_model(
                    model,
                    "churn",
                    input_example=X.head(20),
                    reference_data=X if with_ref else None,
                    tags={"reference": "yes" if with_ref else "no"},
                    alias=alias,
                )
                note(f"done register {mv.version} alias={alias}")
            elif op < 0.85:
                alias = rng.choice(["champion", "challenger", "canary"])
                version = rng.randint(1, latest)
                note(f"start alias {alias} {version}")
                client.set_alias("churn", alias, version)
                note(f"done alias {alias} {version}")
            else:
                alias = rng.choice(["challenger", "canary"])
                note(f"start unalias {alias}")
                with contextlib.suppress(NotFoundError):  # not set: nothing to delete
                    client.delete_alias("churn", alias)
                note(f"done unalias {alias}")

    @pipeline(name="crash-registry")
    def crash_registry(seed: int = 0) -> Any:
        return churn(seed)

    crash_registry.run(seed=seed)


def deploy(seed: int) -> None:
    from podium.core.errors import ValidationError
    from podium.deploy import apply, deploy_model, promote, rollback, set_traffic
    from podium.registry import Registry
    from podium.workspace import Workspace

    ws = Workspace.default()
    registry = Registry(ws.store, ws.artifacts)
    latest = registry.get_model("churn").latest_version
    rng = random.Random(seed)

    def bluegreen() -> dict[str, Any]:
        return {
            "name": "bg",
            "strategy": "bluegreen",
            "variants": {
                "blue": {"model": f"models:/churn/{rng.randint(1, latest)}"},
                "green": {"model": "models:/churn@challenger"},
            },
            "bluegreen": {"live": "blue", "idle": "green"},
        }

    def canary() -> dict[str, Any]:
        return {
            "name": "can",
            "strategy": "canary",
            "variants": {
                "stable": {"model": "models:/churn@champion"},
                "candidate": {"model": f"models:/churn/{rng.randint(1, latest)}"},
            },
            "canary": {"steps": [5, 25, 50, 100], "min_duration_s": 1, "min_requests": 1},
        }

    ops = [
        ("apply bg", lambda: apply(ws, bluegreen())),
        ("apply can", lambda: apply(ws, canary())),
        ("promote bg", lambda: promote(ws, "bg")),
        ("rollback bg", lambda: rollback(ws, "bg")),
        ("promote can", lambda: promote(ws, "can")),
        ("rollback can", lambda: rollback(ws, "can")),
        ("traffic can", lambda: set_traffic(ws, "can", {"candidate": rng.choice([5, 25, 50])})),
        ("single", lambda: deploy_model(ws, f"churn/{rng.randint(1, latest)}", "one")),
        (
            "alias",
            lambda: registry.set_alias(
                "churn", rng.choice(["champion", "challenger"]), rng.randint(1, latest)
            ),
        ),
    ]
    apply(ws, bluegreen())
    apply(ws, canary())
    note("ready")
    while True:
        label, op = rng.choice(ops)
        note(f"start {label}")
        with contextlib.suppress(ValidationError):  # a move the current state refuses
            op()
        note(f"done {label}")


if __name__ == "__main__":
    mode, seed, LOG = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
    os.environ.setdefault("PODIUM_ACTOR", "crash-test")
    {"blobs": blobs, "registry": registry, "deploy": deploy}[mode](seed)
