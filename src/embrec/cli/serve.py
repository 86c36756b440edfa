"""``embrec serve``: the HTTP API and the web page of one model bundle, run by uvicorn."""

from __future__ import annotations

import ipaddress
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from embrec.cli.options import ScoreDeviceOpt
from embrec.errors import ConfigError

LOOPBACK_NAMES = {"localhost"}


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve_command(
    model_dir: Annotated[Path, typer.Argument(help="A model bundle saved by `embrec train`.")],
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8000,
    db: Annotated[
        Path | None,
        typer.Option("--db", help="SQLite file keeping the ratings people give (created on first "
                                  "use); without it the server keeps none."),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option("--token", envvar="EMBREC_TOKEN", show_envvar=True,
                     help="Bearer token that writes (storing ratings) must carry."),
    ] = None,
    workers: Annotated[
        int, typer.Option("--workers", help="Server processes (each loads the model).")
    ] = 1,
    threads: Annotated[
        int, typer.Option("--threads", help="Torch threads per process; one request's scoring "
                                            "is small, so more rarely help.")
    ] = 1,
    max_body_bytes: Annotated[
        int, typer.Option("--max-body-bytes", help="Largest request body accepted.")
    ] = 64 * 1024,
    log_level: Annotated[str, typer.Option("--log-level", help="uvicorn log level.")] = "info",
    device: ScoreDeviceOpt = "cpu",
) -> None:
    """Serve a model: JSON API (OpenAPI at /docs), the web page at /, a durable rating store."""
    import uvicorn

    from embrec.serving.app import (
        ENVIRONMENT_KEYS,
        app_from_environment,
        create_app,
        limit_threads,
    )
    from embrec.serving.protocol import HTTP_PROTOCOL
    from embrec.serving.schemas import Limits

    if not 0 < port < 65536:
        raise ConfigError(f"--port {port} is not a TCP port (1..65535)")
    if workers < 1:
        raise ConfigError(f"--workers {workers} must be at least 1")
    try:
        limits = Limits(max_body_bytes=max_body_bytes)
    except ValueError:
        raise ConfigError(f"--max-body-bytes {max_body_bytes} must be positive") from None
    if threads < 1:
        raise ConfigError(f"--threads {threads} must be at least 1")
    app = create_app(model_dir, db_path=db, token=token, limits=limits, warm_up=False,
                     device=device)
    service = app.state.service
    if workers == 1:
        limit_threads(threads)
        service.warm_up()
    where = f"http://{host}:{port}"
    stored = f"ratings stored in {db}" if db else "ratings are not stored (pass --db PATH)"
    print(
        f"serving {service.model.name} ({service.model.train.name}, {len(service.catalogue):,} "
        f"items) on {where}: web page at {where}/, API docs at {where}/docs; {stored}",
        file=sys.stderr,
    )
    if not token and db and not is_loopback(host):
        print("embrec: warning: anyone who can reach this address can store and read ratings; "
              "set --token or EMBREC_TOKEN", file=sys.stderr)
    if workers == 1:
        uvicorn.run(app, host=host, port=port, log_level=log_level, http=HTTP_PROTOCOL,
                    timeout_graceful_shutdown=5)
        return
    if service.store is not None:
        service.store.close()
    del app, service
    settings = {"model_dir": model_dir, "db": db or "", "token": token or "",
                "max_body_bytes": max_body_bytes, "threads": threads, "device": device}
    for key, value in settings.items():
        os.environ[ENVIRONMENT_KEYS[key]] = str(value)
    uvicorn.run(f"{app_from_environment.__module__}:{app_from_environment.__name__}",
                factory=True, host=host, port=port, workers=workers, log_level=log_level,
                http=HTTP_PROTOCOL, timeout_graceful_shutdown=5)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_command)
