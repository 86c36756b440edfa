"""Running the server on this machine's loopback interface, in a thread or a process.

For notebooks, tests and benchmarks::

    with running_in_thread(create_app("runs/mf-bias")) as url:
        urllib.request.urlopen(f"{url}/health")
"""

from __future__ import annotations

import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from embrec.serving.protocol import HTTP_PROTOCOL

LOOPBACK = "127.0.0.1"


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def wait_until_healthy(url: str, timeout: float = 60.0, process: Any = None) -> None:
    """Poll ``url/health`` until it answers 200; TimeoutError (or the process's exit) if not."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server exited with code {process.returncode} while starting")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2.0) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not become healthy within {timeout:g} s")


@contextmanager
def running_in_thread(app: Any, port: int | None = None, **config: Any) -> Iterator[str]:
    """Serve ``app`` with uvicorn on ``127.0.0.1`` in a background thread; yields its URL."""
    port = port or free_port()
    settings = {"log_level": "warning", "timeout_graceful_shutdown": 2, "http": HTTP_PROTOCOL,
                **config}
    server = uvicorn.Server(uvicorn.Config(app, host=LOOPBACK, port=port, **settings))
    thread = threading.Thread(target=server.run, name=f"uvicorn:{port}", daemon=True)
    thread.start()
    url = f"http://{LOOPBACK}:{port}"
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the server on {url} did not start")
            time.sleep(0.02)
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)
