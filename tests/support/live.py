"""The service in this process, served by uvicorn on a free 127.0.0.1 port in a thread: for
tests where something outside the test client must reach it over real HTTP (a browser, an
LTI platform fetching its key set)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI

from service.config import Settings
from service.main import create_app
from tests.support.server import free_port

STARTUP_TIMEOUT_SECONDS = 30.0


@contextmanager
def serving(app: Any, port: int) -> Iterator[None]:
    """Serve ``app`` on 127.0.0.1:``port`` until the block ends."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the live server did not start")
        time.sleep(0.02)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@contextmanager
def live_service(settings: Settings, **overrides: Any) -> Iterator[tuple[str, FastAPI]]:
    """The service with its background worker on (jobs and outbox deliveries run as in
    production); yields its base URL and the app."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    app = create_app(
        settings.model_copy(
            update={
                "worker_enabled": True,
                "worker_poll_seconds": 0.1,
                "public_base_url": base_url,
                "port": port,
                **overrides,
            }
        )
    )
    with serving(app, port):
        yield base_url, app
