"""schemathesis against the OpenAPI documents of the model server, the deployment server and
the control API, over real HTTP: no request it can generate from a document may get a 5xx
or a response that breaks its schema."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from tests.conftest import Trained

from podium.api import create_control_app
from podium.core.settings import Settings
from podium.serving import RunningServer, create_app, create_deployment_app, start_in_thread
from podium.workspace import Workspace

schemathesis = pytest.importorskip("schemathesis")
from schemathesis.specs.openapi import checks  # noqa: E402

EXAMPLES = 20  # per operation: bounded, so the suite stays fast
# No 5xx, and every status, content type, body and header as documented. Not checked:
# that any schema-valid body is accepted; a tensor's documented shape cannot say that
# its data must match the model's columns, so the server rightly answers some with 400.
EXCLUDED = [checks.positive_data_acceptance]


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory, trained: Trained) -> Iterator[dict[str, str]]:
    """A model server, a deployment server and the control API (auth off: the role walk of
    test_serving_auth covers tokens) on one throw-away workspace with a model version under
    an alias, a data version, a run and a deployment."""
    from tests.pipelines.test_pipelines import sums

    import podium
    from podium.deploy import apply

    home = tmp_path_factory.mktemp("fuzz")
    ws = Workspace(Settings.at(Path(home)))
    token = ws.activate()
    try:
        podium.register_model(trained.model, "cancer", input_example=trained.X, alias="champion")
        podium.register_data(trained.X[:50], "cancer")
        sums.run(n=3)
        apply(ws, {"name": "web", "variants": {"main": {"model": "cancer@champion"}}})
        running: list[RunningServer] = [
            start_in_thread(create_app(podium.load("cancer@champion"))),
            start_in_thread(create_deployment_app("web", workspace=ws)),
            start_in_thread(create_control_app(ws)),
        ]
        yield {"model": running[0].url, "deployment": running[1].url, "control": running[2].url}
        for r in running:
            r.stop()
    finally:
        Workspace.deactivate(token)


@pytest.fixture(scope="module")
def model_schema(servers: dict[str, str]) -> object:
    return schemathesis.openapi.from_url(f"{servers['model']}/openapi.json")


@pytest.fixture(scope="module")
def deployment_schema(servers: dict[str, str]) -> object:
    return schemathesis.openapi.from_url(f"{servers['deployment']}/openapi.json")


@pytest.fixture(scope="module")
def control_schema(servers: dict[str, str]) -> object:
    return schemathesis.openapi.from_url(f"{servers['control']}/openapi.json")


model_api = schemathesis.pytest.from_fixture("model_schema")
deployment_api = schemathesis.pytest.from_fixture("deployment_schema")
control_api = schemathesis.pytest.from_fixture("control_schema")
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)


@model_api.parametrize()
@FUZZ
def test_the_model_server_never_fails_on_what_its_document_allows(case: object) -> None:
    case.call_and_validate(excluded_checks=EXCLUDED)  # type: ignore[attr-defined]


@deployment_api.parametrize()
@FUZZ
def test_the_deployment_server_never_fails_on_what_its_document_allows(case: object) -> None:
    case.call_and_validate(excluded_checks=EXCLUDED)  # type: ignore[attr-defined]


@control_api.parametrize()
@FUZZ
def test_the_control_api_never_fails_on_what_its_document_allows(case: object) -> None:
    case.call_and_validate(excluded_checks=EXCLUDED)  # type: ignore[attr-defined]
