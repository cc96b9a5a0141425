"""LTI tests: the service on a loopback port (its worker delivering scores) and a real LTI
1.3 platform (tests/lti/platform.py, built on lti1p3platform) on another, talking to each
other over real HTTP. A test's ``agent`` is an httpx client with its own cookies."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import pytest
from sqlalchemy import Engine, func, select

from service.config import Settings
from tests.conftest import ADMIN_KEY, auth
from tests.lti.platform import LtiBrowser, LtiPlatform
from tests.support.live import live_service

T = TypeVar("T")
WAIT_SECONDS = 60.0  # a cap, not a measure: a loaded machine delivers late


@dataclass
class Tool:
    base_url: str
    api: httpx.Client  # the bootstrap admin of the default organisation
    engine: Engine

    def client(self, key: str | None = None) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, headers=auth(key) if key else {}, timeout=30)

    def count(self, model: Any) -> int:
        with self.engine.connect() as connection:
            return int(connection.scalar(select(func.count()).select_from(model)) or 0)


@pytest.fixture
def tool(settings: Settings, clean_engine: Engine) -> Iterator[Tool]:
    with live_service(settings) as (base_url, _app):
        api = httpx.Client(base_url=base_url, headers=auth(ADMIN_KEY), timeout=30)
        try:
            yield Tool(base_url=base_url, api=api, engine=clean_engine)
        finally:
            api.close()


def register_manually(tool: Tool, platform: LtiPlatform, api: httpx.Client | None = None) -> str:
    """The admin pastes the platform's values into our API; returns the platform's id."""
    response = (api or tool.api).post(
        "/v1/lti/platforms",
        json={
            "name": "Test LMS",
            "issuer": platform.issuer,
            "client_id": platform.client_id,
            "auth_login_url": platform.auth_login_url,
            "token_url": platform.token_url,
            "jwks_url": platform.jwks_url,
            "deployment_ids": [platform.deployment_id],
        },
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


@pytest.fixture
def platform(tool: Tool) -> Iterator[LtiPlatform]:
    """A platform that knows the tool and that the tool knows (manual registration)."""
    with LtiPlatform.start() as lms:
        lms.register_tool(tool.base_url)
        register_manually(tool, lms)
        yield lms


@pytest.fixture
def agent() -> Iterator[httpx.Client]:
    """Cookies as Chrome keeps them (SameSite, Secure): see tests/lti/platform.py."""
    with LtiBrowser(timeout=30) as client:
        yield client


def wait_for(probe: Callable[[], T | None], what: str, timeout: float = WAIT_SECONDS) -> T:
    """Poll ``probe`` until it returns something (the worker delivers in the background)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
