"""Where webhooks may go: URL checks when a client names one, and at delivery the host resolved, every address
checked, and the request pinned to the checked address (with the Host header and TLS name of the original); an
IPv6 address that carries an IPv4 one (NAT64, 6to4, Teredo, SIIT, IPv4-compatible or -mapped) judged as that IPv4."""

from __future__ import annotations

import ipaddress
import socket

import pytest

from gateway.errors import InvalidRequest
from gateway.webhooks.targets import BlockedTarget, check_url, pinned_target, resolve


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://127.1/hook",
        "http://2130706433/hook",
        "http://0x7f.0.0.1/hook",
        "http://0.0.0.0/hook",
        "http://10.0.0.5/hook",
        "http://172.16.3.4/hook",
        "http://192.168.1.1/hook",
        "http://100.64.0.1/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[fd00::1]/hook",
        "http://[fe80::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://224.0.0.1/hook",
        "http://localhost:8080/hook",
        "http://api.localhost/hook",
        "http://printer.local/hook",
        "http://metadata.google.internal/computeMetadata/v1/",
    ],
)
def test_private_loopback_and_link_local_targets_are_refused(url: str) -> None:
    """Unless private hosts are allowed, any address that is not public is a 400 on `webhook.url`."""
    with pytest.raises(InvalidRequest) as raised:
        check_url(url, allow_private=False)
    assert raised.value.param == "webhook.url"
    assert raised.value.code == "invalid_webhook_url"
    assert check_url(url, allow_private=True) == url


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://user:pass@example.com/hook", "credentials"),
        ("https://token@example.com/hook", "credentials"),
        ("ftp://example.com/hook", "scheme"),
        ("https:///hook", "no host"),
        ("https://example.com:99999/hook", "not a valid URL"),
        ("https://example.com/ho ok", "whitespace"),
    ],
)
def test_malformed_or_credentialed_urls_are_refused_even_when_private_hosts_are_allowed(url: str, reason: str) -> None:
    """The allow switch only concerns addresses; URL hygiene is checked always, and the password is not echoed."""
    with pytest.raises(InvalidRequest, match=reason) as raised:
        check_url(url, allow_private=True)
    assert "pass" not in raised.value.message


@pytest.mark.parametrize(
    "url", ["https://example.com/hook", "http://93.184.215.14:8080/x?y=1", "https://[2606:4700::1]/"]
)
def test_public_targets_pass(url: str) -> None:
    """Public names and addresses, with ports and queries, are accepted as given."""
    assert check_url(url, allow_private=False) == url


async def test_a_name_resolving_to_a_private_address_is_refused_at_delivery() -> None:
    """A hostname is only known to be private once resolved: this machine's own name resolves to a loopback or
    private address, and the delivery refuses it then."""
    name = socket.gethostname()
    try:
        resolved = {info[4][0] for info in socket.getaddrinfo(name, 80, type=socket.SOCK_STREAM)}
    except OSError:
        pytest.skip(f"{name} does not resolve on this machine")
    assert not any(ipaddress.ip_address(a).is_global for a in resolved)

    with pytest.raises(BlockedTarget, match="not a public address"):
        await resolve(f"http://{name}:8080/hook", allow_private=False)
    assert (await resolve(f"http://{name}:8080/hook", allow_private=True)).url == f"http://{name}:8080/hook"


def test_a_resolved_name_is_pinned_to_its_checked_address() -> None:
    """The request goes to the checked address, keeping the original Host header and, for https, the TLS name."""
    target = pinned_target("https://hooks.example.com:8443/in?team=a", [ipaddress.ip_address("93.184.215.14")])
    plain = pinned_target("http://hooks.example.com/in", [ipaddress.ip_address("2606:4700::1")])

    assert target.url == "https://93.184.215.14:8443/in?team=a"
    assert target.headers == {"host": "hooks.example.com:8443"}
    assert target.extensions == {"sni_hostname": "hooks.example.com"}
    assert plain.url == "http://[2606:4700::1]/in"
    assert plain.extensions == {}


def test_a_name_with_any_private_address_is_refused() -> None:
    """One public and one private answer: refused, since the connection could go to either."""
    with pytest.raises(BlockedTarget, match=r"10\.0\.0\.1 is not a public address"):
        pinned_target("https://hooks.example.com/in", [ipaddress.ip_address(a) for a in ("93.184.215.14", "10.0.0.1")])


async def test_an_address_needs_no_resolution_and_private_hosts_pass_when_allowed() -> None:
    """A public IP literal is sent as given; with private hosts allowed the URL is used untouched."""
    public = await resolve("https://93.184.215.14/hook", allow_private=False)
    loopback = await resolve("http://127.0.0.1:9/hook", allow_private=True)

    assert public.url == "https://93.184.215.14/hook"
    assert loopback.url == "http://127.0.0.1:9/hook"
    assert loopback.headers == {}
    with pytest.raises(BlockedTarget):
        await resolve("http://127.0.0.1:9/hook", allow_private=False)


REFUSED_V6 = [
    "64:ff9b::7f00:1",  # NAT64 well-known prefix -> 127.0.0.1
    "64:ff9b::a00:1",  # -> 10.0.0.1
    "64:ff9b:1::808:808",  # RFC 8215 local-use NAT64, whatever it carries
    "2002:7f00:1::",  # 6to4 -> 127.0.0.1
    "2002:c0a8:101::1",  # 6to4 -> 192.168.1.1
    "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo, client 127.0.0.1
    "::ffff:0:7f00:1",  # SIIT IPv4-translated -> 127.0.0.1
    "::7f00:1",  # IPv4-compatible -> 127.0.0.1
    "::a9fe:a9fe",  # IPv4-compatible -> 169.254.169.254 (cloud metadata)
    "::ffff:169.254.169.254",  # IPv4-mapped
    "fec0::1",  # site-local
    "2001:db8::1",  # documentation
    "3fff::1",  # documentation (RFC 9637)
    "::",
    "::1",
]
ALLOWED_V6 = ["64:ff9b::808:808", "2002:808:808::1", "2606:4700::1111", "::ffff:8.8.8.8"]


@pytest.mark.parametrize("address", REFUSED_V6)
def test_ipv6_forms_reaching_non_public_space_are_refused(address: str) -> None:
    """Named in a URL or resolved from a name, the address is refused with a reason that names it."""
    with pytest.raises(Exception, match="is not a public address") as refused:
        check_url(f"https://[{address}]/hook", allow_private=False)
    assert refused.value.args[0].startswith("webhook url refused")
    with pytest.raises(BlockedTarget):
        pinned_target("https://hooks.example.com/hook", [ipaddress.ip_address(address)])


@pytest.mark.parametrize("address", ALLOWED_V6)
def test_ipv6_forms_carrying_public_ipv4_pass(address: str) -> None:
    """A 6to4 or NAT64 address of a public IPv4 host, and plain global IPv6, are accepted."""
    assert check_url(f"https://[{address}]/hook", allow_private=False) == f"https://[{address}]/hook"


@pytest.mark.parametrize("url", ["http://127.0.0.1:8123/hook", "http://[::1]:8123/hook", "http://localhost:8123/hook"])
def test_loopback_passes_when_loopback_alone_is_allowed(url: str) -> None:
    """The sandbox's allowance: a receiver on loopback (address or `localhost`) is accepted."""
    assert check_url(url, allow_private=False, allow_loopback=True) == url


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.5/hook",
        "http://192.168.1.1/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[fd00::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://printer.local/hook",
    ],
)
def test_private_networks_stay_refused_when_loopback_alone_is_allowed(url: str) -> None:
    """The sandbox's allowance is loopback only: private, link-local and mapped forms are still refused."""
    with pytest.raises(InvalidRequest):
        check_url(url, allow_private=False, allow_loopback=True)


async def test_a_name_resolving_to_loopback_is_pinned_there_when_loopback_is_allowed() -> None:
    """At delivery `localhost` resolves and every address it gives is loopback, so the request is pinned to it."""
    target = await resolve("http://localhost:8123/hook", allow_private=False, allow_loopback=True)
    assert target.url.startswith(("http://127.0.0.1:8123/", "http://[::1]:8123/"))
    assert target.headers == {"host": "localhost:8123"}
