"""Schemathesis against the service's own OpenAPI document, in process, on the real database.

For every operation, cases are generated from the schema (valid ones, invalid ones, and
valid ones aimed at objects that exist), each sent as every role and without a key. No
response may be a 5xx, and every response must match the schema (body, content type).
Bounded and derandomized, so CI is deterministic and fast: the same cases on every run.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
)
from schemathesis.generation import GenerationMode
from schemathesis.schemas import APIOperation

from service.config import Settings
from service.main import create_app
from tests.conftest import ADMIN_KEY, client_as, create_key
from tests.factories import submit

# Examples per operation; each is sent once per caller (4), so ~25 operations x 4 x this.
MAX_EXAMPLES = 20
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]

# The document only: this app is never started and never touches a database.
SCHEMA = schemathesis.openapi.from_dict(create_app(Settings(database_url="sqlite://")).openapi())
OPERATIONS: list[APIOperation[Any, Any, Any, Any]] = [
    result.ok()  # type: ignore[union-attr]  # an invalid schema fails loudly here
    for result in SCHEMA.get_all_operations()
]


@pytest.fixture
def world(client: TestClient, app: FastAPI) -> dict[str, Any]:
    """A caller per role, and real objects for path parameters to point at."""
    integration = create_key(client, "integration")
    lms = client_as(app, integration)
    submission = submit(lms, "They negotiated secretly through a backchannel.")
    job = client.post("/v1/questions/backchannel-q1/rescore").json()
    spare = client.post("/v1/keys", json={"name": "spare", "role": "instructor"}).json()
    return {
        "callers": {
            "admin": client_as(app, ADMIN_KEY),
            "instructor": client_as(app, create_key(client, "instructor")),
            "integration": lms,
            "anonymous": client_as(app, None),
        },
        "path_parameters": {
            "question_id": "backchannel-q1",
            "submission_id": submission["id"],
            "job_id": job["id"],
            "key_id": spare["id"],
            "token": submission["feedback_url"].rsplit("/", 1)[1],
        },
    }


def send(caller: TestClient, kwargs: dict[str, Any]) -> Any:
    """requests-style keyword arguments (what schemathesis produces) to the TestClient."""
    headers = {k: v for k, v in kwargs.get("headers", {}).items() if k.lower() != "authorization"}
    if "authorization" in caller.headers:
        headers["Authorization"] = caller.headers["authorization"]
    request: dict[str, Any] = {
        "method": kwargs["method"],
        "url": kwargs["url"],
        "headers": headers,
        "params": kwargs.get("params"),
        "cookies": kwargs.get("cookies") or None,
    }
    if "json" in kwargs:
        request["json"] = kwargs["json"]
    data = kwargs.get("data")
    if isinstance(data, str | bytes):
        request["content"] = data
    elif data is not None:
        request["data"] = data
    if kwargs.get("files"):
        request["files"] = kwargs["files"]
    # Callers are plain clients without a default Authorization once it is handled here.
    plain = TestClient(caller.app)
    return plain.request(**request)


@pytest.mark.parametrize("operation", OPERATIONS, ids=[op.label for op in OPERATIONS])
def test_no_server_errors_and_responses_match_the_schema(
    world: dict[str, Any], operation: APIOperation[Any, Any, Any, Any]
) -> None:
    known = {
        name: value
        for name, value in world["path_parameters"].items()
        if name in operation.path_parameters
    }
    strategy = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
        operation.as_strategy(GenerationMode.POSITIVE, path_parameters=known),
    )

    @given(case=strategy)
    @settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any) -> None:
        for caller in world["callers"].values():
            kwargs = case.as_transport_kwargs(base_url="http://testserver")
            case.validate_response(send(caller, kwargs), checks=CHECKS)

    check()
