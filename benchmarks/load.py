"""Load on the HTTP server: top-10 for known users and fold-in for new users, over loopback.

    .venv/bin/python benchmarks/load.py [MODEL_DIR] [--requests 1000] [--seconds 20]
                                        [--concurrency 8,32] [--workers 1] [--url URL]
                                        [--client lean|httpx]

Starts ``embrec serve MODEL_DIR`` on a free 127.0.0.1 port (or uses ``--url``, which must be
a loopback address), then for each request kind and concurrency sends at most ``--requests``
requests within at most ``--seconds`` from that many concurrent keep-alive connections
(``--client lean``, the default: a minimal HTTP/1.1 client that leaves the shared CPU to the
server; ``--client httpx``: httpx.AsyncClient), after a short warm-up. Prints one table:
requests per second, p50 and p99 latency, errors (anything but a 200), and the CPU
milliseconds per request spent by the server (all its processes) and by this load
generator, with the 1-minute load average at the start of
each run. On a shared machine the CPU per request is the steadier figure: requests per
second cannot exceed ``1000 * cores / (server_cpu_ms + client_cpu_ms)``. Without
MODEL_DIR, mf-bias is trained on ml-100k for 3 epochs first.

* ``known``: ``GET /users/{id}/recommendations?n=10`` for random known users;
* ``new``: ``POST /recommendations`` with 10 random ratings of the 300 most rated items, n=10
  (fold-in into the frozen model, with explanations).

The load generator runs on the same machine as the server and takes CPU from it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import httpx
import numpy as np
import psutil

from embrec.bundle import TrainedModel
from embrec.serving.local import free_port, wait_until_healthy

WARM_UP_REQUESTS = 20


@dataclass
class Result:
    kind: str
    concurrency: int
    requests: int
    seconds: float
    latencies_ms: np.ndarray
    errors: int
    server_cpu_s: float = float("nan")
    client_cpu_s: float = float("nan")
    load_average: float = float("nan")

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    def row(self) -> dict[str, float | int | str]:
        p50, p99 = (np.percentile(self.latencies_ms, [50, 99]) if len(self.latencies_ms)
                    else (float("nan"), float("nan")))
        return {"kind": self.kind, "concurrency": self.concurrency, "requests": self.requests,
                "seconds": round(self.seconds, 2), "rps": round(self.requests_per_second, 1),
                "p50_ms": round(float(p50), 1), "p99_ms": round(float(p99), 1),
                "errors": self.errors,
                "server_cpu_ms": round(1000 * self.server_cpu_s / max(1, self.requests), 2),
                "client_cpu_ms": round(1000 * self.client_cpu_s / max(1, self.requests), 2),
                "load_1m": round(self.load_average, 2)}


def cpu_seconds(process: psutil.Process | None) -> float:
    """User + system CPU seconds of ``process`` and its children (workers); NaN without one."""
    if process is None:
        return float("nan")
    total = 0.0
    for each in [process, *process.children(recursive=True)]:
        try:
            times = each.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


class Requests:
    """Random requests of one kind, reproducible from a seed."""

    def __init__(self, model: TrainedModel, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)
        self.users = model.user_ids.raw_ids
        popular = np.argsort(-model.train.item_counts(), kind="stable")[:300]
        self.items = model.item_ids.to_raw(popular)

    def make(self, kind: str) -> tuple[str, str, dict | None]:
        if kind == "known":
            user = self.users[self.rng.integers(len(self.users))]
            return "GET", f"/users/{user}/recommendations?n=10", None
        chosen = self.rng.choice(self.items, size=10, replace=False)
        ratings = {str(i): int(self.rng.integers(1, 6)) for i in chosen}
        return "POST", "/recommendations", {"ratings": ratings, "n": 10}


class LeanClient:
    """A minimal HTTP/1.1 keep-alive client: one connection per concurrent client.

    It writes each request in one ``send()`` and reads the status, ``Content-Length``
    and body, nothing else, so that on a machine it shares with the server it takes
    about a fifth of httpx's CPU per request (the ``client_cpu_ms`` column).
    """

    def __init__(self, url: str, concurrency: int) -> None:
        parsed = urlparse(url)
        self.host, self.port = parsed.hostname or "127.0.0.1", parsed.port or 80
        self.free: asyncio.Queue = asyncio.Queue()
        self.concurrency = concurrency

    async def __aenter__(self) -> LeanClient:
        for _ in range(self.concurrency):
            self.free.put_nowait(await asyncio.open_connection(self.host, self.port))
        return self

    async def __aexit__(self, *exc: object) -> None:
        while not self.free.empty():
            self.free.get_nowait()[1].close()

    async def request(self, method: str, path: str, json_body: dict | None) -> int:
        payload = b"" if json_body is None else json.dumps(json_body).encode()
        head = (f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n")
        reader, writer = await self.free.get()
        try:
            writer.write(head.encode() + payload)
            header = await reader.readuntil(b"\r\n\r\n")
            status = int(header[9:12])
            length = 0
            for line in header.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
        except BaseException:
            writer.close()
            self.free.put_nowait(await asyncio.open_connection(self.host, self.port))
            raise
        self.free.put_nowait((reader, writer))
        return status


class HttpxClient:
    """httpx's AsyncClient, as an application would use it."""

    def __init__(self, url: str, concurrency: int) -> None:
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        self.client = httpx.AsyncClient(base_url=url, timeout=30, limits=limits)

    async def __aenter__(self) -> HttpxClient:
        await self.client.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.client.__aexit__(*exc)

    async def request(self, method: str, path: str, json_body: dict | None) -> int:
        return (await self.client.request(method, path, json=json_body)).status_code


CLIENTS = {"lean": LeanClient, "httpx": HttpxClient}


async def run_load(url: str, requests: Requests, kind: str, concurrency: int, total: int,
                   seconds: float, server: psutil.Process | None = None,
                   client_kind: str = "lean") -> Result:
    """At most ``total`` requests within ``seconds`` from ``concurrency`` concurrent clients."""
    async with CLIENTS[client_kind](url, concurrency) as client:
        for _ in range(WARM_UP_REQUESTS):
            await client.request(*requests.make(kind))
        latencies: list[float] = []
        errors = 0
        sent = 0
        load_average = os.getloadavg()[0]
        server_cpu, client_cpu = cpu_seconds(server), time.process_time()
        started = time.perf_counter()
        deadline = started + seconds

        async def worker() -> None:
            nonlocal sent, errors
            while sent < total and time.perf_counter() < deadline:
                sent += 1
                method, path, body = requests.make(kind)
                begin = time.perf_counter()
                try:
                    ok = await client.request(method, path, body) == 200
                except (httpx.HTTPError, OSError, ValueError, asyncio.IncompleteReadError):
                    ok = False
                latencies.append((time.perf_counter() - begin) * 1000)
                errors += not ok

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
        server_cpu = cpu_seconds(server) - server_cpu
        client_cpu = time.process_time() - client_cpu
    return Result(kind, concurrency, len(latencies), elapsed, np.asarray(latencies), errors,
                  server_cpu, client_cpu, load_average)


def train_default_model(folder: Path) -> Path:
    from embrec.data.datasets import load_dataset
    from embrec.training.fit import fit

    print("training mf-bias on ml-100k (3 epochs) ...", file=sys.stderr)
    trained = fit(load_dataset("ml-100k"), "mf-bias", epochs=3, seed=0, threads=1,
                  verbose=False)
    return trained.save(folder / "mf-bias")


def start_server(model_dir: Path, db: Path, workers: int, threads: int) -> tuple[str, object]:
    port = free_port()
    command = [sys.executable, "-m", "embrec", "serve", str(model_dir), "--host", "127.0.0.1",
               "--port", str(port), "--db", str(db), "--workers", str(workers),
               "--threads", str(threads), "--log-level", "warning"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    wait_until_healthy(url, timeout=120, process=process)
    return url, process


def print_table(rows: list[dict], header: str) -> None:
    print(header)
    columns = ["kind", "concurrency", "requests", "seconds", "rps", "p50_ms", "p99_ms", "errors",
               "server_cpu_ms", "client_cpu_ms", "load_1m"]
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for row in rows:
        print("| " + " | ".join(str(row[c]) for c in columns) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir", nargs="?", type=Path)
    parser.add_argument("--url", help="an already running server on 127.0.0.1")
    parser.add_argument("--requests", type=int, default=1000, help="per kind and concurrency")
    parser.add_argument("--seconds", type=float, default=20.0, help="per kind and concurrency")
    parser.add_argument("--concurrency", default="8,32")
    parser.add_argument("--kinds", default="known,new")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1, help="torch threads per worker")
    parser.add_argument("--client", choices=sorted(CLIENTS), default="lean",
                        help="lean: a minimal keep-alive HTTP/1.1 client; httpx: httpx.AsyncClient")
    parser.add_argument("--json", action="store_true", help="also print the rows as JSON")
    args = parser.parse_args()
    if args.url and urlparse(args.url).hostname not in {"127.0.0.1", "localhost", "::1"}:
        parser.error("--url must be a loopback address (127.0.0.1)")
    if args.requests > 10_000 or args.seconds > 120:
        parser.error("at most 10000 requests and 120 seconds per run")

    with tempfile.TemporaryDirectory(prefix="embrec-load-") as scratch:
        model_dir = args.model_dir or train_default_model(Path(scratch))
        model = TrainedModel.load(model_dir)
        process = None
        url = args.url
        if url is None:
            url, process = start_server(model_dir, Path(scratch) / "ratings.sqlite",
                                        args.workers, args.threads)
        try:
            requests = Requests(model)
            server = None if process is None else psutil.Process(process.pid)
            rows = []
            for kind in args.kinds.split(","):
                for concurrency in (int(c) for c in args.concurrency.split(",")):
                    result = asyncio.run(run_load(url, requests, kind, concurrency,
                                                  args.requests, args.seconds, server,
                                                  args.client))
                    rows.append(result.row())
        finally:
            if process is not None:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=30)
    server = f"{args.workers} worker(s), {args.threads} torch thread(s) each, {args.client} client"
    if args.url:
        server = "external server"
    print_table(rows, f"embrec serve, {model.name} on {model.train.name} ({server}); "
                      f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores")
    if args.json:
        print(json.dumps(rows))


if __name__ == "__main__":
    main()
