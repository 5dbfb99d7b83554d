"""``podium batch`` as a pipeline step, so scoring can be scheduled like any pipeline::

@pipeline
def nightly_scoring(day: str):
    return batch_score(
        "models:/churn@champion", f"s3://lake/customers/{day}/", f"s3://lake/scores/{day}/"
    )
"""

from __future__ import annotations

from typing import Any

from podium.pipelines.step import step
from podium.registry import Registry
from podium.workspace import Workspace


@step(cache=False)  # the input and the model may change between runs: the manifest dedupes
def batch_score(
    model: str,
    input: str,
    output: str,
    chunk_size: int = 100_000,
    id_column: str | None = None,
    max_errors: int = 0,
    flavor: str | None = None,
) -> dict[str, Any]:
    """``podium batch`` as a step: resumable, incremental, so it can run on a schedule.
    ``flavor`` as in :func:`podium.batch.score` (default: the faster on the input)."""
    from podium.batch.job import score

    ws = Workspace.current()
    uri = Registry(ws.store, ws.artifacts).get(model).uri  # fail early on a bad reference
    result = score(
        uri,
        input,
        output,
        chunk_size=chunk_size,
        id_column=id_column,
        max_errors=max_errors,
        flavor=flavor,
    )
    return result.to_dict()
