"""The webhook target guard judges an IPv6 address that carries an IPv4 one (NAT64, 6to4, Teredo, SIIT,
IPv4-compatible, IPv4-mapped) as that IPv4 address, and refuses site-local, documentation and local-use ranges."""

from __future__ import annotations

import ipaddress

import pytest

from gateway.webhooks.targets import BlockedTarget, check_url, pinned_target

REFUSED = [
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
ALLOWED = ["64:ff9b::808:808", "2002:808:808::1", "2606:4700::1111", "::ffff:8.8.8.8"]


@pytest.mark.parametrize("address", REFUSED)
def test_ipv6_forms_reaching_non_public_space_are_refused(address: str) -> None:
    """Named in a URL or resolved from a name, the address is refused with a reason that names it."""
    with pytest.raises(Exception, match="is not a public address") as refused:
        check_url(f"https://[{address}]/hook", allow_private=False)
    assert refused.value.args[0].startswith("webhook url refused")
    with pytest.raises(BlockedTarget):
        pinned_target("https://hooks.example.com/hook", [ipaddress.ip_address(address)])


@pytest.mark.parametrize("address", ALLOWED)
def test_ipv6_forms_carrying_public_ipv4_pass(address: str) -> None:
    """A 6to4 or NAT64 address of a public IPv4 host, and plain global IPv6, are accepted."""
    assert check_url(f"https://[{address}]/hook", allow_private=False) == f"https://[{address}]/hook"
