"""Pipelines: ``@step`` and ``@pipeline``, the DAG they build, and the runner."""

from podium.pipelines.graph import Graph, OutputRef
from podium.pipelines.pipeline import Pipeline, pipeline
from podium.pipelines.runner import RunResult, load_artifact
from podium.pipelines.step import Step, step

__all__ = [
    "Graph",
    "OutputRef",
    "Pipeline",
    "RunResult",
    "Step",
    "load_artifact",
    "pipeline",
    "step",
]
