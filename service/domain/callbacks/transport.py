"""Requests to addresses outside the service, to checked addresses only.

Everything the service sends out (webhook callbacks, and for LTI the platform's key set,
its token endpoint, AGS scores, a registration's configuration) goes to a URL that someone
outside chose. ``send`` checks the URL with a ``DestinationPolicy`` (public addresses
only, unless the deployment allows a host), then connects to one of exactly the addresses
that check returned: the URL given to httpx carries the IP address, so nothing looks the
host up a second time (a rebinding DNS server cannot swap the address); the ``Host``
header and TLS (SNI and certificate verification, via httpcore's ``sni_hostname``
extension) use the original host name. Redirects are never followed (each hop would need
its own check) and no proxy from the environment is used (it would connect elsewhere).
"""

from __future__ import annotations

import functools
import logging
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import httpx

from service.domain.callbacks.destinations import (
    DestinationPolicy,
    DestinationRefused,
    DestinationUnresolvable,
)

log = logging.getLogger(__name__)

# A host with many addresses that all refuse connections costs one attempt, not dozens.
MAX_ADDRESSES_TRIED = 3


class SendFailed(Exception):
    """No response: ``reason`` is one of "refused", "timed_out", "connection_failed"."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(detail or reason)
        self.reason = reason
        self.detail = detail


class BodyTooLarge(SendFailed):
    def __init__(self) -> None:
        super().__init__("too_large", "the response is larger than allowed")


@dataclass(frozen=True)
class Response:
    status_code: int
    headers: Mapping[str, str]
    body: bytes  # empty unless the caller asked to read it


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The TLS settings every outgoing client uses: httpx's defaults (certificate and host
    name verification against certifi's CA bundle), built once per process.

    httpx builds a new context for every client, and loading the CA bundle is most of a
    client's cost (121 vs 0.9 ms per client side by side on a loaded machine): the deadline
    burst's worker spent 28 of 35 s in it (bench/burst.py --profile). A context is safe to
    share between the delivery threads.
    """
    return httpx.create_ssl_context()


def default_client(timeout: float, connect_timeout: float) -> httpx.Client:
    return httpx.Client(
        timeout=httpx.Timeout(timeout, connect=connect_timeout),
        verify=tls_context(),
        trust_env=False,
        follow_redirects=False,
    )


def send(
    method: str,
    url: str,
    *,
    destinations: DestinationPolicy,
    make_client: Callable[[], httpx.Client],
    headers: Mapping[str, str] | None = None,
    content: bytes | None = None,
    max_body_bytes: int = 0,
) -> Response:
    """Send one request to ``url`` at a checked address; read at most ``max_body_bytes`` of
    the response (0: none, as for a webhook, whose receiver has nothing to tell us).

    Raises ``SendFailed`` when there is no response (refused destinations included) and
    ``BodyTooLarge`` when the body is over the limit: a platform cannot make us buffer
    without bound.
    """
    try:
        destination = destinations.check(url)
    except DestinationUnresolvable:
        raise SendFailed("connection_failed", "the host name does not resolve") from None
    except DestinationRefused as exc:
        raise SendFailed("refused", exc.reason) from None
    sent_headers = {**(headers or {}), "Host": destination.netloc}
    server_name = destination.tls_server_name
    https = destination.scheme == "https" and server_name is not None
    extensions = {"sni_hostname": server_name} if https else {}
    for address in destination.addresses[:MAX_ADDRESSES_TRIED]:
        try:
            with (
                make_client() as client,
                client.stream(
                    method,
                    destination.url_for(address),
                    content=content,
                    headers=sent_headers,
                    extensions=extensions,
                ) as response,
            ):
                body = _read(response, max_body_bytes)
                return Response(response.status_code, dict(response.headers), body)
        except httpx.TimeoutException:
            raise SendFailed("timed_out") from None
        except httpx.ConnectError as exc:
            log.info("connecting to %s failed (%s)", destination.host, exc.__class__.__name__)
            continue
        except httpx.HTTPError as exc:
            raise SendFailed("connection_failed", exc.__class__.__name__) from None
    raise SendFailed("connection_failed", "no address accepted the connection")


def _read(response: httpx.Response, limit: int) -> bytes:
    if limit <= 0:
        return b""
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge()
        chunks.append(chunk)
    return b"".join(chunks)
