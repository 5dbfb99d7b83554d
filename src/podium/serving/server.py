"""Running the app on uvicorn: in the foreground (``podium serve``) or in a thread."""

from __future__ import annotations

import asyncio
import gc
import ipaddress
import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import Any

from podium.core.errors import ConfigError

log = logging.getLogger("podium.serving")
DEFAULT_PORT = 8000


def resolve_port(port: int | None) -> int:
    """``port`` if given, else ``$PORT`` (the container contract), else 8000."""
    if port is not None:
        return port
    raw = os.environ.get("PORT")
    if raw is None:
        return DEFAULT_PORT
    if not raw.isdigit() or not 0 <= int(raw) <= 65535:
        raise ConfigError(f"PORT={raw!r} is not a port number.", hint="Set PORT to 0-65535.")
    return int(raw)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(
    host: str,
    *,
    auth: bool,
    insecure: bool = False,
    warn: bool = True,
    risk: str = "predict, read metrics and probe the model",
) -> None:
    """Refuse a non-loopback ``host`` while auth is off, unless ``insecure`` says so (then
    warn, unless ``warn`` is False: a caller checking early, before the server warns).
    ``risk`` says what anyone who can reach the server could then do."""
    if is_loopback(host) or auth:
        return
    if not insecure:
        raise ConfigError(
            f"Refusing to bind {host!r} without auth: anyone who can reach it could {risk}.",
            hint="Turn tokens on with --auth (or PODIUM_AUTH=1; create one with `podium tokens "
            "create`), or pass --insecure if a network boundary protects the server.",
        )
    if warn:
        log.warning("Binding %s without auth (--insecure): anyone can use it.", host)


def uvicorn_config(app: Any, host: str, port: int, *, access_log: bool = False) -> Any:
    import uvicorn

    from podium.serving.protocols import uvicorn_options

    loop = "auto"
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        loop=loop,
        **uvicorn_options(_max_header_bytes(app), access_log),
        lifespan="on",
        timeout_graceful_shutdown=5,
    )


def _max_header_bytes(app: Any) -> int:
    """The limit of a podium app's server, else the one from the environment."""
    from podium.serving.app import Limits

    limits = getattr(getattr(getattr(app, "state", None), "server", None), "limits", None)
    return (limits if isinstance(limits, Limits) else Limits.from_env()).max_header_bytes


def serve(
    app: Any,
    host: str = "127.0.0.1",
    port: int | None = None,
    *,
    access_log: bool = False,
    insecure: bool = False,
) -> None:
    """Serve ``app`` in the foreground until interrupted.

    A host other than loopback needs the app to require tokens (:func:`protect`), or
    ``insecure=True``.
    """
    import uvicorn

    check_bind(host, auth=getattr(app, "guard", None) is not None, insecure=insecure)
    # Everything loaded so far (libraries, the model) lives as long as the process: move it
    # out of the collector's sight, or each full collection walks ~200k objects (~90 ms).
    gc.collect()
    gc.freeze()
    uvicorn.Server(uvicorn_config(app, host, resolve_port(port), access_log=access_log)).run()


@dataclass
class RunningServer:
    """A server started by :func:`start_in_thread`; ``stop()`` shuts it down."""

    url: str
    port: int
    _server: Any
    _thread: threading.Thread

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


def start_in_thread(app: Any, host: str = "127.0.0.1", port: int = 0) -> RunningServer:
    """Start ``app`` on a background thread; port 0 picks a free port."""
    import uvicorn

    server = uvicorn.Server(uvicorn_config(app, host, port))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise ConfigError(f"The server could not start on {host}:{port}.")
        time.sleep(0.01)
    bound = server.servers[0].sockets[0].getsockname()[1]
    return RunningServer(f"http://{host}:{bound}", bound, server, thread)
