"""``podium k8s``: every manifest of every layout validated offline against the Kubernetes
1.30 schemas (strict: an unknown field fails), and the properties that make a rollout
safe checked on the files as written."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import typer
import yaml
from tests.conftest import Trained
from typer.testing import CliRunner

import podium
from podium.cli.k8s import k8s
from podium.cli.main import PodiumGroup
from podium.core.errors import ConfigError, ValidationError
from podium.packaging.k8s import canary_replicas, k8s_name, write_manifests
from podium.workspace import Workspace

K8S = "1.30"
KINDS = {
    "plain": ["ConfigMap", "Deployment", "Service", "HorizontalPodAutoscaler"],
    "bluegreen": ["ConfigMap", "Deployment", "Deployment", "Service", "Service"]
    + ["HorizontalPodAutoscaler"] * 2,
    "canary": ["ConfigMap", "Deployment", "Deployment", "Service", "HorizontalPodAutoscaler"],
}
runner = CliRunner()


@pytest.fixture
def cancer(sqlite_workspace: Workspace, trained: Trained) -> Workspace:
    podium.register_model(trained.model, "cancer", input_example=trained.X, alias="champion")
    return sqlite_workspace


def _cli() -> typer.Typer:
    """The command as main.py registers it, inside the group that renders PodiumErrors."""
    app = typer.Typer(cls=PodiumGroup, pretty_exceptions_enable=False, add_completion=False)
    app.callback()(lambda: None)
    app.command("k8s")(k8s)
    return app


def _load(files: list[Path]) -> dict[str, dict[str, Any]]:
    """Each YAML file's resource by file name."""
    return {f.name: yaml.safe_load(f.read_text()) for f in files if f.suffix == ".yaml"}


def _pod(deployment: dict[str, Any]) -> dict[str, Any]:
    return dict(deployment["spec"]["template"])


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return selector.items() <= labels.items()


@pytest.mark.parametrize("layout", ["plain", "bluegreen", "canary"])
def test_every_manifest_of_every_layout_validates_against_the_kubernetes_schemas(
    cancer: Workspace, tmp_path: Path, layout: str
) -> None:
    files = write_manifests(cancer, "cancer@champion", tmp_path / "k8s", layout=layout)
    docs = _load(files)
    kustomization = docs.pop("kustomization.yaml")
    assert kustomization["kind"] == "Kustomization" and "namespace" not in kustomization
    # The kustomization lists exactly the resources written, each once.
    assert sorted(kustomization["resources"]) == sorted(docs)
    assert sorted(f.name for f in (tmp_path / "k8s").iterdir()) == sorted(f.name for f in files)
    for name, doc in docs.items():
        assert kubernetes_validate.validate(doc, K8S, strict=True) == K8S, name
    assert sorted(d["kind"] for d in docs.values()) == sorted(KINDS[layout])
    names = [d["metadata"]["name"] for d in docs.values()]
    assert all(re.fullmatch(r"[a-z]([-a-z0-9]*[a-z0-9])?", n) and len(n) <= 63 for n in names)


def test_the_schema_check_catches_a_misspelt_field(cancer: Workspace, tmp_path: Path) -> None:
    doc = _load(write_manifests(cancer, "cancer@champion", tmp_path))["deployment.yaml"]
    doc["spec"]["template"]["spec"]["containers"][0]["readinessprobe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError, match="readinessprobe"):
        kubernetes_validate.validate(doc, K8S, strict=True)


def test_a_deployment_is_hardened_probed_and_never_rolls_below_its_replicas(
    cancer: Workspace, tmp_path: Path
) -> None:
    files = write_manifests(
        cancer, "models:/cancer/1", tmp_path, replicas=3, port=9000, cpu="1", memory="1Gi"
    )
    dep = _load(files)["deployment.yaml"]
    assert dep["spec"]["replicas"] == 3
    assert dep["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
    }
    pod = _pod(dep)
    (c,) = pod["spec"]["containers"]
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert ports == {"http": 9000}
    for probe, path in [
        ("readinessProbe", "/v2/health/ready"),
        ("livenessProbe", "/v2/health/live"),
    ]:
        assert c[probe]["httpGet"] == {"path": path, "port": "http"}
    assert c["startupProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert {"name": "PORT", "value": "9000"} in c["env"]
    assert c["resources"] == {
        "requests": {"cpu": "1", "memory": "1Gi"},
        "limits": {"cpu": "1", "memory": "1Gi"},
    }
    assert "command" not in c and "args" not in c  # the image's CMD serves the bundle
    sc = c["securityContext"]
    assert sc["runAsNonRoot"] is True and sc["runAsUser"] == 10001
    assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
    psc = pod["spec"]["securityContext"]
    assert psc["runAsNonRoot"] is True and psc["runAsUser"] == 10001
    assert psc["seccompProfile"] == {"type": "RuntimeDefault"}
    (volume,) = pod["spec"]["volumes"]
    assert "emptyDir" in volume
    assert c["volumeMounts"] == [{"name": volume["name"], "mountPath": "/tmp"}]
    labels = pod["metadata"]["labels"]
    assert labels["app.kubernetes.io/name"] == "cancer"
    assert labels["app.kubernetes.io/version"] == "1"
    assert labels["app.kubernetes.io/part-of"] == "podium"
    assert labels["podium.dev/model"] == "cancer"
    notes = pod["metadata"]["annotations"]
    assert notes["prometheus.io/scrape"] == "true" and notes["prometheus.io/port"] == "9000"
    assert notes["prometheus.io/path"] == "/metrics"


def test_service_autoscaler_and_configmap_are_wired_to_the_deployment(
    cancer: Workspace, tmp_path: Path
) -> None:
    docs = _load(write_manifests(cancer, "cancer@champion", tmp_path, replicas=3))
    dep, svc, hpa, cm = (docs[f"{k}.yaml"] for k in ("deployment", "service", "hpa", "configmap"))
    assert svc["spec"]["type"] == "ClusterIP"
    assert svc["spec"]["ports"] == [
        {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}
    ]
    assert _selects(svc["spec"]["selector"], _pod(dep)["metadata"]["labels"])
    assert _selects(dep["spec"]["selector"]["matchLabels"], _pod(dep)["metadata"]["labels"])
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"]["name"] == dep["metadata"]["name"]
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 12)
    (metric,) = hpa["spec"]["metrics"]
    assert metric["resource"] == {
        "name": "cpu",
        "target": {"type": "Utilization", "averageUtilization": 70},
    }
    # Aliases resolve now: the manifests pin the version.
    assert cm["data"]["PODIUM_MODEL"] == "models:/cancer/1"
    assert cm["data"]["PODIUM_VERSION"] == "1"
    (c,) = _pod(dep)["spec"]["containers"]
    assert c["envFrom"] == [{"configMapRef": {"name": cm["metadata"]["name"]}}]
    assert c["image"] == "podium-cancer:1"


def test_bluegreen_live_selects_blue_preview_green_and_one_patch_switches(
    cancer: Workspace, tmp_path: Path
) -> None:
    files = write_manifests(cancer, "cancer@champion", tmp_path, layout="bluegreen")
    docs = _load(files)
    pods = {c: _pod(docs[f"deployment-{c}.yaml"])["metadata"]["labels"] for c in ("blue", "green")}
    assert {c: pods[c]["podium.dev/color"] for c in pods} == {"blue": "blue", "green": "green"}
    live, preview = docs["service.yaml"], docs["service-preview.yaml"]
    assert live["metadata"]["name"] == "cancer"
    assert preview["metadata"]["name"] == "cancer-preview"

    def selected(svc: dict[str, Any]) -> list[str]:
        return [c for c, labels in pods.items() if _selects(svc["spec"]["selector"], labels)]

    assert (selected(live), selected(preview)) == (["blue"], ["green"])
    # The command the live Service's file gives, applied as the merge patch kubectl sends.
    text = (tmp_path / "service.yaml").read_text()
    command = re.search(r"^# (kubectl patch service cancer -p '(.*)')$", text, re.M)
    assert command is not None
    assert command.group(1) in (tmp_path / "README.md").read_text()
    live["spec"]["selector"].update(json.loads(command.group(2))["spec"]["selector"])
    assert selected(live) == ["green"]
    hpas = {docs[f"hpa-{c}.yaml"]["spec"]["scaleTargetRef"]["name"] for c in pods}
    assert hpas == {"cancer-blue", "cancer-green"}


@pytest.mark.parametrize(
    ("replicas", "weight", "canary"), [(2, 10, 1), (10, 10, 1), (20, 10, 2), (10, 25, 3)]
)
def test_canary_replicas_follow_the_weight_behind_one_service(
    cancer: Workspace, tmp_path: Path, replicas: int, weight: int, canary: int
) -> None:
    assert canary_replicas(replicas, weight) == canary
    files = write_manifests(
        cancer,
        "cancer@champion",
        tmp_path,
        layout="canary",
        replicas=replicas,
        canary_weight=weight,
    )
    docs = _load(files)
    stable, can = docs["deployment-stable.yaml"], docs["deployment-canary.yaml"]
    assert (stable["spec"]["replicas"], can["spec"]["replicas"]) == (replicas, canary)
    labels = [_pod(d)["metadata"]["labels"] for d in (stable, can)]
    assert [lab["podium.dev/variant"] for lab in labels] == ["stable", "canary"]
    assert all(_selects(docs["service.yaml"]["spec"]["selector"], lab) for lab in labels)
    # Each Deployment owns only its own pods.
    assert not _selects(stable["spec"]["selector"]["matchLabels"], labels[1])
    assert not _selects(can["spec"]["selector"]["matchLabels"], labels[0])
    hpa = docs["hpa-stable.yaml"]["spec"]
    assert hpa["scaleTargetRef"]["name"] == "cancer-stable" and hpa["minReplicas"] == replicas


def test_a_namespace_goes_on_every_resource_and_into_the_kustomization(
    cancer: Workspace, tmp_path: Path
) -> None:
    docs = _load(
        write_manifests(cancer, "cancer@champion", tmp_path, layout="canary", namespace="ml")
    )
    assert docs.pop("kustomization.yaml")["namespace"] == "ml"
    assert {d["metadata"]["namespace"] for d in docs.values()} == {"ml"}


def test_a_deployment_gives_its_name_and_carries_the_version_its_image_holds(
    cancer: Workspace, trained: Trained, tmp_path: Path
) -> None:
    podium.register_model(trained.model, "cancer", input_example=trained.X)  # version 2
    podium.Client().deploy(
        {
            "name": "Cancer_API.v2",
            "strategy": "bluegreen",
            "variants": {"blue": {"model": "cancer/1"}, "green": {"model": "cancer/2"}},
            "bluegreen": {"live": "green", "idle": "blue"},
        }
    )
    docs = _load(write_manifests(cancer, "Cancer_API.v2", tmp_path))
    meta = docs["deployment.yaml"]["metadata"]
    assert meta["name"] == "cancer-api-v2"
    assert meta["labels"]["podium.dev/deployment"] == "Cancer_API.v2"
    # The live variant, as `podium build Cancer_API.v2` bundles it, not the first one.
    assert meta["labels"]["app.kubernetes.io/version"] == "2"
    data = docs["configmap.yaml"]["data"]
    assert data["PODIUM_MODEL"] == "models:/cancer/2" and data["PODIUM_VERSION"] == "2"
    assert data["PODIUM_DEPLOYMENT"] == "Cancer_API.v2"
    assert data["PODIUM_VARIANTS"] == "blue=models:/cancer/1,green=models:/cancer/2"
    (c,) = _pod(docs["deployment.yaml"])["spec"]["containers"]
    assert c["image"] == "podium-cancer:2"  # the tag `podium build --docker` gives it


def test_names_become_dns_labels_with_room_for_a_suffix_or_are_refused() -> None:
    assert k8s_name("Churn_Model.v2") == "churn-model-v2"
    long = k8s_name("m" * 100)
    assert len(long + "-preview") == 63
    for bad in ("2024-churn", "_-_", ""):
        with pytest.raises(ValidationError, match="cannot become a Kubernetes name") as exc:
            k8s_name(bad, field="model")
        assert exc.value.field == "model" and "--name" in (exc.value.hint or "")


def test_an_out_path_that_is_a_file_is_refused(cancer: Workspace, tmp_path: Path) -> None:
    taken = tmp_path / "taken"
    taken.write_text("")
    with pytest.raises(ConfigError, match="Cannot write manifests to"):
        write_manifests(cancer, "cancer@champion", taken)


def test_the_cli_writes_the_manifests_and_lists_them(cancer: Workspace, tmp_path: Path) -> None:
    out = tmp_path / "k8s"
    args = ["k8s", "cancer@champion", "--out", str(out), "--layout", "bluegreen"]
    r = runner.invoke(_cli(), [*args, "--image", "reg.io/cancer:1", "--json"])
    assert r.exit_code == 0, r.output
    result = json.loads(r.stdout)
    assert result["model"] == "models:/cancer/1" and result["image"] == "reg.io/cancer:1"
    assert sorted(Path(f).name for f in result["files"]) == sorted(p.name for p in out.iterdir())
    r = runner.invoke(_cli(), args)
    assert r.exit_code == 0, r.output
    assert "Wrote 9 files for models:/cancer/1" in r.stdout
    assert f"kubectl apply -k {out}" in r.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["cancer@champion", "--layout", "rolling"], "Unknown layout 'rolling'"),
        (["cancer@champion", "--name", "9lives"], "cannot become a Kubernetes name"),
        (["2024-cancer@champion"], "'2024-cancer' cannot become a Kubernetes name"),
        (["nope@champion"], "'nope'"),
        (["cancer@champion", "--port", "80"], "--port must be from 1024"),
        (["cancer@champion", "--memory", "512m"], "not a positive Kubernetes quantity"),
        (["cancer@champion", "--namespace", "ML"], "not a DNS-1123 label"),
    ],
)
def test_a_bad_input_gives_one_error_line_through_the_cli(
    cancer: Workspace, trained: Trained, tmp_path: Path, args: list[str], message: str
) -> None:
    if args[0].startswith("2024-"):
        podium.register_model(trained.model, "2024-cancer", alias="champion")
    r = runner.invoke(_cli(), ["k8s", *args, "--out", str(tmp_path / "k8s")])
    assert r.exit_code == 1, r.output
    errors = [line for line in r.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and message in errors[0], r.stderr
    assert "Traceback" not in r.output
    assert not (tmp_path / "k8s").exists()
