"""Deployments: the declarative spec, and applying it as desired state."""

from podium.deploy.service import (
    apply,
    deploy_model,
    promote,
    resolved_versions,
    revert,
    rollback,
    set_flag,
    set_traffic,
)
from podium.deploy.spec import STRATEGIES, DeploymentSpec, load_file, parse

__all__ = [
    "STRATEGIES",
    "DeploymentSpec",
    "apply",
    "deploy_model",
    "load_file",
    "parse",
    "promote",
    "resolved_versions",
    "revert",
    "rollback",
    "set_flag",
    "set_traffic",
]
