"""``podium k8s``: Kubernetes manifests (kustomize-ready) for a model or a deployment."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from podium.cli.render import out, print_json


def k8s(
    target: Annotated[
        str,
        typer.Argument(
            help="A deployment name, or models:/NAME/VERSION, NAME@ALIAS, NAME/VERSION.",
            metavar="MODEL_OR_DEPLOYMENT",
        ),
    ],
    out_dir: Annotated[
        Path, typer.Option("--out", help="The folder to write (created if missing).")
    ],
    layout: Annotated[str, typer.Option(help="plain, bluegreen or canary.")] = "plain",
    image: Annotated[
        str | None,
        typer.Option(
            help="Container image (default: podium-MODEL:VERSION, as podium build tags it)."
        ),
    ] = None,
    replicas: Annotated[
        int, typer.Option(help="Pods per Deployment; the autoscaler scales from it to 4x.")
    ] = 2,
    port: Annotated[int, typer.Option(help="Container port, 1024-65535 (pods run non-root).")] = (
        8080
    ),
    cpu: Annotated[str, typer.Option(help="CPU request and limit of a pod.")] = "500m",
    memory: Annotated[str, typer.Option(help="Memory request and limit of a pod.")] = "512Mi",
    namespace: Annotated[str | None, typer.Option(help="Kubernetes namespace.")] = None,
    canary_weight: Annotated[
        int, typer.Option(help="canary layout: canary pods as a percentage of the stable ones.")
    ] = 10,
    name: Annotated[
        str | None,
        typer.Option(help="Base name of the resources (default: the model or deployment name)."),
    ] = None,
    json_: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Write Kubernetes manifests that serve a model or deployment: Deployment, Service,
    HorizontalPodAutoscaler, ConfigMap and a kustomization.yaml."""
    from podium.packaging.k8s import resolve_target, write_manifests
    from podium.workspace import Workspace

    ws = Workspace.current()
    t = resolve_target(ws, target, name=name)
    files = write_manifests(
        ws,
        t,
        out_dir,
        layout=layout,
        image=image,
        replicas=replicas,
        port=port,
        cpu=cpu,
        memory=memory,
        namespace=namespace,
        canary_weight=canary_weight,
    )
    image = image or t.default_image
    if json_:
        print_json(
            {
                "name": t.name,
                "model": t.uri,
                "deployment": t.deployment,
                "layout": layout,
                "image": image,
                "namespace": namespace,
                "files": [str(f) for f in files],
            }
        )
        return
    out.print(
        f"Wrote {len(files)} files for {escape(t.uri)} (layout {escape(layout)}, "
        f"image {escape(image)}):"
    )
    for f in files:
        out.print(f"  {f}", markup=False)
    out.print(f"Apply them: kubectl apply -k {out_dir}", markup=False)
