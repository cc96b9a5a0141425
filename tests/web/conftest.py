"""Helpers for page tests: a TestClient signed in to the console through its own form."""

from __future__ import annotations

import re

from fastapi import FastAPI
from fastapi.testclient import TestClient

_TOKEN = re.compile(r'name="csrftoken" value="([^"]+)"')


def csrf_of(client: TestClient, path: str) -> str:
    """The CSRF token of the form on ``path`` (the page sets its cookie)."""
    page = client.get(path)
    assert page.status_code == 200, page.text
    found = _TOKEN.search(page.text)
    assert found, f"no CSRF field on {path}"
    return found[1]


def console_client(app: FastAPI, key: str) -> TestClient:
    """A browser-like client (no bearer header) signed in with ``key``."""
    client = TestClient(app)
    token = csrf_of(client, "/console/sign-in")
    response = client.post(
        "/console/sign-in", data={"key": key, "csrftoken": token}, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    return client
