from __future__ import annotations

from fastapi.testclient import TestClient


def test_healthz_reports_alive(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_reports_database_and_rubrics(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"database": "ok", "rubrics": "ok"}}


def test_readyz_is_503_when_the_database_is_unreachable(client: TestClient) -> None:
    client.app.state.engine.dispose()  # type: ignore[attr-defined]
    client.app.state.engine = _unreachable_engine(client)  # type: ignore[attr-defined]
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    body = response.json()
    assert body["status"] == "not ready"
    assert body["checks"]["database"].startswith("unavailable")


def _unreachable_engine(client: TestClient) -> object:
    from sqlalchemy import create_engine

    # Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
    return create_engine("postgresql+psycopg://nobody@127.0.0.1:9/none?connect_timeout=2")


def test_every_response_carries_a_request_id(client: TestClient) -> None:
    generated = client.get("/healthz").headers["x-request-id"]
    assert len(generated) == 32
    echoed = client.get("/healthz", headers={"X-Request-ID": "lms-abc.123"})
    assert echoed.headers["x-request-id"] == "lms-abc.123"
    unsafe = client.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces"})
    assert unsafe.headers["x-request-id"] != "bad id\twith spaces"


def test_openapi_docs_are_served(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/v1/questions", "/v1/questions/{question_id}", "/v1/submissions"} <= set(paths)
