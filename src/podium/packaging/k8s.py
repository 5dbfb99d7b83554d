"""Kubernetes manifests for a model or a deployment: ``podium k8s``.

The manifests run the image ``podium build --docker`` makes, whose default command serves
the bundle (``podium serve --bundle /app/bundle --host 0.0.0.0 --port $PORT``): they set
``PORT`` and leave the command alone. One resource a file, plus a ``kustomization.yaml``
listing them, so ``kubectl apply -k DIR`` applies the lot and an overlay can patch any
part. Three layouts:

- ``plain``: a Deployment with its Service, HorizontalPodAutoscaler and ConfigMap.
- ``bluegreen``: Deployments ``NAME-blue`` and ``NAME-green``; the live Service ``NAME``
  selects blue and ``NAME-preview`` selects green, so switching is one selector patch.
- ``canary``: ``NAME-stable`` and ``NAME-canary`` behind one Service that selects both:
  traffic splits by their replica counts.

Every pod runs as a non-root user on a read-only root file system with every capability
dropped, and a rolling update takes no ready pod away before its successor is ready.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from podium.core.errors import ConfigError, ValidationError
from podium.core.hashing import sha256_bytes
from podium.workspace import Workspace

LAYOUTS = ("plain", "bluegreen", "canary")
NAME = "app.kubernetes.io/name"
VERSION = "app.kubernetes.io/version"
PART_OF = "app.kubernetes.io/part-of"
MODEL = "podium.dev/model"
DEPLOYMENT = "podium.dev/deployment"
VARIANT = "podium.dev/variant"
COLOR = "podium.dev/color"
CONTAINER = "podium"
UID = 10001
READY, LIVE = "/v2/health/ready", "/v2/health/live"
# A resource is named BASE or BASE-SUFFIX; the longest suffix is "-preview", and every
# name must stay a 63-character DNS label whatever the layout.
MAX_BASE = 63 - len("-preview")
_INVALID = re.compile(r"[^a-z0-9-]+")
# Service names are DNS-1035 labels (they start with a letter), stricter than DNS-1123.
_DNS_1035 = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_DNS_1123 = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_QUANTITY = {
    "cpu": (re.compile(r"(\d+(\.\d+)?)m?"), "500m (half a core) or 2"),
    # No lowercase m: in memory it means thousandths, so "512m" is half a byte.
    "memory": (re.compile(r"(\d+(\.\d+)?)([KMGTPE]i?|k)?"), "512Mi or 2Gi"),
}


@dataclass(frozen=True)
class Target:
    """What the manifests serve: a model version, or a deployment and its variants.

    ``name`` is the base of every resource name, a DNS-1035 label.
    """

    name: str
    model: str
    version: int
    uri: str
    deployment: str | None = None
    variants: dict[str, str] = field(default_factory=dict)  # variant -> models:/NAME/V

    @property
    def default_image(self) -> str:
        """The tag ``podium build --docker`` gives the image of this version."""
        return f"podium-{self.model.lower()}:{self.version}"


@dataclass(frozen=True)
class _Options:
    layout: str
    image: str
    replicas: int
    port: int
    cpu: str
    memory: str
    namespace: str | None
    canary_weight: int


@dataclass(frozen=True)
class _File:
    name: str
    body: dict[str, Any]
    note: str = ""


def write_manifests(
    ws: Workspace,
    target: str | Target,
    out_dir: str | Path,
    *,
    layout: str = "plain",
    image: str | None = None,
    replicas: int = 2,
    port: int = 8080,
    cpu: str = "500m",
    memory: str = "512Mi",
    namespace: str | None = None,
    canary_weight: int = 10,
    name: str | None = None,
) -> list[Path]:
    """Write the manifests that serve ``target`` into ``out_dir``; return the files written.

    ``target`` is a deployment name or a model URI (``models:/churn/3``, ``churn@champion``);
    ``name`` overrides the resource names derived from a target given as a string.

    Example:
        >>> write_manifests(ws, "churn@champion", "k8s", layout="canary")  # doctest: +SKIP
        [PosixPath('k8s/configmap.yaml'), PosixPath('k8s/deployment-stable.yaml'), ...]
    """
    _check_options(layout, replicas, port, canary_weight)
    t = target if isinstance(target, Target) else resolve_target(ws, target, name=name)
    opts = _Options(
        layout,
        _check_image(image or t.default_image),
        replicas,
        port,
        _check_quantity(cpu, "cpu"),
        _check_quantity(memory, "memory"),
        _check_namespace(namespace),
        canary_weight,
    )
    return _write(Path(out_dir), t, opts)


def resolve_target(ws: Workspace, target: str, *, name: str | None = None) -> Target:
    """Resolve a deployment name or a model URI to the version the manifests carry.

    That is the version ``podium build`` puts in the image: for a deployment, its live
    variant (every variant is listed in the ConfigMap). Aliases resolve now, so the
    manifests pin a version.
    """
    from podium.packaging.bundle import resolve_target as bundled_model
    from podium.registry import Registry

    registry = Registry(ws.store, ws.artifacts)
    uri, spec = bundled_model(ws, target)
    mv = registry.get(uri)
    if spec is None:
        base = k8s_name(name or mv.model, field="name" if name else "model")
        return Target(base, mv.model, mv.version, mv.uri)
    variants = {v: registry.get(s["model"]).uri for v, s in spec["variants"].items()}
    base = k8s_name(name or target, field="name" if name else "deployment")
    return Target(base, mv.model, mv.version, mv.uri, target, variants)


def k8s_name(raw: str, *, field: str = "name") -> str:
    """``raw`` as a Kubernetes resource name: lowercase, invalid runs replaced by ``-``,
    trimmed to leave room for a suffix. Raises :class:`ValidationError` when nothing valid
    is left (a Service name must start with a letter).

    >>> k8s_name("Churn_Model.v2")
    'churn-model-v2'
    """
    name = _INVALID.sub("-", raw.lower()).strip("-")[:MAX_BASE].rstrip("-")
    if not _DNS_1035.fullmatch(name):
        again = "another --name" if field == "name" else "--name"
        raise ValidationError(
            f"{field.capitalize()} {raw!r} cannot become a Kubernetes name: lowercased, with "
            f"characters other than a-z, 0-9 and '-' replaced, it gives {name!r}, which does "
            "not start with a letter.",
            field=field,
            hint=f"Pass {again} that starts with a letter, e.g. --name churn.",
        )
    return name


def canary_replicas(replicas: int, weight: int) -> int:
    """Canary pods for ``replicas`` stable ones: ``weight`` percent of them, rounded half
    up, at least one."""
    return max(1, int(replicas * weight / 100 + 0.5))


# -- validation ------------------------------------------------------------------------------


def _check_options(layout: str, replicas: int, port: int, canary_weight: int) -> None:
    if layout not in LAYOUTS:
        raise ValidationError(
            f"Unknown layout {layout!r}; expected one of {', '.join(LAYOUTS)}.", field="layout"
        )
    if not 1 <= replicas <= 1000:
        raise ValidationError(
            f"--replicas must be from 1 to 1000, got {replicas}.", field="replicas"
        )
    if not 1024 <= port <= 65535:
        raise ValidationError(
            f"--port must be from 1024 to 65535, got {port}.",
            field="port",
            hint="The pod runs as a non-root user with every capability dropped, so it cannot "
            "bind a port below 1024; the Service still listens on 80.",
        )
    if not 1 <= canary_weight <= 99:
        raise ValidationError(
            f"--canary-weight must be a percentage from 1 to 99, got {canary_weight}.",
            field="canary_weight",
        )


def _check_quantity(value: str, field: str) -> str:
    pattern, example = _QUANTITY[field]
    match = pattern.fullmatch(value)
    if match is None or float(match.group(1)) == 0:
        raise ValidationError(
            f"--{field} {value!r} is not a positive Kubernetes quantity.",
            field=field,
            hint=f"Use e.g. {example}.",
        )
    return value


def _check_namespace(namespace: str | None) -> str | None:
    if namespace is not None and (len(namespace) > 63 or not _DNS_1123.fullmatch(namespace)):
        raise ValidationError(
            f"Namespace {namespace!r} is not a DNS-1123 label: up to 63 lowercase letters, "
            "digits and '-', starting and ending with a letter or digit.",
            field="namespace",
            hint="e.g. --namespace ml-serving",
        )
    return namespace


def _check_image(image: str) -> str:
    if not image or any(c.isspace() for c in image):
        raise ValidationError(
            f"Image {image!r} is not an image reference.",
            field="image",
            hint="e.g. --image registry.example.com/podium-churn:3",
        )
    return image


# -- resources -------------------------------------------------------------------------------


def _files(t: Target, o: _Options) -> list[_File]:
    layout = {"plain": _plain, "bluegreen": _bluegreen, "canary": _canary}[o.layout]
    return [_File("configmap.yaml", _configmap(t, o)), *layout(t, o)]


def _plain(t: Target, o: _Options) -> list[_File]:
    return [
        _File("deployment.yaml", _deployment(t, o, t.name, {}, o.replicas)),
        _File("service.yaml", _service(t, o, t.name, {NAME: t.name})),
        _File("hpa.yaml", _hpa(t, o, t.name)),
    ]


def _bluegreen(t: Target, o: _Options) -> list[_File]:
    colors = {c: {VARIANT: c, COLOR: c} for c in ("blue", "green")}
    return [
        *(
            _File(f"deployment-{c}.yaml", _deployment(t, o, f"{t.name}-{c}", sel, o.replicas))
            for c, sel in colors.items()
        ),
        _File(
            "service.yaml",
            _service(t, o, t.name, {NAME: t.name, COLOR: "blue"}),
            "Live traffic goes to blue. Switch it to green with:\n"
            + _switch_command(t, o, "green"),
        ),
        _File(
            "service-preview.yaml",
            _service(t, o, f"{t.name}-preview", {NAME: t.name, COLOR: "green"}),
            "The idle colour, green, for checks before a switch.",
        ),
        *(_File(f"hpa-{c}.yaml", _hpa(t, o, f"{t.name}-{c}")) for c in colors),
    ]


def _canary(t: Target, o: _Options) -> list[_File]:
    canary = canary_replicas(o.replicas, o.canary_weight)
    return [
        _File(
            "deployment-stable.yaml",
            _deployment(t, o, f"{t.name}-stable", {VARIANT: "stable"}, o.replicas),
        ),
        _File(
            "deployment-canary.yaml",
            _deployment(t, o, f"{t.name}-canary", {VARIANT: "canary"}, canary),
        ),
        _File(
            "service.yaml",
            _service(t, o, t.name, {NAME: t.name}),
            f"Selects stable and canary pods alike: the canary takes about {canary} in "
            f"{o.replicas + canary} requests.",
        ),
        _File("hpa-stable.yaml", _hpa(t, o, f"{t.name}-stable")),
    ]


def _switch_command(t: Target, o: _Options, color: str, *, preview: bool = False) -> str:
    ns = f" -n {o.namespace}" if o.namespace else ""
    service = f"{t.name}-preview" if preview else t.name
    patch = json.dumps({"spec": {"selector": {COLOR: color}}}, separators=(",", ":"))
    return f"kubectl{ns} patch service {service} -p '{patch}'"


def _labels(t: Target, extra: dict[str, str]) -> dict[str, str]:
    labels = {NAME: t.name, VERSION: str(t.version), PART_OF: "podium", MODEL: _value(t.model)}
    if t.deployment:
        labels[DEPLOYMENT] = _value(t.deployment)
    return {**labels, **extra}


def _value(text: str) -> str:
    # Registered names are letters, digits, '.', '_' and '-' already; a label value also
    # has at most 63 characters and ends with a letter or digit.
    return text[:63].rstrip("._-")


def _meta(name: str, labels: dict[str, str], o: _Options) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if o.namespace:
        meta["namespace"] = o.namespace
    meta["labels"] = labels
    return meta


def _config(t: Target) -> dict[str, str]:
    data = {
        "PODIUM_MODEL": t.uri,
        "PODIUM_VERSION": str(t.version),
        # The root file system is read-only: anything podium keeps goes to the /tmp volume.
        "PODIUM_HOME": "/tmp/podium",
    }
    if t.deployment:
        data["PODIUM_DEPLOYMENT"] = t.deployment
        data["PODIUM_VARIANTS"] = ",".join(f"{v}={uri}" for v, uri in t.variants.items())
    return data


def _configmap(t: Target, o: _Options) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _meta(t.name, _labels(t, {}), o),
        "data": _config(t),
    }


def _deployment(
    t: Target, o: _Options, name: str, variant: dict[str, str], replicas: int
) -> dict[str, Any]:
    labels = _labels(t, variant)
    # Replicas stay in the manifest so the pods run even where no metrics server feeds
    # the autoscaler; the autoscaler's minimum is the same number.
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(name, labels, o),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {NAME: t.name, **variant}},
            # One extra pod at a time; an old one goes only once a new one is ready.
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
            },
            "template": {
                "metadata": {"labels": labels, "annotations": _pod_annotations(t, o)},
                "spec": _pod_spec(t, o),
            },
        },
    }


def _pod_annotations(t: Target, o: _Options) -> dict[str, str]:
    config = json.dumps(_config(t), sort_keys=True).encode()
    return {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(o.port),
        "prometheus.io/path": "/metrics",
        # envFrom is read when a pod starts: a new ConfigMap must roll the pods.
        "podium.dev/config-sha256": sha256_bytes(config),
    }


def _pod_spec(t: Target, o: _Options) -> dict[str, Any]:
    return {
        "automountServiceAccountToken": False,  # the server never calls the Kubernetes API
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": UID,
            "runAsGroup": UID,
            "fsGroup": UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [_container(t, o)],
        "volumes": [{"name": "tmp", "emptyDir": {}}],
    }


def _container(t: Target, o: _Options) -> dict[str, Any]:
    resources = {"cpu": o.cpu, "memory": o.memory}
    return {
        "name": CONTAINER,
        "image": o.image,
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"name": "http", "containerPort": o.port, "protocol": "TCP"}],
        "env": [{"name": "PORT", "value": str(o.port)}],
        "envFrom": [{"configMapRef": {"name": t.name}}],
        "resources": {"requests": resources, "limits": dict(resources)},
        # The server loads the model before it listens: allow two minutes for that before
        # the liveness probe may restart the pod.
        "startupProbe": _probe(READY, period=2, failures=60),
        "readinessProbe": _probe(READY, period=5, failures=2),
        "livenessProbe": _probe(LIVE, period=10, failures=3),
        # Endpoints are withdrawn asynchronously: keep serving a few seconds after the
        # pod is told to stop, so no request reaches a closed socket (Kubernetes 1.30+).
        "lifecycle": {"preStop": {"sleep": {"seconds": 5}}},
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": UID,
            "readOnlyRootFilesystem": True,
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }


def _probe(path: str, *, period: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": "http"},
        "periodSeconds": period,
        "timeoutSeconds": 3,
        "failureThreshold": failures,
    }


def _service(t: Target, o: _Options, name: str, selector: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(name, _labels(t, {}), o),
        "spec": {
            "type": "ClusterIP",
            "selector": selector,
            "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def _hpa(t: Target, o: _Options, deployment: str) -> dict[str, Any]:
    cpu = {"type": "Utilization", "averageUtilization": 70}
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": _meta(deployment, _labels(t, {}), o),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": deployment},
            "minReplicas": o.replicas,
            "maxReplicas": max(o.replicas * 4, 2),
            "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": cpu}}],
        },
    }


# -- files -----------------------------------------------------------------------------------


def _write(out_dir: Path, t: Target, o: _Options) -> list[Path]:
    files = _files(t, o)
    kustomization: dict[str, Any] = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
    }
    if o.namespace:
        kustomization["namespace"] = o.namespace
    kustomization["resources"] = [f.name for f in files]
    files.append(_File("kustomization.yaml", kustomization, f"Apply: kubectl apply -k {out_dir}"))
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        written = [_dump(out_dir / f.name, f, t, o) for f in files]
        readme = out_dir / "README.md"
        readme.write_text(_readme(out_dir, t, o))
    except OSError as exc:
        raise ConfigError(
            f"Cannot write manifests to {str(out_dir)!r}: {exc.strerror or exc}.",
            hint="Pass --out with a folder you can write to.",
        ) from None
    return [*written, readme]


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True  # a shared dict is written out again, not as a YAML anchor (&id001)


def _dump(path: Path, f: _File, t: Target, o: _Options) -> Path:
    head = [f"Written by `podium k8s` for {t.uri} (layout {o.layout}).", *f.note.splitlines()]
    comments = "".join(f"# {line}\n" for line in head)
    path.write_text(comments + yaml.dump(f.body, Dumper=_Dumper, sort_keys=False))
    return path


def _readme(out_dir: Path, t: Target, o: _Options) -> str:
    lines = [
        f"# Kubernetes manifests for {t.uri}",
        "",
        f"Written by `podium k8s` (layout `{o.layout}`, image `{o.image}`).",
        f"Apply them with `kubectl apply -k {out_dir}` (Kubernetes 1.30 or newer).",
        "The pods serve the image's bundle on port "
        f"{o.port}; the Service `{t.name}` listens on 80.",
        "The Deployments set `replicas`; re-applying resets the autoscaled count to it.",
    ]
    return "\n".join([*lines, "", *_layout_notes(t, o), ""])


def _layout_notes(t: Target, o: _Options) -> list[str]:
    ns = f" -n {o.namespace}" if o.namespace else ""
    if o.layout == "bluegreen":
        return [
            f"Live traffic goes to `{t.name}-blue`. Put the new image on `{t.name}-green`, check "
            f"it through `{t.name}-preview`, switch live traffic to it",
            "",
            f"    {_switch_command(t, o, 'green')}",
            "",
            f"then point `{t.name}-preview` at the idle colour for the next release:",
            "",
            f"    {_switch_command(t, o, 'blue', preview=True)}",
            "",
            "Switch back the same way, with the colours swapped.",
        ]
    if o.layout == "canary":
        canary = canary_replicas(o.replicas, o.canary_weight)
        return [
            f"The Service selects stable and canary pods alike, so the canary takes about "
            f"{canary} in {o.replicas + canary} requests. Give it a new image with",
            "",
            f"    kubectl{ns} set image deployment/{t.name}-canary {CONTAINER}=IMAGE",
            "",
            f"and promote by setting the same image on `{t.name}-stable`.",
        ]
    return []
