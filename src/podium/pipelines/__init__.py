"""Pipelines: ``@step`` and ``@pipeline``, the DAG they build, and the runner."""

from podium.pipelines.graph import Graph, OutputRef
from podium.pipelines.loader import load_pipeline, resume_run
from podium.pipelines.pipeline import Pipeline, pipeline
from podium.pipelines.retry import RetryPolicy
from podium.pipelines.runner import RunResult, load_artifact
from podium.pipelines.step import Step, step

__all__ = [
    "Graph",
    "OutputRef",
    "Pipeline",
    "RetryPolicy",
    "RunResult",
    "Step",
    "load_artifact",
    "load_pipeline",
    "pipeline",
    "resume_run",
    "step",
]
