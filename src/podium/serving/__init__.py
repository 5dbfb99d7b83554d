"""The model server (data plane): OIP v2, /predict, /invocations, /metrics."""

from podium.serving.app import Limits, create_app
from podium.serving.auth import protect
from podium.serving.deployment import create_deployment_app
from podium.serving.server import RunningServer, serve, start_in_thread

__all__ = [
    "Limits",
    "RunningServer",
    "create_app",
    "create_deployment_app",
    "protect",
    "serve",
    "start_in_thread",
]
