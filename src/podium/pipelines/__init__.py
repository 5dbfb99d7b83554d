"""Pipelines: ``@step`` and ``@pipeline``, the DAG they build, and the runner."""

from podium.pipelines.builtin import deploy
from podium.pipelines.gates import beat_champion, check_data, check_metrics, check_serialization
from podium.pipelines.graph import Graph, OutputRef
from podium.pipelines.loader import load_pipeline, resume_run
from podium.pipelines.pipeline import CheckResult, GateResult, Pipeline, pipeline
from podium.pipelines.retry import RetryPolicy
from podium.pipelines.runner import RunResult, load_artifact
from podium.pipelines.step import Step, step

__all__ = [
    "CheckResult",
    "GateResult",
    "Graph",
    "OutputRef",
    "Pipeline",
    "RetryPolicy",
    "RunResult",
    "Step",
    "beat_champion",
    "check_data",
    "check_metrics",
    "check_serialization",
    "deploy",
    "load_artifact",
    "load_pipeline",
    "pipeline",
    "resume_run",
    "step",
]
