"""The network allow-list: which hosts and ports a sandboxed command may reach, as data.

An entry is ``HOST[:PORT]``: ``example.com``, ``example.com:8443``, ``*.example.com`` (any name
below it, not the name itself), ``10.0.0.5:5432`` or ``[::1]:8080``. Without a port an entry
allows 443 for CONNECT (https) and 80 for plain http.

Where a listed name leads is decided by whoever answers for its DNS, so an address outside the
public internet (loopback, private and unique-local networks, link-local, which holds the cloud
metadata service, multicast, unspecified and reserved ranges, and an IPv6 form wrapping any of
these, such as ``::ffff:0:7f00:1`` or ``64:ff9b::a9fe:a9fe``) is reached only when the list
names that address itself: ``localhost`` or a name that resolves to 127.0.0.1 is refused, the
entry ``127.0.0.1:8080`` allows exactly that.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass

from glasscoder.errors import UsageError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
DEFAULT_PORTS = {True: 443, False: 80}  # CONNECT or not
_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)\Z")
_AUTHORITY = re.compile(r"(?:\[(?P<v6>[^\]]*)\]|(?P<host>[^:\[\]]*))(?::(?P<port>[0-9]{1,5}))?\Z")


@dataclass(frozen=True)
class Rule:
    host: str  # a lower-case name, "*.suffix", or an IP address in its canonical form
    port: int | None  # None: the default port of the request's kind

    def matches(self, host: str, port: int, connect: bool) -> bool:
        if port != (self.port or DEFAULT_PORTS[connect]):
            return False
        if self.host.startswith("*."):
            return host.endswith(self.host[1:])
        return host == self.host

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port is None else f"{host}:{self.port}"


class AllowList:
    def __init__(self, rules: Iterable[Rule]) -> None:
        self.rules = list(dict.fromkeys(rules))

    @classmethod
    def parse(cls, entries: Iterable[str]) -> AllowList:
        """UsageError names the first entry that is not HOST[:PORT]."""
        return cls(parse_entry(entry) for entry in entries)

    def __str__(self) -> str:
        return ", ".join(map(str, self.rules)) or "(empty)"

    def permits(self, host: str, port: int, connect: bool) -> bool:
        """Is the requested host (a normalized name or IP) listed with this port?"""
        return any(rule.matches(host, port, connect) for rule in self.rules)

    def address_refusal(self, ip: IPAddress, port: int, connect: bool) -> str:
        """Why this resolved address may not be reached ("" when it may)."""
        kind = special_kind(ip)
        if not kind or self.permits(str(ip), port, connect):
            return ""
        return f"{ip} is {kind}; only an entry naming that address itself allows it"


def parse_entry(entry: str) -> Rule:
    host, port = split_authority(entry.strip())
    if not host:
        raise UsageError(f"allow_net entry '{entry}' is not HOST[:PORT].")
    if host.startswith("*.") and normalize_host(host[2:]) is not None:
        return Rule("*." + str(normalize_host(host[2:])), port)
    normal = normalize_host(host)
    if normal is None:
        raise UsageError(
            f"allow_net entry '{entry}': '{host}' is not a host name or IP address "
            "(write names in their ASCII form; a wildcard is only '*.' at the start)."
        )
    return Rule(normal, port)


def split_authority(text: str) -> tuple[str | None, int | None]:
    """('host', port or None) from HOST, HOST:PORT, [V6] or [V6]:PORT; (None, None) if bad."""
    found = _AUTHORITY.match(text)
    if found is None:
        return None, None
    port = int(found["port"]) if found["port"] else None
    if port is not None and not 0 < port < 65536:
        return None, None
    if found["v6"] is not None:
        return (found["v6"], port) if ":" in found["v6"] else (None, None)
    return found["host"], port


def normalize_host(host: str) -> str | None:
    """A lower-case name without the trailing dot, or a canonical IP; None when neither."""
    ip = parse_ip(host)
    if ip is not None:
        return str(ip)
    name = host.lower().removesuffix(".")
    if not name or len(name) > 253 or not name.isascii():
        return None
    if not all(_LABEL.match(label) for label in name.split(".")):
        return None
    if name.replace(".", "").isdigit():
        return None  # "127.1" and friends: the resolver would read it as an address
    return name


def parse_ip(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])  # a v6 zone does not change the kind
    except ValueError:
        return None


def special_kind(ip: IPAddress) -> str:
    """What makes an address not a public internet one ("" when it is public).

    An IPv6 form that carries an IPv4 address (mapped, translated, IPv4-compatible, NAT64, 6to4,
    Teredo) may be carried to that IPv4 address by the host or a gateway on the way, so the
    inner address is judged too (before the outer one): ``::7f00:1`` and ``2002:7f00:1::1`` are
    loopback.
    """
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return _plain_kind(ip.ipv4_mapped)  # the socket layer turns it into the IPv4 address
    for inner in embedded_ipv4(ip):
        kind = _plain_kind(inner)
        if kind:
            return f"{inner} inside an IPv6 form, {kind}"
    return _plain_kind(ip)


def embedded_ipv4(ip: IPAddress) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address wraps (none for an IPv4 address or plain IPv6)."""
    if not isinstance(ip, ipaddress.IPv6Address) or ip.is_loopback or ip.is_unspecified:
        return []
    if ip.teredo is not None:
        return list(ip.teredo)  # (server, client), the client's bits already un-inverted
    if ip.sixtofour is not None:
        return [ip.sixtofour]
    low32 = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    wrapping = (_IPV4_COMPATIBLE, _IPV4_TRANSLATED, _NAT64_WELL_KNOWN)
    return [low32] if any(ip in net for net in wrapping) else []


# Forms that hold an IPv4 address in their last 32 bits; ipaddress unwraps only ::ffff:0:0/96.
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")  # deprecated (RFC 4291)
_IPV4_TRANSLATED = ipaddress.IPv6Network("::ffff:0:0:0/96")  # SIIT (RFC 2765)
_NAT64_WELL_KNOWN = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052
# Not public whatever they hold: site-local was withdrawn (RFC 3879) but hosts may still route
# it locally; the local-use NAT64 prefix (RFC 8215) leads into the operator's own network.
_IPV6_NOT_PUBLIC = (
    (ipaddress.IPv6Network("fec0::/10"), "a site-local address"),
    (ipaddress.IPv6Network("64:ff9b:1::/48"), "a local-use NAT64 address"),
    (_IPV4_COMPATIBLE, "an IPv4-compatible address (deprecated, never public)"),
)


def _plain_kind(ip: IPAddress) -> str:
    checks = (
        (ip.is_loopback, "a loopback address"),
        (ip.is_link_local, "a link-local address (the cloud metadata service lives there)"),
        (ip.is_multicast, "a multicast address"),
        (ip.is_unspecified, "the unspecified address"),
        (ip.is_private, "a private or reserved address"),
    )
    found = next((kind for hit, kind in checks if hit), "")
    if not found and isinstance(ip, ipaddress.IPv6Address):
        found = next((kind for net, kind in _IPV6_NOT_PUBLIC if ip in net), "")
    return found or ("" if ip.is_global else "not a public internet address")
