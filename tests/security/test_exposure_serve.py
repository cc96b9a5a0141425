"""``python -m service serve`` honours GRADER_FORWARDED_ALLOW_IPS (uvicorn alone would trust
X-Forwarded-For from loopback by default) and builds links from trusted hosts only.

Real server subprocesses on 127.0.0.1; every request goes to that address.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from sqlalchemy import Engine

from tests.conftest import ADMIN_KEY, auth
from tests.support.server import ServerProcess, create_integration_key, service_env

UNKNOWN_KEY = auth("grk_not-a-real-key-000000000000000000000000")


@contextmanager
def serving(database_url: str, log: Path, **settings: str) -> Iterator[ServerProcess]:
    env = service_env(
        database_url,
        {
            "GRADER_BOOTSTRAP_ADMIN_KEY": ADMIN_KEY,
            "GRADER_WORKER_ENABLED": "false",
            "GRADER_RATE_LIMIT_FAILED_AUTH": "3/day",
            # uvicorn reads this itself when its proxy handling is on: it must not matter.
            "FORWARDED_ALLOW_IPS": "*",
            **{f"GRADER_{name.upper()}": value for name, value in settings.items()},
        },
    )
    server = ServerProcess(env, log)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def failed_auth_statuses(server: ServerProcess, forwarded_for: list[str]) -> list[int]:
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        return [
            http.get("/v1/questions", headers={**UNKNOWN_KEY, "X-Forwarded-For": ip}).status_code
            for ip in forwarded_for
        ]


def test_serve_trusts_no_proxy_by_default_and_links_ignore_the_host(
    database_url: str, clean_engine: Engine, tmp_path: Path
) -> None:
    with serving(database_url, tmp_path / "server.log") as server:
        key = create_integration_key(server.base_url, admin_key=ADMIN_KEY, name="LMS")
        response = httpx.post(
            f"{server.base_url}/v1/submissions",
            json={"question_id": "backchannel-q1", "learner_id": "s1", "answer": "In secret."},
            headers={**auth(key), "Host": "evil.example"},
            timeout=30,
        )
        assert response.status_code == 201, response.text
        token = response.json()["feedback_url"].rsplit("/", 1)[1]
        assert response.json()["feedback_url"] == (
            f"http://127.0.0.1:{server.port}/v1/feedback/{token}"
        )
        spoofed = [f"198.51.100.{n}" for n in range(4)]
        assert failed_auth_statuses(server, spoofed) == [401, 401, 401, 429]


def test_serve_honours_forwarded_allow_ips(
    database_url: str, clean_engine: Engine, tmp_path: Path
) -> None:
    with serving(database_url, tmp_path / "server.log", forwarded_allow_ips="127.0.0.1") as server:
        distinct = [f"198.51.100.{n}" for n in range(4)]
        assert failed_auth_statuses(server, distinct) == [401, 401, 401, 401]
        assert failed_auth_statuses(server, ["198.51.100.9"] * 4) == [401, 401, 401, 429]
