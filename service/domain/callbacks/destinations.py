"""Where a callback may go: public addresses only, checked on the addresses actually used.

A callback URL is chosen by an integration, so without a check it is a way to make the
service send requests to itself (its loopback ports), to the cloud metadata service
(169.254.169.254) or to anything else on the internal network. ``DestinationPolicy.check``
parses the URL, resolves its host with the system resolver and classifies *every* address
it returns; the caller then connects to one of exactly those addresses (never a second
lookup, which a rebinding DNS server could answer differently).

Odd notations (``2130706433``, ``0177.0.0.1``, ``0x7f.1``, ``127.1``, ``[::ffff:7f00:1]``)
are not parsed here: the resolver canonicalises them the same way it would for a
connection, so what is checked is what would be connected to. Pure: the standard library
only, no web or database imports; the resolver is the one piece of I/O (``resolve_host``).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

DEFAULT_PORTS = {"http": 80, "https": 443}
_CGNAT = ipaddress.IPv4Network("100.64.0.0/10")
_BROADCAST = ipaddress.IPv4Address("255.255.255.255")
_RFC1918 = tuple(
    ipaddress.IPv4Network(net) for net in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
)
# NAT64 prefixes (RFC 6052 well-known, RFC 8215 local use): the last 32 bits are the IPv4
# host a NAT64 gateway connects to.
_NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
_UNIQUE_LOCAL = ipaddress.IPv6Network("fc00::/7")


class DestinationRefused(ValueError):
    """The URL may not be used; ``reason`` is safe to show to the integration."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class DestinationUnresolvable(DestinationRefused):
    """The host has no address (at registration a refusal; at delivery a failed connection)."""


def resolve_host(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for ``host``, in its order, without repeats.

    Numeric forms go through ``inet_aton``/``inet_pton`` inside ``getaddrinfo``, exactly as
    they would for a connection.
    """
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _ipv4_kind(ip: ipaddress.IPv4Address) -> str | None:
    """Why ``ip`` is not a public destination ("a loopback", ...), or None if it is."""
    checks: tuple[tuple[bool, str], ...] = (
        (ip.is_unspecified, "an unspecified"),
        (ip.is_loopback, "a loopback"),
        (ip.is_link_local, "a link-local"),
        (ip == _BROADCAST, "a broadcast"),
        (ip in _CGNAT, "a shared (carrier-grade NAT)"),
        (ip.is_multicast, "a multicast"),
        (any(ip in net for net in _RFC1918), "a private"),
        (ip.is_reserved, "a reserved"),
        (not ip.is_global, "a non-public"),
    )
    return next((kind for failed, kind in checks if failed), None)


def embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 form carries (mapped, 6to4, Teredo, NAT64, compatible)."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if any(ip in net for net in _NAT64) or (ip in _IPV4_COMPATIBLE and int(ip) > 1):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _ipv6_kind(ip: ipaddress.IPv6Address) -> str | None:
    checks: tuple[tuple[bool, str], ...] = (
        (ip.is_unspecified, "an unspecified"),
        (ip.is_loopback, "a loopback"),
        (ip.is_link_local, "a link-local"),
        (ip.is_site_local, "a site-local"),
        (ip in _UNIQUE_LOCAL, "a unique-local"),
        (ip.is_multicast, "a multicast"),
    )
    kind = next((kind for failed, kind in checks if failed), None)
    if kind is not None:
        return kind
    inner = embedded_ipv4(ip)
    if inner is not None:
        inner_kind = _ipv4_kind(inner)
        if inner_kind is not None:
            return f"an IPv6 form of {inner_kind}"
        # A mapped or NAT64 address is that IPv4 host; Python 3.11 calls both ranges
        # reserved, so judge them by the host they reach.
        if ip.ipv4_mapped is not None or any(ip in net for net in _NAT64):
            return None
    if ip.is_reserved:
        return "a reserved"
    return None if ip.is_global else "a non-public"


def address_kind(ip: IPAddress) -> str | None:
    """Why ``ip`` may not receive callbacks ("a private", ...), or None when it is public."""
    if isinstance(ip, ipaddress.IPv4Address):
        return _ipv4_kind(ip)
    return _ipv6_kind(ip)


def parse_allowed(setting: str) -> tuple[frozenset[str], tuple[IPNetwork, ...]]:
    """``"lms.school.example, 10.20.0.0/16"`` -> (host names, networks); bad CIDR -> ValueError."""
    hosts: set[str] = set()
    networks: list[IPNetwork] = []
    for raw in setting.split(","):
        entry = raw.strip()
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            if "/" in entry or entry.replace(".", "").isdigit():
                raise ValueError(f"not a valid address or CIDR: {entry!r}") from None
            hosts.add(_normal_host(entry))
    return frozenset(hosts), tuple(networks)


def _normal_host(host: str) -> str:
    """Lower case without the one trailing dot of a fully qualified name (``localhost.``)."""
    host = host.lower()
    return host[:-1] if host.endswith(".") else host


@dataclass(frozen=True)
class Destination:
    """A checked URL and the addresses it may be reached at (connect to these only)."""

    scheme: str
    host: str
    netloc: str
    port: int
    target: str
    addresses: tuple[IPAddress, ...]

    def url_for(self, address: IPAddress) -> str:
        """The URL with the host replaced by ``address``, so the client cannot look it up again."""
        literal = str(address).split("%", 1)[0]
        if address.version == 6:
            literal = f"[{literal}]"
        return f"{self.scheme}://{literal}:{self.port}{self.target}"

    @property
    def tls_server_name(self) -> str | None:
        """The name TLS must send (SNI) and verify the certificate against; None for IP hosts."""
        try:
            ipaddress.ip_address(self.host)
        except ValueError:
            return self.host
        return None


@dataclass(frozen=True)
class _Parsed:
    scheme: str
    host: str
    netloc: str
    port: int
    target: str


@dataclass(frozen=True)
class DestinationPolicy:
    """What the deployment allows: https only unless ``allow_http``; an allowlist on top."""

    allow_http: bool = False
    allowed_hosts: frozenset[str] = frozenset()
    allowed_networks: tuple[IPNetwork, ...] = field(default=())

    @classmethod
    def configure(cls, *, allow_http: bool, allowed: str) -> DestinationPolicy:
        hosts, networks = parse_allowed(allowed)
        return cls(allow_http=allow_http, allowed_hosts=hosts, allowed_networks=networks)

    def check(self, url: str) -> Destination:
        """The destination of ``url`` with all its addresses, or ``DestinationRefused``."""
        parsed = self._parse(url)
        try:
            raw = resolve_host(parsed.host, parsed.port)
        except (OSError, UnicodeError):
            raise DestinationUnresolvable("its host name does not resolve") from None
        if not raw:
            raise DestinationUnresolvable("its host name does not resolve")
        addresses = tuple(ipaddress.ip_address(address) for address in raw)
        if parsed.host not in self.allowed_hosts:
            for address in addresses:
                kind = None if self._allowed(address) else address_kind(address)
                if kind is not None:
                    raise DestinationRefused(f"it resolves to {kind} address")
        return Destination(
            parsed.scheme, parsed.host, parsed.netloc, parsed.port, parsed.target, addresses
        )

    def _parse(self, url: str) -> _Parsed:
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise DestinationRefused("it is not a valid URL") from None
        scheme = parts.scheme.lower()
        if scheme not in DEFAULT_PORTS:
            raise DestinationRefused("only http and https URLs are allowed")
        if scheme == "http" and not self.allow_http:
            raise DestinationRefused("it must use https")
        if "@" in parts.netloc:
            raise DestinationRefused("it must not contain a user name or password")
        # Percent-escapes in a host name are decoded, as URL parsers (WHATWG) do.
        host = unquote(parts.hostname or "")
        if not host:
            raise DestinationRefused("it has no host")
        if "%" in host:
            if parts.netloc.startswith("["):
                raise DestinationRefused("it must not contain an IPv6 zone id")
            raise DestinationRefused("it is not a valid URL")
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return _Parsed(
            scheme=scheme,
            host=_normal_host(host),
            netloc=parts.netloc,
            port=port if port is not None else DEFAULT_PORTS[scheme],
            target=target,
        )

    def _allowed(self, address: IPAddress) -> bool:
        candidates: list[IPAddress] = [address]
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            candidates.append(address.ipv4_mapped)
        return any(
            candidate.version == net.version and candidate in net
            for candidate in candidates
            for net in self.allowed_networks
        )
