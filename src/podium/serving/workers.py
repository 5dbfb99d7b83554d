"""``podium serve TARGET --workers N``: N processes on one socket, supervised by uvicorn.

The parent binds the socket and restarts a worker that dies; each worker builds its own app
from ``PODIUM_SERVE_TARGET`` (spawned processes share no memory). Workers of a deployment
coordinate through the store, which is also what lets a rolling update replace their
models one worker at a time.
"""

from __future__ import annotations

import gc
import os
from typing import Any

from podium.core.errors import NotFoundError
from podium.workspace import Workspace

TARGET_ENV = "PODIUM_SERVE_TARGET"
FLAVOR_ENV = "PODIUM_SERVE_FLAVOR"
BUNDLE = "bundle:"  # a target naming a bundle folder, served without the registry


def is_deployment(ws: Workspace, target: str) -> bool:
    """A bare name that is a deployment is served as one; anything else is a model."""
    if any(c in target for c in "/@:"):
        return False
    try:
        ws.store.deployments.get(target)
    except NotFoundError:
        return False
    return True


def app_for(target: str, ws: Workspace | None = None, flavor: str | None = None) -> tuple[Any, str]:
    """The app serving ``target`` (a deployment name or a model URI) and a description;
    with ``$PODIUM_AUTH`` on, every route but health and the OpenAPI document needs a token."""
    from podium.auth import Authenticator, auth_required
    from podium.serving.auth import protect

    app, what = _app_for(target, ws, flavor)
    if auth_required():
        protect(app, Authenticator((ws or Workspace.current()).store.tokens))
        what += ", tokens required"
    return app, what


def _app_for(target: str, ws: Workspace | None, flavor: str | None) -> tuple[Any, str]:
    from podium.registry import Registry
    from podium.serving.app import create_app
    from podium.serving.deployment import create_deployment_app

    if target.startswith(BUNDLE):
        return app_for_bundle(target[len(BUNDLE) :])
    ws = ws or Workspace.current()
    if is_deployment(ws, target):
        app = create_deployment_app(target, workspace=ws, flavor=flavor)
        return app, f"deployment {target!r}" + (f" (flavor {flavor})" if flavor else "")
    # auto: the ONNX fast path when its parity held, else the model as registered.
    predictor = Registry(ws.store, ws.artifacts).load(target, flavor=flavor or "auto")
    uri = predictor.version.uri if predictor.version else target
    return create_app(predictor), f"{uri} ({describe_flavor(predictor, flavor)})"


def describe_flavor(predictor: Any, asked: str | None) -> str:
    """What ``podium serve`` says it serves: the flavor, and why when it chose."""
    from podium.registry import fastpath

    version = predictor.version
    if asked not in (None, "auto") or version is None:
        return str(predictor.flavor)
    if predictor.flavor == fastpath.FLAVOR:
        return "onnx fast path, parity held: " + fastpath.figures_text(version.fast_path or {})
    fast = version.fast_path
    if fast is None or fast.get("status") == fastpath.UNAVAILABLE:
        return str(predictor.flavor)
    return f"{predictor.flavor}; ONNX fast path {fastpath.describe(fast)}"


def app_for_bundle(path: str) -> tuple[Any, str]:
    """The app serving a bundle: sums checked, model loaded from its safe flavor, and its
    predictions on the input example proven equal to the recorded ones before it serves."""
    from podium.core.errors import IntegrityError
    from podium.packaging.bundle import open_bundle
    from podium.serving.app import create_app

    bundle = open_bundle(path)
    predictor = bundle.load()
    parity = bundle.parity(predictor)
    if not parity.ok:
        raise IntegrityError(
            f"The bundle's model predicts differently here from its reference: "
            f"{parity.describe()}.",
            hint="Serve it from the environment its lock describes (`podium env create`).",
        )
    return create_app(predictor), f"bundle {path} ({bundle.uri}, {predictor.flavor})"


def app_factory() -> Any:
    """What each worker process runs (uvicorn ``factory=True``)."""
    app, _ = app_for(os.environ[TARGET_ENV], flavor=os.environ.get(FLAVOR_ENV) or None)
    gc.collect()
    gc.freeze()  # see server.serve: long-lived objects out of the collector's sight
    return app


def serve_workers(
    target: str,
    host: str,
    port: int,
    workers: int,
    *,
    access_log: bool = False,
    flavor: str | None = None,
    insecure: bool = False,
) -> None:
    """Serve ``target`` from ``workers`` processes sharing one listening socket."""
    import uvicorn

    from podium.auth import auth_required
    from podium.serving.app import Limits
    from podium.serving.protocols import uvicorn_options
    from podium.serving.server import check_bind

    check_bind(host, auth=auth_required(), insecure=insecure)  # each worker protects itself
    os.environ[TARGET_ENV] = target
    os.environ[FLAVOR_ENV] = flavor or ""
    uvicorn.run(
        "podium.serving.workers:app_factory",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        **uvicorn_options(Limits.from_env().max_header_bytes, access_log),
        timeout_graceful_shutdown=5,
    )
