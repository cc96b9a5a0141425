"""What the HTTP benchmarks share: a throwaway database, the service's environment, a lean
keep-alive HTTP/1.1 client, and progress lines on stderr.

The processes themselves (``python -m service serve`` / ``worker`` on loopback, bounded
start-up, logs to files) come from ``tests.support.server``, as the reliability tests use.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.support.server import run_command, service_env

ADMIN_KEY = "grk_bench-admin-key-0123456789abcdefghijklmnopq"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def progress(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def is_loopback_url(database_url: str) -> bool:
    return make_url(database_url).host in LOOPBACK_HOSTS


def reset_postgres(url: str) -> None:
    """DROP and recreate the ``public`` schema: the database must be a throwaway one."""
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    finally:
        engine.dispose()


def add_database_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--postgres-url", help="throwaway PostgreSQL database (schema reset)")
    parser.add_argument("--skip-sqlite", action="store_true")


def databases(
    parser: argparse.ArgumentParser, args: argparse.Namespace, workdir: Path
) -> dict[str, str]:
    """The databases to measure, by name: a fresh SQLite file in ``workdir`` unless
    ``--skip-sqlite``, and the ``--postgres-url`` one (loopback only) with its schema reset."""
    chosen: dict[str, str] = {}
    if not args.skip_sqlite:
        chosen["sqlite"] = f"sqlite:///{workdir / 'bench.db'}"
    if args.postgres_url:
        if not is_loopback_url(args.postgres_url):
            parser.error("the benchmark only runs against a loopback database")
        reset_postgres(args.postgres_url)
        chosen["postgresql"] = args.postgres_url
    return chosen


def migrated_env(database_url: str, extra: dict[str, str]) -> dict[str, str]:
    """The environment of the benchmark's service processes (the bootstrap admin key set),
    after ``python -m service migrate`` has run on ``database_url`` with it."""
    env = service_env(database_url, {"GRADER_BOOTSTRAP_ADMIN_KEY": ADMIN_KEY, **extra})
    run_command(["migrate"], env)
    return env


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]  # names in lower case
    body: bytes


class Connection:
    """One keep-alive HTTP/1.1 connection: enough protocol for JSON POSTs to uvicorn.

    Used instead of httpx because it shares the machine with the server, and the less CPU
    the load generator takes, the more the figures describe the server.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, path: str, headers: dict[str, str], body: bytes) -> Response:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        head = [f"POST {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        head += [f"{name}: {value}" for name, value in headers.items()]
        head += ["Content-Type: application/json", f"Content-Length: {len(body)}", "", ""]
        self.writer.write("\r\n".join(head).encode() + body)
        status_line = await self.reader.readline()
        status = int(status_line.split()[1])
        received: dict[str, str] = {}
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            received[name.strip().lower()] = value.strip()
        content = await self.reader.readexactly(int(received.get("content-length", "0")))
        if received.get("connection", "").lower() == "close":
            await self.close()
        return Response(status, received, content)

    async def post(self, path: str, headers: dict[str, str], body: bytes) -> int:
        return (await self.request(path, headers, body)).status

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
            self.reader = self.writer = None
