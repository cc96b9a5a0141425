"""The last-admin guard under real concurrency: two admins of one organisation revoke each
other at the same moment, through a real server process, and exactly one admin is left.

Each round uses a fresh organisation (created by the bootstrap key, the deployment's
operator) whose first admin creates a second one; then both send their DELETE at once,
released by a barrier over already-open connections so that the two requests overlap.

What the loser sees depends on how far the winner got: on PostgreSQL both requests pass
authentication in parallel and meet at the organisation's row lock, so the second one
counts the admins after the first committed and gets 409. On SQLite every write transaction
begins IMMEDIATE: a loser whose key is read from the database waits for the winner's commit
and finds its own key revoked (401); one whose key was authenticated moments before (the
per-process key cache, at most GRADER_KEY_CACHE_SECONDS old) meets the winner at the write
lock and then counts the admins (409). Either way, never two 200s.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.conftest import ADMIN_KEY, auth
from tests.support.server import ServerProcess

ROUNDS = 5


def _admin_pair(base_url: str, round_number: int) -> tuple[dict[str, str], dict[str, str]]:
    """A new organisation's first admin and a second admin it creates: (id, key) of each."""
    created = httpx.post(
        f"{base_url}/v1/organizations",
        json={"id": f"race-{round_number}", "name": f"Race {round_number}"},
        headers=auth(ADMIN_KEY),
        timeout=30,
    )
    assert created.status_code == 201, created.text
    first = created.json()["admin_key"]
    second = httpx.post(
        f"{base_url}/v1/keys",
        json={"name": "second admin", "role": "admin"},
        headers=auth(first["key"]),
        timeout=30,
    )
    assert second.status_code == 201, second.text
    return first, second.json()


def _revoke_each_other(base_url: str, a: dict[str, str], b: dict[str, str]) -> list[int]:
    """a revokes b while b revokes a; the statuses of a's and b's requests."""
    barrier = threading.Barrier(2, timeout=30)
    clients = [httpx.Client(base_url=base_url, headers=auth(k["key"]), timeout=30) for k in (a, b)]

    def revoke(client: httpx.Client, victim_id: str) -> int:
        assert client.get("/healthz").status_code == 200  # the connection is open before the race
        barrier.wait()
        return client.delete(f"/v1/keys/{victim_id}").status_code

    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            futures = [
                pool.submit(revoke, clients[0], b["id"]),
                pool.submit(revoke, clients[1], a["id"]),
            ]
            return [future.result(timeout=60) for future in futures]
    finally:
        for client in clients:
            client.close()


def _active_admins(base_url: str, key: str, organization: str) -> list[str]:
    keys = httpx.get(f"{base_url}/v1/keys", headers=auth(key), timeout=30)
    assert keys.status_code == 200, keys.text
    items = keys.json()["items"]
    assert {item["organization_id"] for item in items} == {organization}
    return [item["id"] for item in items if item["role"] == "admin" and item["revoked_at"] is None]


def test_two_admins_revoking_each_other_leave_exactly_one(server: ServerProcess) -> None:
    base_url = server.base_url
    losers: list[int] = []
    for round_number in range(ROUNDS):
        a, b = _admin_pair(base_url, round_number)
        statuses = _revoke_each_other(base_url, a, b)
        assert sorted(statuses) in ([200, 401], [200, 409]), (statuses, server.log_tail())
        winner = (a, b)[statuses.index(200)]
        survivors = _active_admins(base_url, winner["key"], f"race-{round_number}")
        assert survivors == [winner["id"]]
        losers.append(max(statuses))
    if server.env["GRADER_DATABASE_URL"].startswith("postgresql"):
        # Both requests were in flight together and the row lock decided (not timing).
        assert 409 in losers, losers
