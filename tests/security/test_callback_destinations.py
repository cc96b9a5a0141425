"""Callbacks cannot reach inside: private destinations are refused in every notation, at
registration and at every delivery, without a connection ever being opened to them.

No test here sends anything anywhere but 127.0.0.1: refusals are proved with socket
connects that fail the test, and a host "moving" to a private address is simulated by
replacing our own resolver function (``destinations.resolve_host``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import ipaddress
import socket
import ssl
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import trustme
from fastapi.testclient import TestClient
from pydantic import ValidationError
from standardwebhooks import Webhook

from service.config import Settings
from service.domain.callbacks import destinations
from service.domain.callbacks.destinations import DestinationPolicy, DestinationRefused
from service.domain.callbacks.service import deliver_due
from service.main import create_app
from service.worker import policies
from tests.conftest import ADMIN_KEY, auth, client_as, create_key
from tests.factories import submit
from tests.support.receiver import Receiver

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw8yF1vW0eTzU="
PUBLIC = "93.184.216.34"  # only ever returned by a fake resolver; never connected to

LOOPBACK = "it resolves to a loopback address"
PRIVATE = "it resolves to a private address"
LINK_LOCAL = "it resolves to a link-local address"
# (URL as an integration would send it, the reason the 422 names)
REFUSED = [
    ("http://127.0.0.1:8000/", LOOPBACK),
    ("http://127.0.0.2/", LOOPBACK),
    ("http://2130706433/", LOOPBACK),  # decimal
    ("http://017700000001/", LOOPBACK),  # octal, one number
    ("http://0177.0.0.1/", LOOPBACK),  # octal
    ("http://0x7f.1/", LOOPBACK),  # hex, short form
    ("http://0x7f000001/", LOOPBACK),  # hex
    ("http://127.1/", LOOPBACK),  # short form
    ("http://localhost/", LOOPBACK),
    ("http://localhost./", LOOPBACK),  # trailing dot
    ("http://LOCALHOST:8000/", LOOPBACK),
    ("http://127.0.0.%31/", LOOPBACK),  # percent-encoded host
    ("http://[::1]/", LOOPBACK),
    ("http://[0:0:0:0:0:0:0:1]/", LOOPBACK),
    ("http://[::ffff:127.0.0.1]/", "it resolves to an IPv6 form of a loopback address"),
    ("http://[::ffff:7f00:1]/", "it resolves to an IPv6 form of a loopback address"),
    ("http://[::127.0.0.1]/", "it resolves to an IPv6 form of a loopback address"),
    ("http://[::ffff:10.0.0.1]/", "it resolves to an IPv6 form of a private address"),
    ("http://[2002:a00:1::]/", "it resolves to an IPv6 form of a private address"),  # 6to4
    ("http://[64:ff9b::a9fe:a9fe]/", "it resolves to an IPv6 form of a link-local address"),
    ("http://169.254.169.254/latest/meta-data/", LINK_LOCAL),  # cloud metadata
    ("http://0xa9fea9fe/", LINK_LOCAL),
    ("http://2852039166/", LINK_LOCAL),
    ("http://[fe80::1]/", LINK_LOCAL),
    ("http://10.0.0.1/", PRIVATE),
    ("http://012.0.0.1/", PRIVATE),  # octal 10.0.0.1
    ("http://172.16.5.4/", PRIVATE),
    ("http://172.31.255.255/", PRIVATE),
    ("http://192.168.0.1/", PRIVATE),
    ("http://100.64.0.1/", "it resolves to a shared (carrier-grade NAT) address"),
    ("http://100.127.255.254/", "it resolves to a shared (carrier-grade NAT) address"),
    ("http://224.0.0.1/", "it resolves to a multicast address"),
    ("http://[ff02::1]/", "it resolves to a multicast address"),
    ("http://240.0.0.1/", "it resolves to a reserved address"),
    ("http://0.0.0.0/", "it resolves to an unspecified address"),
    ("http://0/", "it resolves to an unspecified address"),
    ("http://[::]/", "it resolves to an unspecified address"),
    ("http://255.255.255.255/", "it resolves to a broadcast address"),
    ("http://[fd12:3456::1]/", "it resolves to a unique-local address"),
    ("http://[fc00::1]/", "it resolves to a unique-local address"),
    ("http://198.18.0.1/", "it resolves to a non-public address"),
    ("http://user:pass@example.org/", "it must not contain a user name or password"),
    ("http://user@127.0.0.1/", "it must not contain a user name or password"),
]


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every outgoing connection attempt; each one fails (so none can leave the machine)."""
    attempts: list[Any] = []

    def refuse(*args: Any, **kwargs: Any) -> Any:
        attempts.append(args[1] if len(args) > 1 else args)
        raise OSError("the test forbids connecting")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    return attempts


@pytest.fixture
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Names our resolver answers from this table; address literals resolve as themselves;
    other names fail (no real DNS query)."""
    table: dict[str, list[str]] = {}
    real_resolve = destinations.resolve_host

    def resolve(host: str, port: int) -> list[str]:
        with contextlib.suppress(ValueError):
            return real_resolve(str(ipaddress.ip_address(host)), port)
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "not in the test's table")
        return table[host]

    monkeypatch.setattr(destinations, "resolve_host", resolve)
    return table


def app_client(settings: Settings, **changes: Any) -> Iterator[TestClient]:
    app = create_app(settings.model_copy(update=changes))
    with TestClient(app, headers=auth(ADMIN_KEY)) as admin:
        yield client_as(app, create_key(admin, "integration"))


@pytest.fixture
def strict_lms(settings: Settings) -> Iterator[TestClient]:
    """An integration on a deployment with no allowlist (http allowed, to reach the checks)."""
    yield from app_client(settings, callback_allowed_hosts="")


@pytest.fixture
def default_lms(settings: Settings) -> Iterator[TestClient]:
    """An integration on a deployment with the default destination settings."""
    yield from app_client(settings, callback_allowed_hosts="", callback_allow_http=False)


def put(lms: TestClient, url: str) -> Any:
    return lms.put("/v1/callback", json={"url": url, "secret": SECRET})


def assert_refused(response: Any, reason: str) -> None:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "callback_refused"
    assert body["detail"] == f"The callback URL is refused: {reason}."


@pytest.mark.parametrize(("url", "reason"), REFUSED)
def test_registration_refuses_private_destinations_without_connecting(
    strict_lms: TestClient, connections: list[Any], url: str, reason: str
) -> None:
    assert_refused(put(strict_lms, url), reason)
    assert strict_lms.get("/v1/callback").json() == {"url": None, "configured": False}
    assert connections == []


@pytest.mark.parametrize(("url", "reason"), REFUSED)
def test_the_policy_checks_what_the_resolver_makes_of_every_notation(
    connections: list[Any], url: str, reason: str
) -> None:
    """The raw notation, not a URL library's normalised form, through our own check."""
    with pytest.raises(DestinationRefused) as refused:
        DestinationPolicy(allow_http=True).check(url)
    assert refused.value.reason == reason
    assert connections == []


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://[fe80::1%25eth0]/", "it must not contain an IPv6 zone id"),
        ("http://[fe80::1%eth0]/", "it must not contain an IPv6 zone id"),
        ("gopher://127.0.0.1/", "only http and https URLs are allowed"),
        ("file:///etc/passwd", "only http and https URLs are allowed"),
        ("http:///nohost", "it has no host"),
        ("http://127.0.0.1:99999/", "it is not a valid URL"),
    ],
)
def test_zone_ids_other_schemes_and_broken_urls_are_refused(
    strict_lms: TestClient, connections: list[Any], url: str, reason: str
) -> None:
    with pytest.raises(DestinationRefused) as refused:
        DestinationPolicy(allow_http=True).check(url)
    assert refused.value.reason == reason
    # The API's URL type already refuses these before our check; either way 422, nothing kept.
    assert put(strict_lms, url).status_code == 422
    assert strict_lms.get("/v1/callback").json() == {"url": None, "configured": False}
    assert connections == []


def test_every_address_of_a_host_is_checked(
    strict_lms: TestClient, connections: list[Any], fake_dns: dict[str, list[str]]
) -> None:
    fake_dns["lms.example.edu"] = [PUBLIC, "10.1.2.3"]
    assert_refused(put(strict_lms, "https://lms.example.edu/hook"), PRIVATE)
    fake_dns["lms.example.edu"] = [PUBLIC, "::ffff:169.254.169.254"]
    assert_refused(
        put(strict_lms, "https://lms.example.edu/hook"),
        "it resolves to an IPv6 form of a link-local address",
    )
    fake_dns["lms.example.edu"] = [PUBLIC]
    assert put(strict_lms, "https://lms.example.edu/hook").status_code == 200
    assert connections == []


def test_a_host_that_does_not_resolve_is_refused(
    strict_lms: TestClient, fake_dns: dict[str, list[str]]
) -> None:
    assert_refused(
        put(strict_lms, "https://nowhere.example.edu/"), "its host name does not resolve"
    )


def test_https_is_required_by_default(
    default_lms: TestClient, connections: list[Any], fake_dns: dict[str, list[str]]
) -> None:
    assert Settings().callback_allow_http is False
    assert Settings().callback_allowed_hosts == ""
    fake_dns["lms.example.edu"] = [PUBLIC]
    assert_refused(put(default_lms, "http://lms.example.edu/hook"), "it must use https")
    assert put(default_lms, "https://lms.example.edu/hook").status_code == 200
    # Loopback stays refused by default even over https.
    assert_refused(put(default_lms, "https://127.0.0.1:8443/hook"), LOOPBACK)
    assert connections == []


def test_the_allowlist_admits_listed_networks_and_hosts_only(
    lms: TestClient, settings: Settings, connections: list[Any]
) -> None:
    # The test settings allow 127.0.0.1/32 (the tests' own receivers), and nothing more.
    assert put(lms, "http://127.0.0.1:1/x").status_code == 200
    assert put(lms, "http://[::ffff:127.0.0.1]:1/x").status_code == 200  # the same host
    assert_refused(put(lms, "http://127.0.0.2:1/x"), LOOPBACK)
    assert_refused(put(lms, "http://10.0.0.1/x"), PRIVATE)
    for lms_by_name in app_client(settings, callback_allowed_hosts="LocalHost."):
        assert put(lms_by_name, "http://localhost:1/x").status_code == 200
        assert_refused(put(lms_by_name, "http://127.0.0.1:1/x"), LOOPBACK)
    assert connections == []


@pytest.mark.parametrize("setting", ["10.0.0.0/33", "127.1", "::1/129", "300.1.2.3"])
def test_a_malformed_allowlist_is_refused_at_start_up(setting: str) -> None:
    with pytest.raises(ValidationError, match="not a valid address or CIDR"):
        Settings(callback_allowed_hosts=setting)


def deliver(
    client: TestClient, client_factory: Callable[[], httpx.Client] | None = None, **policy: Any
) -> int:
    state = client.app.state  # type: ignore[attr-defined]
    base = policies(state.settings)[1]
    return deliver_due(
        state.sessionmaker,
        policy=dataclasses.replace(base, **{"base_delay_seconds": 0, **policy}),
        client_factory=client_factory,
    )


def test_delivery_refuses_a_host_that_now_resolves_to_a_private_address(
    lms: TestClient, client: TestClient, connections: list[Any], fake_dns: dict[str, list[str]]
) -> None:
    fake_dns["lms.example.edu"] = [PUBLIC]
    assert put(lms, "https://lms.example.edu/hook").status_code == 200
    submit(lms, "They negotiated secretly.")
    fake_dns["lms.example.edu"] = ["10.0.0.7"]  # the DNS answer changed since registration
    assert deliver(client) == 1
    [delivery] = lms.get("/v1/callback/deliveries").json()["items"]
    assert [(a["outcome"], a["status_code"]) for a in delivery["attempt_log"]] == [
        ("refused", None)
    ]
    assert (delivery["status"], delivery["attempts"]) == ("pending", 1)  # retried later
    assert "10.0.0.7" not in str(delivery)
    assert connections == []


def test_delivery_connects_to_the_checked_address_without_a_second_lookup(
    lms: TestClient,
    client: TestClient,
    receiver: Receiver,
    fake_dns: dict[str, list[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lookups: list[str] = []
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "hooks.lms.test":
            lookups.append(host)  # a second lookup, which rebinding DNS could answer
            raise socket.gaierror(socket.EAI_NONAME, "the test forbids this lookup")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    fake_dns["hooks.lms.test"] = ["127.0.0.1"]
    url = f"http://hooks.lms.test:{receiver.port}/grades"
    assert put(lms, url).status_code == 200
    submit(lms, "They negotiated secretly.")
    assert deliver(client) == 1
    [request] = receiver.requests
    assert request["headers"]["Host"] == f"hooks.lms.test:{receiver.port}"
    Webhook(SECRET).verify(request["body"], request["headers"])
    assert lookups == []
    [delivery] = lms.get("/v1/callback/deliveries").json()["items"]
    assert (delivery["status"], delivery["url"]) == ("delivered", url)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def tls_receiver(ca: trustme.CA, *names: str) -> Receiver:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*names).configure_cert(context)
    return Receiver(tls=context).start()


@pytest.mark.parametrize(
    ("certificate_names", "outcome"),
    [
        (("hooks.lms.test",), "delivered"),
        # A certificate for the address connected to is not one for the host: refused.
        (("127.0.0.1",), "connection_failed"),
        (("other.lms.test",), "connection_failed"),
    ],
)
def test_tls_is_verified_against_the_host_name_not_the_address(
    lms: TestClient,
    client: TestClient,
    fake_dns: dict[str, list[str]],
    ca: trustme.CA,
    certificate_names: tuple[str, ...],
    outcome: str,
) -> None:
    server = tls_receiver(ca, *certificate_names)
    try:
        fake_dns["hooks.lms.test"] = ["127.0.0.1"]
        assert put(lms, f"https://hooks.lms.test:{server.port}/grades").status_code == 200
        submit(lms, "They negotiated secretly.")
        trusted = ssl.create_default_context()
        ca.configure_trust(trusted)

        def tls_client() -> httpx.Client:
            return httpx.Client(verify=trusted, trust_env=False, timeout=5)

        assert deliver(client, client_factory=tls_client) == 1
    finally:
        server.stop()
    [delivery] = lms.get("/v1/callback/deliveries").json()["items"]
    assert [a["outcome"] for a in delivery["attempt_log"]] == [outcome]
    assert len(server.requests) == (1 if outcome == "delivered" else 0)
    if server.requests:
        Webhook(SECRET).verify(server.requests[0]["body"], server.requests[0]["headers"])
