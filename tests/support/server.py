"""Run ``python -m service ...`` as real subprocesses on loopback, for reliability tests and
the HTTP benchmark.

Every wait is bounded; output goes to a log file (never a pipe that could fill up and block
the child), and the tail of that log is put into any failure message.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

PROJECT_ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_SECONDS = 60.0


def free_port() -> int:
    """A port nothing listens on right now (the kernel picks it; loopback only)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def service_env(database_url: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a service process: this one's, minus any GRADER_* settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRADER_")}
    env.update(
        {
            "GRADER_DATABASE_URL": database_url,
            "GRADER_RUBRICS_DIR": str(PROJECT_ROOT / "rubrics"),
            "GRADER_LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra or {})
    return env


def create_integration_key(base_url: str, *, admin_key: str, name: str) -> str:
    """A new integration key, created through the API by the bootstrap admin."""
    response = httpx.post(
        f"{base_url}/v1/keys",
        json={"name": name, "role": "integration"},
        headers={"Authorization": f"Bearer {admin_key}"},
        timeout=30,
    )
    response.raise_for_status()
    key: str = response.json()["key"]
    return key


def run_command(args: list[str], env: Mapping[str, str], timeout: float = 120.0) -> str:
    """``python -m service <args>`` to completion; its output, or an error with the output."""
    done = subprocess.run(
        [sys.executable, "-m", "service", *args],
        cwd=PROJECT_ROOT,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"python -m service {' '.join(args)} failed:\n{done.stderr[-4000:]}")
    return done.stdout


class ServiceProcess:
    """One ``python -m service <command>`` child process with its own log file."""

    def __init__(self, args: list[str], env: Mapping[str, str], log_path: Path) -> None:
        self.args = args
        self.env = dict(env)
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None, "already running"
        with self.log_path.open("ab") as log:
            log.write(f"--- start: python -m service {' '.join(self.args)}\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                [sys.executable, "-m", "service", *self.args],
                cwd=PROJECT_ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, in-flight transactions are simply cut off."""
        if self.process is not None and self.process.poll() is None:
            # The whole process group: ``serve --workers N`` has worker children.
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM and wait; SIGKILL if it does not exit in time."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except FileNotFoundError:
            return "(no log)"


class ServerProcess(ServiceProcess):
    """``python -m service serve`` on a free loopback port; ``restart`` picks a new port."""

    def __init__(
        self, env: Mapping[str, str], log_path: Path, *, workers: int = 1, port: int | None = None
    ) -> None:
        self.port = port or free_port()
        self.workers = workers
        super().__init__(self._serve_args(), env, log_path)

    def _serve_args(self) -> list[str]:
        return ["serve", "--host", "127.0.0.1", "--port", str(self.port)]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.args = [*self._serve_args(), "--workers", str(self.workers)]
        super().start()
        self.wait_ready()

    def restart(self) -> None:
        self.port = free_port()
        self.start()

    def wait_ready(self, timeout: float = STARTUP_TIMEOUT_SECONDS) -> None:
        """Until GET /readyz answers 200 (bounded); fail with the server's log otherwise."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running():
                raise RuntimeError(f"server exited during startup:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.base_url}/readyz", timeout=2.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server not ready after {timeout:.0f}s:\n{self.log_tail()}")
