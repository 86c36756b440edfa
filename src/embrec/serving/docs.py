"""The API's documentation pages, ``/docs`` (Swagger UI) and ``/redoc``, working offline.

FastAPI's own pages load Swagger UI and ReDoc from a CDN, so on a machine
without internet ``/docs`` is blank. Here the scripts, styles and favicon come
from the ``fastapi-offline`` package, served under :data:`DOCS_ASSETS_URL`.

Two requests to other hosts remain in those scripts, and both are switched off:

* Swagger UI asks ``validator.swagger.io`` for a badge judging the schema:
  ``validatorUrl: null`` (:data:`SWAGGER_UI_PARAMETERS`) turns it off;
* ReDoc's sidebar shows a logo from ``cdn.redoc.ly``: the pages carry the
  ``Content-Security-Policy`` :data:`embrec.serving.middleware.DOCS_POLICY`, which
  allows images from this server only, so the browser never asks (ReDoc then hides
  the logo itself).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

DOCS_PAGES = ("/docs", "/redoc")
DOCS_ASSETS_URL = "/static-offline-docs"
SWAGGER_UI_PARAMETERS = {"validatorUrl": None}


def app_with_offline_docs(**settings: Any) -> FastAPI:
    """A :class:`FastAPI` app (``settings`` as FastAPI takes them) whose docs need no internet."""
    app = FastAPIOffline(static_url=DOCS_ASSETS_URL,
                         swagger_ui_parameters=SWAGGER_UI_PARAMETERS, **settings)
    return app
