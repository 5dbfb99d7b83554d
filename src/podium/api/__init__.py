"""The control API: everything the CLI does, as REST under ``/api/v1`` (``podium server``).

>>> app = create_control_app()  # doctest: +SKIP
>>> # uvicorn.run(app, host="127.0.0.1", port=8700)
"""

from podium.api.app import API_PREFIX, create_control_app

__all__ = ["API_PREFIX", "create_control_app"]
