"""The two recommendation endpoints, for plainly valid requests, without FastAPI's layers.

Profiled under load (``benchmarks/load.py``, 32 connections, py-spy), about 40 % of
the server's CPU per recommendation went to what sits between the middleware and
the endpoint: routing over every route, the exception and exit-stack middleware,
dependency solving and parameter validation. :class:`FastLane` answers the common,
well-formed requests of the hot path directly:

* ``GET /users/{user_id}/recommendations`` with no query string or just ``n=1..100``;
* ``POST /recommendations`` with ``Content-Type: application/json`` and a body that
  validates as :class:`~embrec.serving.schemas.RecommendRequest`.

It asks the service exactly what the routes in :mod:`.app` ask (the same query, the
same micro-batcher, the same JSON). Everything else goes on to the full application
untouched: other paths and parameters, bodies that do not validate, and requests the
service refuses (an unknown user, an unknown item), so every error is answered, with
its status and one line, by the one place that answers errors. It sits inside the
token gate, the body bound and the security headers, which apply to it unchanged.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import ValidationError

from embrec.errors import EmbrecError
from embrec.recommend.filters import ItemFilter
from embrec.serving.batching import MicroBatcher
from embrec.serving.encoding import FastJSONResponse
from embrec.serving.middleware import ASGIApp, Message, Receive, Scope, Send, replay
from embrec.serving.schemas import MAX_ID_CHARS, MAX_N, RecommendRequest
from embrec.serving.service import Service

try:
    from orjson import loads as json_loads
except ImportError:  # pragma: no cover - orjson is a default, optional dependency
    json_loads = json.loads

USER_RECOMMENDATIONS = re.compile(r"/users/([^/]+)/recommendations")
PLAIN_COUNT = re.compile(rb"(?:n=([1-9][0-9]{0,2}))?")
JSON_TYPE = b"application/json"
DEFAULT_N = 10


def plain_count(query_string: bytes) -> int | None:
    """``n`` of a query string that is empty or ``n=1..MAX_N`` alone; None otherwise."""
    match = PLAIN_COUNT.fullmatch(query_string)
    if match is None:
        return None
    n = DEFAULT_N if match.group(1) is None else int(match.group(1))
    return n if n <= MAX_N else None


def header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers") or ():
        if key.lower() == name:
            return value
    return None


class FastLane:
    """Answers the requests of the module docstring; hands every other one to ``app``."""

    def __init__(self, app: ASGIApp, service: Service, batcher: MicroBatcher[Any, Any]) -> None:
        self.app = app
        self.service = service
        self.batcher = batcher
        self.answered = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope.get("root_path"):
            method, path = scope["method"], scope["path"]
            if method == "GET":
                found = USER_RECOMMENDATIONS.fullmatch(path)
                if found is not None and await self.user(found.group(1), scope, send):
                    return
            elif method == "POST" and path == "/recommendations":
                body = await read_body(receive)
                if body is None:
                    return
                if await self.ratings(body, scope, send):
                    return
                receive = replay(body, receive)
        await self.app(scope, receive, send)

    async def user(self, user_id: str, scope: Scope, send: Send) -> bool:
        """``GET /users/{user_id}/recommendations``; False to let the application answer."""
        n = plain_count(scope.get("query_string", b""))
        if n is None or len(user_id) > MAX_ID_CHARS:
            return False
        try:
            query = self.service.shaped(self.service.user_query(user_id), n, ItemFilter.of())
        except EmbrecError:
            return False
        return await self.answer(query, scope, send)

    async def ratings(self, body: bytes, scope: Scope, send: Send) -> bool:
        """``POST /recommendations``; False to let the application answer."""
        content_type = header(scope, b"content-type")
        if content_type is None or content_type.strip().lower() != JSON_TYPE:
            return False
        try:
            request = RecommendRequest.model_validate(json_loads(body))
            item_filter = ItemFilter.of(request.min_ratings, request.include, request.exclude)
            query = self.service.shaped(self.service.ratings_query(request.ratings), request.n,
                                        item_filter)
        except (ValueError, ValidationError, EmbrecError):
            return False
        return await self.answer(query, scope, send)

    async def answer(self, query: Any, scope: Scope, send: Send) -> bool:
        try:
            found = await self.batcher.answer(query)
        except EmbrecError:
            return False
        self.answered += 1
        await FastJSONResponse(found.to_json())(scope, receive_nothing, send)
        return True


async def read_body(receive: Receive) -> bytes | None:
    """The whole request body; None when the client went away."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)



async def receive_nothing() -> Message:
    return {"type": "http.disconnect"}
