"""The HTTP protocol uvicorn runs for each connection: its own, with ``TCP_NODELAY`` always set.

Why: uvicorn writes a response's headers and its body as two ``send()`` calls. With
Nagle's algorithm on, the kernel holds the body until the client acknowledges the
headers, and the client delays that acknowledgement (40 ms on Linux) hoping to piggyback
it on data it has none of: every request on a kept-alive connection then waits ~40-50
ms. asyncio turns Nagle off for an accepted connection only when the *listening*
socket says ``proto == IPPROTO_TCP``; a socket rebuilt from a file descriptor, or bound
by a uvicorn that creates it with ``proto=0`` (``embrec serve --workers N`` binds once
and hands the socket to N processes), says 0, and every worker answers ~48 ms late.
Setting the option on each connection here makes the answer independent of how the
listening socket was made.

:data:`HTTP_PROTOCOL` is uvicorn's fastest available protocol (httptools when
installed, else h11) with that fix.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from uvicorn.protocols.http.auto import AutoHTTPProtocol

INET_FAMILIES = (socket.AF_INET, socket.AF_INET6)


def set_no_delay(transport: asyncio.BaseTransport) -> bool:
    """Turn Nagle's algorithm off on a TCP transport's socket; False for other transports."""
    sock = transport.get_extra_info("socket")
    if sock is None or sock.family not in INET_FAMILIES:
        return False
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError:
        return False
    return True


class NoDelayHTTPProtocol(AutoHTTPProtocol):  # type: ignore[misc, valid-type]
    """uvicorn's HTTP protocol, with ``TCP_NODELAY`` set on every connection it serves."""

    def connection_made(self, transport: Any) -> None:
        set_no_delay(transport)
        super().connection_made(transport)


HTTP_PROTOCOL = NoDelayHTTPProtocol
