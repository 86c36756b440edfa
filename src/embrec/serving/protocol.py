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

The same protocol also sends a response as one segment: h11 writes the status line
and headers, then the body, each a ``send()`` system call; on loopback each is a trip
through the whole TCP stack, charged to the server. :class:`CoalescingTransport` joins
the writes made within one turn of the event loop (a whole response, for every
response that is not streamed) and sends them together at the end of that turn.

:data:`HTTP_PROTOCOL` is uvicorn's fastest available protocol (httptools when
installed, else h11) with both.
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


class CoalescingTransport:
    """A transport whose writes within one event-loop turn leave as one ``write``.

    Everything but ``write``, ``writelines`` and ``close`` is the wrapped transport's.
    """

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(bytes(data))

    def writelines(self, chunks: Any) -> None:
        for chunk in chunks:
            self.write(chunk)

    def flush(self) -> None:
        if not self._pending:
            return
        data = b"".join(self._pending) if len(self._pending) > 1 else self._pending[0]
        self._pending.clear()
        if not self._transport.is_closing():
            self._transport.write(data)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class NoDelayHTTPProtocol(AutoHTTPProtocol):  # type: ignore[misc, valid-type]
    """uvicorn's HTTP protocol: ``TCP_NODELAY`` on every connection, one write per response."""

    def connection_made(self, transport: Any) -> None:
        set_no_delay(transport)
        super().connection_made(CoalescingTransport(transport, asyncio.get_running_loop()))


HTTP_PROTOCOL = NoDelayHTTPProtocol
