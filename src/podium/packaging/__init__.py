"""Packaging: bundles, locked environments with a parity proof, Dockerfiles and Kubernetes
manifests (``podium build``, ``podium env``, ``podium k8s``)."""
