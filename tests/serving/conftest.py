from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from tests.conftest import Trained

from podium.client import Client
from podium.serving import Limits, create_app, start_in_thread


@dataclass
class Served:
    url: str
    client: httpx.Client
    trained: Trained
    mixed_url: str
    flavor: str  # what answers for the reference model: sklearn, or onnx (its fast path)

    @property
    def atol(self) -> float:
        """How close its probabilities are to scikit-learn's (ONNX computes in float32)."""
        return 1e-5 if self.flavor == "onnx" else 1e-12


@pytest.fixture(scope="session", params=["sklearn", "auto"])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, trained: Trained
) -> Iterator[Served]:
    """Two real servers on loopback: the reference model, and a mixed-type model; every test
    using them runs twice, served by scikit-learn and as `podium serve` does by default (auto:
    the reference model through its ONNX fast path, the mixed one, which has none, by
    scikit-learn)."""
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    home: Path = tmp_path_factory.mktemp("serving")
    client = Client(home=home)
    client.register_model(trained.model, "cancer", input_example=trained.X, alias="champion")
    mixed_X = pd.DataFrame({"age": [20, 35, 50, 65] * 5, "plan": ["free", "pro"] * 10})
    mixed_y = [0, 0, 1, 1] * 5
    mixed = make_pipeline(
        make_column_transformer((StandardScaler(), ["age"]), (OneHotEncoder(), ["plan"])),
        LogisticRegression(),
    ).fit(mixed_X, mixed_y)
    client.register_model(mixed, "mixed", input_example=mixed_X)
    small = Limits(max_body_bytes=64 * 1024, max_rows=50)
    flavor = request.param
    cancer = client.load("cancer@champion", flavor=flavor)
    main = start_in_thread(create_app(cancer, limits=small))
    other = start_in_thread(create_app(client.load("mixed/1", flavor=flavor)))
    with httpx.Client(base_url=main.url, timeout=10) as http:
        yield Served(main.url, http, trained, other.url, cancer.runtime)
    main.stop()
    other.stop()
    client.workspace.close()


def record(trained: Trained, i: int = 0) -> dict[str, Any]:
    return {k: float(v) for k, v in trained.X.iloc[i].items()}


@dataclass
class CliServer:
    url: str
    process: Any


@pytest.fixture
def cli_server(tmp_path: Path) -> Iterator[Any]:
    """Start `podium serve ARGS` as a real process on a free port; stopped at teardown."""
    import subprocess
    import sys

    from podium.demos.quickstart import _stop, _wait_ready, free_port

    started: list[Any] = []

    def start(*args: str) -> CliServer:
        port = free_port()
        log = tmp_path / f"server-{port}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "podium", "serve", *args, "--port", str(port)],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        started.append(proc)
        url = f"http://127.0.0.1:{port}"
        _wait_ready(url, proc, log)
        return CliServer(url, proc)

    yield start
    for proc in started:
        _stop(proc)
