"""Fixtures: a real, migrated database (SQLite file by default, PostgreSQL when
``GRADER_TEST_DATABASE_URL`` is set) and an HTTP client on the real app.

Isolation is by emptying every table before each test rather than by rolling back an outer
transaction: the app then runs its own session dependency and commits for real, so tests
see the same commit behaviour as production, and tests that restart the app or use several
connections see committed data. Rubric files are re-imported by the app's startup.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine, text

from service.__main__ import alembic_config
from service.config import Settings
from service.db.base import Base
from service.db.session import make_engine
from service.domain.callbacks import destinations
from service.main import create_app

PROJECT_ROOT = Path(__file__).resolve().parent.parent
RUBRICS_DIR = PROJECT_ROOT / "rubrics"
SEED_QUESTION_IDS = ["backchannel-q1", "backchannel-q2", "backchannel-q3"]
# The first admin key, as a deployer would set it with GRADER_BOOTSTRAP_ADMIN_KEY.
ADMIN_KEY = "grk_test-admin-key-0123456789abcdefghijklmnop"


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("GRADER_TEST_DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


def reset_schema(engine: Engine) -> None:
    """Start from an empty database so every run tests the migrations from scratch."""
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        else:
            for table in reversed(Base.metadata.sorted_tables):
                connection.execute(text(f'DROP TABLE IF EXISTS "{table.name}"'))
            connection.execute(text("DROP TABLE IF EXISTS alembic_version"))


def migrate(url: str) -> None:
    config = alembic_config(url)
    config.attributes["configure_logger"] = False
    command.upgrade(config, "head")


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    reset_schema(engine)
    migrate(database_url)
    yield engine
    engine.dispose()


def empty_tables(engine: Engine) -> None:
    with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())


@pytest.fixture
def clean_engine(engine: Engine) -> Engine:
    empty_tables(engine)
    return engine


@pytest.fixture
def settings(database_url: str, clean_engine: Engine) -> Settings:
    # The background worker is off so tests decide when jobs and callbacks run; the tests
    # of the worker itself turn it on. Callbacks may go to plain http on 127.0.0.1 only:
    # the tests' own receivers (every other private or loopback address stays refused).
    return Settings(
        database_url=database_url,
        rubrics_dir=RUBRICS_DIR,
        bootstrap_admin_key=SecretStr(ADMIN_KEY),
        worker_enabled=False,
        callback_base_delay_seconds=0,
        callback_allow_http=True,
        callback_allowed_hosts="127.0.0.1/32",
        # The TestClient's Host: links are built from trusted hosts only.
        trusted_hosts="127.0.0.1,localhost,testserver",
    )


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    """The app, started (lifespan run), acting as the bootstrap admin."""
    with TestClient(app, headers=auth(ADMIN_KEY)) as test_client:
        yield test_client


def create_key(
    client: TestClient,
    role: str,
    name: str | None = None,
    *,
    courses: list[str] | None = None,
    admin_key: str = ADMIN_KEY,
) -> str:
    """A key of the admin's organisation; instructors get the default course unless
    ``courses`` says otherwise."""
    body: dict[str, object] = {"name": name or f"{role} key", "role": role}
    if role == "instructor":
        body["course_ids"] = ["default"] if courses is None else courses
    response = client.post("/v1/keys", json=body, headers=auth(admin_key))
    assert response.status_code == 201, response.text
    key: str = response.json()["key"]
    return key


def client_as(app: FastAPI, key: str | None) -> TestClient:
    """Another client on the already started app (it shares the app's state)."""
    return TestClient(app, headers=auth(key) if key else {})


@pytest.fixture
def anon(client: TestClient, app: FastAPI) -> TestClient:
    return client_as(app, None)


@pytest.fixture
def lms(client: TestClient, app: FastAPI) -> TestClient:
    """An LMS integration."""
    return client_as(app, create_key(client, "integration", "LMS one"))


@pytest.fixture
def other_lms(client: TestClient, app: FastAPI) -> TestClient:
    return client_as(app, create_key(client, "integration", "LMS two"))


@pytest.fixture
def instructor(client: TestClient, app: FastAPI) -> TestClient:
    return client_as(app, create_key(client, "instructor", "Ms Rivera"))


def _needs_no_dns(host: str) -> bool:
    """An address in any notation the resolver reads itself, or the hosts-file localhost."""
    if host == "localhost":
        return True
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            if family == socket.AF_INET:
                socket.inet_aton(host)  # 2130706433, 0x7f.1, 127.1 ... as getaddrinfo reads them
            else:
                socket.inet_pton(family, host)
        except OSError:
            continue
        return True
    return False


@pytest.fixture(autouse=True)
def no_dns_queries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Callback URLs are resolved by our destination check. In tests only names that need no
    DNS server resolve, so no test (schemathesis's generated URLs included) can send a query
    off this machine; tests that need a name give it an address with their own fake."""
    real = destinations.resolve_host

    def resolve(host: str, port: int) -> list[str]:
        if _needs_no_dns(host):
            return real(host, port)
        raise socket.gaierror(socket.EAI_NONAME, "tests resolve no names through DNS")

    monkeypatch.setattr(destinations, "resolve_host", resolve)
