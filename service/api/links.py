"""The base URL of links in responses (students' feedback URLs), never taken from an
arbitrary ``Host`` header.

A feedback link is a student's credential. If a request's Host header chose the link's
host, anyone who can get a request with ``Host: evil.example`` to the service (a
misconfigured proxy, a cache keyed without Host) could make it hand out links that deliver
students' tokens to evil.example. So: the configured ``public_base_url`` when set; else the
request's host only if it is one of ``GRADER_TRUSTED_HOSTS``; else the first trusted host
on the port the server listens on. The request is still answered (a health check or a
load balancer may use any Host); only the links are built safely.
"""

from __future__ import annotations

import ipaddress
import re

from fastapi import Request

from service.config import Settings

# host [":" port], host a DNS name, an IPv4 address or a bracketed IPv6 address.
_HOST_HEADER = re.compile(
    r"^(?:\[(?P<ipv6>[0-9A-Fa-f:.]+)\]|(?P<name>[A-Za-z0-9.-]+))(?::(?P<port>[0-9]{1,5}))?$"
)
_DEFAULT_PORTS = {"http": 80, "https": 443}
_FALLBACK_HOST = "127.0.0.1"


def _parse_host_header(value: str) -> tuple[str, int | None] | None:
    match = _HOST_HEADER.match(value)
    if match is None:
        return None
    port = int(match["port"]) if match["port"] else None
    if port is not None and not 0 < port < 65536:
        return None
    return (match["ipv6"] or match["name"]).lower(), port


def _netloc(host: str, port: int | None, scheme: str) -> str:
    try:
        bracketed = ipaddress.ip_address(host).version == 6
    except ValueError:
        bracketed = False
    shown = f"[{host}]" if bracketed else host
    if port is None or port == _DEFAULT_PORTS.get(scheme):
        return shown
    return f"{shown}:{port}"


def public_base_url(request: Request, settings: Settings) -> str:
    """Where links in this response point; ends with a slash."""
    if settings.public_base_url:
        return settings.public_base_url
    scheme = request.url.scheme  # set from X-Forwarded-Proto only for trusted proxies
    trusted = settings.trusted_host_names
    parsed = _parse_host_header(request.headers.get("host", ""))
    if parsed is not None and parsed[0] in trusted:
        host, port = parsed
    else:
        server = request.scope.get("server")
        host = trusted[0] if trusted else _FALLBACK_HOST
        port = int(server[1]) if server and server[1] else settings.port
    root_path = request.scope.get("root_path", "").rstrip("/")
    return f"{scheme}://{_netloc(host, port, scheme)}{root_path}/"
