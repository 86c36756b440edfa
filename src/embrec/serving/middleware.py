"""What every request meets before the application: the token, the body bound, safe headers.

All three are plain ASGI middleware, outermost first:

* :class:`TokenGate` demands ``Authorization: Bearer <token>`` on the paths
  that read or write a user's stored ratings, before a byte of the body is read
  (a malformed body without the token is a 401, never a 400 that tells the
  caller anything);
* :class:`BodyLimit` bounds the request body;
* :class:`SecurityHeaders` adds a Content-Security-Policy (same origin only),
  ``X-Frame-Options: DENY``, ``X-Content-Type-Options: nosniff`` and
  ``Referrer-Policy: no-referrer`` to every response.

:class:`BodyLimit` in detail: A ``Content-Length`` above the
limit is refused with 413 without reading a byte of the body; a body without
one (chunked) is read chunk by chunk and refused as soon as it passes the limit.
The body that passes is handed on whole, so the application never sees more
than ``max_bytes`` and never waits on a slow client while holding a worker.
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


async def send_error(
    send: Send, status: int, detail: str, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    """Answer with ``{"detail": ...}`` and ``status``."""
    body = json.dumps({"detail": detail}).encode()
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
            *(headers or []),
        ],
    })
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """Refuse request bodies over ``max_bytes`` with 413 (see the module docstring)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _too_large(self, size: int | None) -> str:
        shown = "more than" if size is None else f"{size} bytes,"
        return (
            f"request body is {shown} over this server's {self.max_bytes}-byte limit; "
            "send fewer ratings per request"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                size = int(declared)
            except ValueError:
                await send_error(send, 400, "Content-Length is not a number")
                return
            if size > self.max_bytes:
                await send_error(send, 413, self._too_large(size))
                return
        chunks: list[bytes] = []
        total = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            total += len(chunk)
            if total > self.max_bytes:
                await send_error(send, 413, self._too_large(None))
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        await self.app(scope, replay(b"".join(chunks), receive), send)


PRIVATE_PATHS = re.compile(r"/users/[^/]+/(?:recommendations|ratings)/?|/predict/?")
MISSING_TOKEN = "this endpoint needs Authorization: Bearer <token>"
WRONG_TOKEN = "wrong bearer token"


def bearer_matches(authorization: str | None, token: str) -> bool:
    """Whether an ``Authorization`` header value carries ``token`` (constant-time compare)."""
    scheme, _, given = (authorization or "").partition(" ")
    given_bytes = given.strip().encode("utf-8", "replace")
    return scheme.lower() == "bearer" and hmac.compare_digest(given_bytes, token.encode())


class TokenGate:
    """401 unless the request carries the token, on :data:`PRIVATE_PATHS` (any method).

    Those are the endpoints that answer from, or change, a user's stored ratings:
    ``GET /users/{id}/recommendations``, ``POST /users/{id}/ratings`` and
    ``POST /predict``. Checked on the path alone, before the body is read.
    """

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and PRIVATE_PATHS.fullmatch(scope.get("path", "")):
            headers = dict(scope.get("headers") or [])
            authorization = headers.get(b"authorization")
            if authorization is None or not authorization.strip():
                await send_error(send, 401, MISSING_TOKEN, [(b"www-authenticate", b"Bearer")])
                return
            if not bearer_matches(authorization.decode("latin-1"), self.token):
                await send_error(send, 401, WRONG_TOKEN, [(b"www-authenticate", b"Bearer")])
                return
        await self.app(scope, receive, send)


PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
# The API docs pages (Swagger UI, ReDoc) start themselves with an inline script and
# style; their files come from this server too.
DOCS_POLICY = (
    "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; font-src 'self'; worker-src 'self' blob:; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
DOCS_PATHS = ("/docs", "/redoc")


class SecurityHeaders:
    """Add the security headers of the module docstring to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        policy = DOCS_POLICY if path.startswith(DOCS_PATHS) else PAGE_POLICY

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", [])
                           if k.lower() not in SECURITY_HEADER_NAMES]
                headers += [
                    (b"content-security-policy", policy.encode()),
                    (b"x-frame-options", b"DENY"),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                ]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


SECURITY_HEADER_NAMES = {
    b"content-security-policy", b"x-frame-options", b"x-content-type-options", b"referrer-policy"
}


def replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives ``body`` once, then defers to ``receive``."""
    delivered = False

    async def again() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return again
