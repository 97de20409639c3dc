"""Where a webhook may go (SSRF guard): http(s) only, no credentials in the URL, and unless private hosts are
allowed, no loopback, private, link-local or otherwise non-public address (the sandbox allows loopback alone).
Checked when the client names the URL and again at every delivery, on the addresses the name resolves to then; the
request goes to the checked address."""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from urllib.parse import SplitResult, urlsplit

import msgspec

from gateway.errors import InvalidRequest
from gateway.schema.job import JobWebhook
from gateway.schema.wire import WebhookBody
from gateway.webhooks.settings import WebhookSettings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_LEGACYIPAddressV4 = re.compile(r"^[0-9a-fx.]+$")  # 127.1, 2130706433, 0x7f.0.0.1: getaddrinfo takes them all
_LOCAL_NAMES = ("localhost", ".localhost", ".local", ".internal", ".home.arpa")
# IPv6 forms whose last 32 bits are an IPv4 address (RFC 6052 NAT64 well-known prefix, RFC 6145 SIIT
# IPv4-translated, RFC 4291 IPv4-compatible, deprecated but still routed by some stacks).
_EMBEDDING_V6 = tuple(ipaddress.IPv6Network(n) for n in ("64:ff9b::/96", "::ffff:0:0:0/96", "::/96"))
# Not globally reachable by the IANA IPv6 special-purpose registry, yet `is_global` in Python 3.11: RFC 8215
# local-use NAT64, documentation (RFC 9637 3fff::/20); the deprecated site-local fec0::/10 is `is_site_local`.
_NOT_GLOBAL_V6 = tuple(ipaddress.IPv6Network(n) for n in ("64:ff9b:1::/48", "3fff::/20"))


class BlockedTarget(Exception):
    """The target is not one the gateway may call; the message says why, without the URL."""


class Target(msgspec.Struct, frozen=True, kw_only=True):
    """What to connect to: the URL with its host pinned to a checked address, the Host header and TLS name."""

    url: str
    headers: dict[str, str] = {}
    extensions: dict[str, str] = {}


def requested_webhook(
    body: WebhookBody | None, *, team: str, settings: WebhookSettings, content_base: str, allow_loopback: bool = False
) -> JobWebhook | None:
    """The create body's `webhook`, checked: a URL the gateway may call, and a team that has a signing secret."""
    if body is None:
        return None
    if team not in settings.teams:
        raise InvalidRequest(
            f"team {team!r} has no webhook signing secret configured (`[webhooks.teams.{team}]`); ask the"
            " gateway operators to add one",
            code="webhook_not_configured",
            param="webhook",
        )
    url = check_url(body.url, allow_private=settings.allow_private_hosts, allow_loopback=allow_loopback)
    return JobWebhook(url=url, content_base=content_base)


def check_url(url: str, *, allow_private: bool, allow_loopback: bool = False, param: str = "webhook.url") -> str:
    """The client's webhook URL, or a 400 naming what is wrong with it."""
    try:
        parts = _parts(url)
        if not allow_private:
            _check_name(parts.hostname or "", allow_loopback=allow_loopback)
    except BlockedTarget as exc:
        raise InvalidRequest(f"webhook url refused: {exc}", code="invalid_webhook_url", param=param) from None
    return url


async def resolve(url: str, *, allow_private: bool, allow_loopback: bool = False) -> Target:
    """Resolve the host now, refuse it if any address is not public (or loopback, when allowed), and pin the
    request to the first one, so a name that changes its answer between check and connect (DNS rebinding) cannot
    steer the request inward."""
    parts = _parts(url)
    host = parts.hostname or ""
    if allow_private:
        return Target(url=url)
    _check_name(host, allow_loopback=allow_loopback)
    if _ip_literal(host) is not None:
        return Target(url=url)  # an address, checked above: nothing to resolve
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise BlockedTarget(f"the host does not resolve ({exc.strerror or exc})") from None
    addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    return pinned_target(url, addresses, allow_loopback=allow_loopback)


def pinned_target(url: str, addresses: list[IPAddress], *, allow_loopback: bool = False) -> Target:
    """The request for `url` sent to the first of its resolved `addresses`, all of which must be public (or
    loopback, when allowed); the Host header and the TLS server name (certificate check) stay the original host's."""
    if not addresses:
        raise BlockedTarget("the host does not resolve")
    for address in addresses:
        _check_address(address, allow_loopback=allow_loopback)
    parts = _parts(url)
    pinned = f"[{addresses[0]}]" if addresses[0].version == 6 else str(addresses[0])
    netloc = pinned if parts.port is None else f"{pinned}:{parts.port}"
    return Target(
        url=parts._replace(netloc=netloc).geturl(),
        headers={"host": parts.netloc},
        extensions={"sni_hostname": parts.hostname or ""} if parts.scheme == "https" else {},
    )


def _parts(url: str) -> SplitResult:
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        raise BlockedTarget("the URL contains whitespace or control characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise BlockedTarget(f"not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https"):
        raise BlockedTarget("the scheme must be http or https")
    if "@" in parts.netloc or parts.username is not None or parts.password is not None:
        raise BlockedTarget("credentials in the URL are not accepted; verify deliveries by their signature")
    if not parts.hostname:
        raise BlockedTarget("the URL has no host")
    return parts


def _check_name(host: str, *, allow_loopback: bool) -> None:
    literal = _ip_literal(host)
    if literal is not None:
        _check_address(literal, allow_loopback=allow_loopback)
        return
    name = host.rstrip(".").lower()
    if allow_loopback and (name == "localhost" or name.endswith(".localhost")):
        return  # RFC 6761: loopback names; `resolve` still checks every address they resolve to
    if name == _LOCAL_NAMES[0] or name.endswith(_LOCAL_NAMES[1:]):
        raise BlockedTarget(f"{name} is a local name")


def _ip_literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    if _LEGACYIPAddressV4.match(host.lower()):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def _check_address(address: IPAddress, *, allow_loopback: bool) -> None:
    """Public unicast only (plus loopback, when allowed), by the IANA special-purpose registries: an IPv6 address
    that carries an IPv4 one is judged as that IPv4 address (NAT64 could otherwise reach 127.0.0.1 as
    64:ff9b::7f00:1)."""
    if allow_loopback and address.is_loopback:
        return
    if isinstance(address, ipaddress.IPv6Address):
        if address.is_site_local or any(address in network for network in _NOT_GLOBAL_V6):
            raise BlockedTarget(f"{address} is not a public address")
        address = _carried_ipv4(address) or address
    if not address.is_global or address.is_multicast or address.is_reserved or address.is_unspecified:
        raise BlockedTarget(f"{address} is not a public address")


def _carried_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one maps, translates or tunnels to, if it is of such a form."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]  # the client, de-obfuscated
    if any(address in network for network in _EMBEDDING_V6):
        return ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF)
    return None
