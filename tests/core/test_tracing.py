"""OpenTelemetry: spans for served requests and pipeline steps when a tracer provider is
configured; nothing at all (not even an import) when OpenTelemetry is absent or unused."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.conftest import Trained

from podium import pipeline, step
from podium.client import Client
from podium.serving import create_app, start_in_thread
from podium.testing import require_module
from podium.workspace import Workspace

OTEL = 'pip install "podium[otel]"'


@pytest.fixture(scope="session")
def exporter() -> Any:
    """The SDK's in-memory exporter behind the global tracer provider (set once a process)."""
    sdk = require_module("opentelemetry.sdk.trace", OTEL)
    memory = require_module("opentelemetry.sdk.trace.export.in_memory_span_exporter", OTEL)
    export = require_module("opentelemetry.sdk.trace.export", OTEL)
    from opentelemetry import trace

    provider = trace.get_tracer_provider()
    if not isinstance(provider, sdk.TracerProvider):
        provider = sdk.TracerProvider()
        trace.set_tracer_provider(provider)
    spans = memory.InMemorySpanExporter()
    provider.add_span_processor(export.SimpleSpanProcessor(spans))
    return spans


@pytest.fixture
def spans(exporter: Any) -> Iterator[Any]:
    exporter.clear()
    yield exporter
    exporter.clear()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, trained: Trained) -> Iterator[str]:
    client = Client(home=tmp_path_factory.mktemp("tracing"))
    client.register_model(trained.model, "cancer", input_example=trained.X[:5])
    running = start_in_thread(create_app(client.load("cancer/1")))
    yield running.url
    running.stop()
    client.workspace.close()


def _by_name(spans: Any) -> dict[str, Any]:
    return {s.name: s for s in spans.get_finished_spans()}


def test_a_served_request_is_a_server_span_with_model_version_rows_and_status(
    spans: Any, server: str, trained: Trained
) -> None:
    from opentelemetry.trace import SpanKind, StatusCode

    rows = [{k: float(v) for k, v in trained.X.iloc[i].items()} for i in range(3)]
    parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    r = httpx.post(f"{server}/predict", json={"records": rows}, headers={"traceparent": parent})
    assert r.status_code == 200
    span = _by_name(spans)["POST /predict"]
    assert span.kind == SpanKind.SERVER
    assert dict(span.attributes) == {
        "http.request.method": "POST",
        "http.route": "/predict",
        "http.response.status_code": 200,
        "podium.model": "cancer",
        "podium.model.version": 1,
        "podium.flavor": "sklearn",
        "podium.rows": 3,
        "podium.request_id": r.headers["x-request-id"],
    }
    # The caller's trace goes on: same trace id, the caller's span as parent.
    assert f"{span.context.trace_id:032x}" == "0af7651916cd43dd8448eb211c80319c"
    assert span.parent is not None and f"{span.parent.span_id:016x}" == "b7ad6b7169203331"
    spans.clear()
    body = {"inputs": [{"name": "input-0", "shape": [1, 2], "datatype": "FP64", "data": [1, 2]}]}
    r = httpx.post(f"{server}/v2/models/cancer/versions/1/infer", json=body)
    assert r.status_code == 422
    span = _by_name(spans)["POST /v2/models/{name}/versions/{version}/infer"]
    assert span.attributes["http.response.status_code"] == 422
    assert span.attributes["podium.rows"] == 0
    assert span.status.status_code != StatusCode.ERROR  # the client's mistake, not ours


@step
def first(x: int) -> int:
    return x + 1


@step
def second(x: int) -> int:
    return x * 2


@pipeline
def traced(x: int = 1) -> Any:
    return second(first(x))


def test_a_run_is_a_span_with_a_child_span_per_step(
    spans: Any, sqlite_workspace: Workspace
) -> None:
    result = traced.run(x=3)
    found = _by_name(spans)
    run = found["pipeline traced"]
    assert run.attributes["podium.run_id"] == result.id
    assert run.attributes["podium.run.status"] == "succeeded"
    for name in ("first", "second"):
        s = found[name]
        assert s.attributes["podium.run_id"] == result.id
        assert s.attributes["podium.step.status"] == "succeeded"
        assert s.parent is not None and s.parent.span_id == run.context.span_id
        assert s.context.trace_id == run.context.trace_id


def test_import_podium_does_not_import_opentelemetry() -> None:
    code = (
        "import sys, podium, podium.pipelines, podium.core.tracing, podium.core.logs\n"
        "print(sorted({m.split('.')[0] for m in sys.modules if m.startswith('opentel')}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


WITHOUT_OTEL = """
import sys
# FastAPI itself needs opentelemetry-api; what podium[otel] adds is the SDK. Without it (or
# with no tracer provider configured) podium creates no span and behaves as always.
sys.modules["opentelemetry.sdk"] = None
import httpx
import pandas as pd
from sklearn.linear_model import LogisticRegression
from podium.client import Client
from podium.serving import create_app, start_in_thread

client = Client(home=sys.argv[1])
x = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0]})
client.register_model(LogisticRegression().fit(x, [0, 0, 1, 1]), "m", input_example=x)
server = start_in_thread(create_app(client.load("m/1")))
r = httpx.post(server.url + "/predict", json={"a": 2.5})
server.stop()
print(r.status_code, r.json()["predictions"])
"""

PIPELINE_WITHOUT_OTEL = """
import sys
sys.modules["opentelemetry"] = None  # not installed at all
from podium import pipeline, step

@step
def one() -> int:
    return 1

@pipeline
def p():
    return one()

print(p.run().status)
"""


@pytest.mark.parametrize(
    ("script", "printed"),
    [(WITHOUT_OTEL, "200 [1]"), (PIPELINE_WITHOUT_OTEL, "succeeded")],
    ids=["serving-without-sdk", "pipeline-without-opentelemetry"],
)
def test_without_opentelemetry_nothing_changes(tmp_path: Path, script: str, printed: str) -> None:
    out = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        cwd=tmp_path,
        env={**os.environ, "PODIUM_HOME": str(tmp_path / ".podium")},
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == printed
