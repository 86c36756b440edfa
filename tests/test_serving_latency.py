"""Requests on a kept-alive connection answer in milliseconds, with one worker or several.

Nagle's algorithm on a server socket holds a response's body until the client
acknowledges its headers, and the client delays that acknowledgement by ~40 ms: a
listening socket that says ``proto=0`` (as a socket shared with ``--workers N`` can)
loses asyncio's ``TCP_NODELAY`` and every request waits ~44 ms
(:mod:`embrec.serving.protocol`).
"""

from __future__ import annotations

import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
import uvicorn

from embrec.data.datasets import load_dataset
from embrec.serving.local import free_port, wait_until_healthy
from embrec.serving.protocol import HTTP_PROTOCOL
from embrec.training.fit import fit

REQUESTS = 20
FLOOR_MS = 10.0


def median_ms(client: httpx.Client, path: str, requests: int = REQUESTS) -> float:
    """Median wall time of ``requests`` GETs of ``path`` on one kept-alive connection."""
    for _ in range(3):
        assert client.get(path).status_code == 200
    times = []
    for _ in range(requests):
        start = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200
    return statistics.median(times)


async def two_part_answer(scope, receive, send) -> None:
    """A response written as headers, then a body: the pattern Nagle delays."""
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"x" * 2000})


def test_a_listening_socket_without_tcp_proto_still_answers_kept_alive_requests_at_once():
    listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 0)
    listening.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(two_part_answer, log_level="warning",
                                           http=HTTP_PROTOCOL))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listening]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        url = f"http://127.0.0.1:{listening.getsockname()[1]}"
        with httpx.Client(base_url=url, timeout=5) as client:
            assert median_ms(client, "/") < FLOOR_MS
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        listening.close()


@pytest.fixture(scope="module")
def model_dir(data_dir, tmp_path_factory) -> Path:
    trained = fit(load_dataset("ml-100k", data_dir=data_dir), "mf-bias", epochs=1, seed=0,
                  threads=1, verbose=False)
    return trained.save(tmp_path_factory.mktemp("latency") / "mf-bias")


@pytest.mark.slow
def test_two_workers_answer_a_kept_alive_connection_in_under_10_ms(model_dir):
    port = free_port()
    command = [sys.executable, "-m", "embrec", "serve", str(model_dir), "--host", "127.0.0.1",
               "--port", str(port), "--workers", "2", "--log-level", "warning"]
    process = subprocess.Popen(command, env=dict(os.environ), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(url, timeout=120, process=process)
        with httpx.Client(base_url=url, timeout=10) as client:
            assert median_ms(client, "/health") < FLOOR_MS
            assert median_ms(client, "/users/196/recommendations?n=10") < FLOOR_MS
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
