"""The API's documentation pages, ``/docs`` (Swagger UI) and ``/redoc``, working offline.

FastAPI's own pages load Swagger UI and ReDoc from a CDN, so on a machine
without internet ``/docs`` is blank. Here the scripts, styles and favicon come
from the ``fastapi-offline`` package, served under :data:`DOCS_ASSETS_URL`.

Two requests to other hosts remain in those scripts, and both are switched off:

* Swagger UI asks ``validator.swagger.io`` for a badge judging the schema:
  ``validatorUrl: null`` (:data:`SWAGGER_UI_PARAMETERS`) turns it off;
* ReDoc's sidebar shows a logo from ``cdn.redoc.ly``: the pages carry the
  ``Content-Security-Policy`` :data:`DOCS_POLICY`, which allows images from this
  server only, so the browser never asks (ReDoc then hides the logo itself).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from starlette.datastructures import MutableHeaders

from embrec.serving.middleware import ASGIApp, Message, Receive, Scope, Send

DOCS_PAGES = ("/docs", "/redoc")
DOCS_ASSETS_URL = "/static-offline-docs"
SWAGGER_UI_PARAMETERS = {"validatorUrl": None}
DOCS_POLICY = "img-src 'self' data:"


class LocalImagesOnly:
    """ASGI middleware: the documentation pages may show images from this server only."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in DOCS_PAGES:
            await self.app(scope, receive, send)
            return

        async def send_with_policy(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).append("Content-Security-Policy", DOCS_POLICY)
            await send(message)

        await self.app(scope, receive, send_with_policy)


def app_with_offline_docs(**settings: Any) -> FastAPI:
    """A :class:`FastAPI` app (``settings`` as FastAPI takes them) whose docs need no internet."""
    app = FastAPIOffline(static_url=DOCS_ASSETS_URL,
                         swagger_ui_parameters=SWAGGER_UI_PARAMETERS, **settings)
    app.add_middleware(LocalImagesOnly)
    return app
