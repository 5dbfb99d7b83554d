"""``podium server``: the control API, and the guard that keeps store-only commands local."""

from __future__ import annotations

import os
import re
from typing import Annotated

import typer

from podium.cli.render import err
from podium.core.errors import ConfigError

URL_ENV = "PODIUM_URL"
# Commands that work on a store they open themselves: models are trained, loaded, served
# and packaged where their blobs are. With $PODIUM_URL set they refuse rather than quietly
# use some other local store.
LOCAL_ONLY = frozenset(
    {
        "run",
        "check",
        "serve",
        "server",
        "controller",
        "gc",
        "scheduler",
        "batch",
        "export",
        "stream",
        "build",
        "env",
        "k8s",
        "import",
        "edge",
        "quickstart",
        "demo",
        "ui",
    }
)


CONTROL_RISK = "move aliases, change deployments and traffic, create tokens and read it all"


def local_only(command: str) -> None:
    """Refuse ``command`` when ``$PODIUM_URL`` points this shell at a server."""
    url = os.environ.get(URL_ENV)
    if url:
        raise ConfigError(
            f"`podium {command}` works on a store it opens itself, and {URL_ENV} points this "
            f"shell at the podium server at {url}.",
            hint=f"Run it where the store is, or without the server: "
            f"`env -u {URL_ENV} podium {command} ...`.",
        )


def server(
    host: Annotated[
        str, typer.Option(help="Interface to bind (loopback by default).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port.")] = 8700,
    auth: Annotated[
        bool,
        typer.Option("--auth", help="Require API tokens (`podium tokens`) on every route."),
    ] = False,
    insecure: Annotated[
        bool, typer.Option("--insecure", help="Allow a non-loopback --host without --auth.")
    ] = False,
    access_log: Annotated[bool, typer.Option("--access-log", help="Log every request.")] = False,
) -> None:
    """Serve the control API (REST over everything the CLI does) and the web dashboard."""
    _serve_control(host, port, auth, insecure, access_log, dashboard_first=False)


def ui(
    host: Annotated[
        str, typer.Option(help="Interface to bind (loopback by default).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port.")] = 8700,
    auth: Annotated[
        bool,
        typer.Option("--auth", help="Require a token to sign in (`podium tokens create`)."),
    ] = False,
    insecure: Annotated[
        bool, typer.Option("--insecure", help="Allow a non-loopback --host without --auth.")
    ] = False,
) -> None:
    """Open the web dashboard: start the server and print the address to open."""
    _serve_control(host, port, auth, insecure, False, dashboard_first=True)


def _serve_control(
    host: str, port: int, auth: bool, insecure: bool, access_log: bool, *, dashboard_first: bool
) -> None:
    from podium.auth import auth_required
    from podium.serving import serve as run_server
    from podium.serving.server import check_bind, is_loopback
    from podium.ui import create_app
    from podium.workspace import Workspace

    auth = auth or auth_required()
    check_bind(host, auth=auth, insecure=insecure, warn=False, risk=CONTROL_RISK)
    ws = Workspace.current()
    # The session cookie is Secure unless the server is on loopback or runs --insecure
    # (plain http, behind a boundary): a browser drops Secure cookies from http pages.
    app = create_app(ws, auth=auth, secure_cookies=not (is_loopback(host) or insecure))
    shown = "localhost" if host in ("127.0.0.1", "::1") else host
    url = f"http://{shown}:{port}/"
    sign_in = " (sign in with a token: `podium tokens create --name NAME --role viewer`)"
    if dashboard_first:
        err.print(f"podium dashboard at {url}{sign_in if auth else ''}")
        err.print(f"Over {_masked(ws.settings.db_url)}; the control API is at {url}api/v1.")
    else:
        err.print(
            f"podium control API at http://{host}:{port}/api/v1 over "
            f"{_masked(ws.settings.db_url)} (docs: /docs; dashboard: /; auth "
            f"{'on' if auth else 'off'}). Point clients at it with "
            f"PODIUM_URL=http://{host}:{port}"
        )
    run_server(app, host, port, access_log=access_log, insecure=insecure)


def _masked(url: str) -> str:
    """A database URL fit to print: its password replaced by ***."""
    return re.sub(r"://([^:/@]+):[^@/]+@", r"://\1:***@", url)
