"""The web dashboard: a small single-page app served by the control API's server.

Plain HTML, CSS and JavaScript modules from this package (no build step, nothing fetched
from the internet); charts and the pipeline DAG are inline SVG drawn by its own scripts.
:func:`create_app` is the control API (:func:`podium.api.create_control_app`) with the
dashboard at ``/``; ``podium server`` and ``podium ui`` serve it.

>>> app = create_app(auth=True)  # doctest: +SKIP
"""

from podium.ui.app import STATIC, create_app

__all__ = ["STATIC", "create_app"]
