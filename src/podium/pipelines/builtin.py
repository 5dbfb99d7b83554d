"""A built-in step that ends a pipeline in production: deploy the version it registered.

::

    @pipeline
    def training():
        model = train(load())
        metrics = check_metrics(evaluate(model), {"accuracy": ">= 0.9"})
        version = register(model, metrics)        # returns the version's URI (or a dict with "uri")
        return deploy(version, "churn")           # serving as soon as the gates passed

Batch scoring as a step is :func:`podium.batch.batch_score`.
"""

from __future__ import annotations

from typing import Any

from podium.core.errors import ValidationError
from podium.deploy import deploy_model
from podium.pipelines.step import step
from podium.registry import Registry
from podium.workspace import Workspace


def _uri(version: Any) -> str:
    if isinstance(version, dict) and "uri" in version:
        return str(version["uri"])
    if isinstance(version, str):
        return version
    uri = getattr(version, "uri", None)
    if isinstance(uri, str):
        return uri
    raise ValidationError(
        f"deploy() needs a model URI, got {type(version).__name__}.",
        field="version",
        hint='Pass "models:/NAME/3", a ModelVersion, or a dict with "uri".',
    )


@step(cache=False)  # a side effect: it changes what is served
def deploy(version: Any, name: str) -> dict[str, Any]:
    """Serve one registered version as the single-variant deployment ``name``."""
    ws = Workspace.current()
    uri = Registry(ws.store, ws.artifacts).get(_uri(version)).uri  # pinned: models:/NAME/N
    dep = deploy_model(ws, uri, name)
    return {"deployment": dep.name, "revision": dep.revision, "model": uri}
