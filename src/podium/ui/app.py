"""The control API app with the dashboard's files mounted: ``/`` is the page, ``/ui/`` its
scripts and styles."""

from __future__ import annotations

from pathlib import Path

from fastapi.responses import FileResponse, Response
from starlette.staticfiles import StaticFiles

from podium.api import create_control_app
from podium.api.app import ControlApp
from podium.workspace import Workspace

STATIC = Path(__file__).parent / "static"
# Only this server's own files run or load: no inline script, no CDN, no font from the web.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-cache",
}


class _Files(StaticFiles):
    """Static files that ask the browser to check for a newer copy (a podium upgrade
    changes them under the same name) and are never sniffed as another type."""

    def file_response(self, *args: object, **kwargs: object) -> Response:
        response = super().file_response(*args, **kwargs)  # type: ignore[arg-type]
        response.headers["cache-control"] = "no-cache"
        response.headers["x-content-type-options"] = "nosniff"
        return response


def create_app(
    workspace: Workspace | None = None,
    *,
    auth: bool = False,
    secure_cookies: bool | None = None,
) -> ControlApp:
    """The control API over ``workspace`` with the dashboard at ``/``.

    Args:
        workspace: the store to show (default: the current one).
        auth: require tokens; the dashboard then shows a sign-in page.
        secure_cookies: mark the session cookie Secure (None: unless on loopback).
    """
    app = create_control_app(workspace, auth=auth, secure_cookies=secure_cookies)

    # HEAD as GET without the body (a link checker's or a load balancer's probe); the
    # files under /ui answer HEAD already.
    @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    def dashboard() -> Response:
        return FileResponse(STATIC / "index.html", media_type="text/html", headers=HEADERS)

    app.mount("/ui", _Files(directory=STATIC), name="ui")
    return app
