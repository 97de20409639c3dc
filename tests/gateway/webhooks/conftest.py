"""Shared by the webhook tests (here and the replica test in tests/e2e/): a receiver served on loopback that fails
its first N deliveries, a Standard Webhooks verifier written from the spec (independent of
gateway/webhooks/signing.py), and the test config."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
from typing import Any

import httpx
import msgspec
from litestar import Litestar, Request, Response, post

from tests.conftest import TEAM_A_KEY, auth

SECRET_ENV = "TEST_WEBHOOK_SECRET_TEAM_A"


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def webhook_config(*, schedule_s: str = "[0.05, 0.05, 0.05]", allow_private: bool = True) -> str:
    """The `[webhooks]` section for gateway_settings(extra=...): team-a signs with SECRET_ENV, team-b has none."""
    return f"""
[webhooks]
allow_private_hosts = {"true" if allow_private else "false"}
retry_schedule_s = {schedule_s}
tick_s = 0.02
timeout_s = 2.0
lease_s = 3.0
[webhooks.teams.team-a]
secret_env = "{SECRET_ENV}"
"""


class Received(msgspec.Struct, frozen=True, kw_only=True):
    headers: dict[str, str]
    body: bytes


class Receiver:
    """POST /hook records each delivery and answers 500 to the first `fail_first` (-1: every one), else 204."""

    def __init__(self, *, fail_first: int = 0) -> None:
        self.fail_first = fail_first
        self.calls: list[Received] = []

    def app(self) -> Litestar:
        @post("/hook")
        async def hook(request: Request[Any, Any, Any]) -> Response[bytes]:
            self.calls.append(Received(headers=dict(request.headers), body=await request.body()))
            if self.fail_first < 0 or len(self.calls) <= self.fail_first:
                return Response(b"receiver is down", status_code=500)
            return Response(b"", status_code=204)

        return Litestar(route_handlers=[hook], debug=False)


def verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """The receiver's side of standardwebhooks.com: HMAC-SHA256 over `{id}.{timestamp}.{body}` with the
    base64-decoded part of `whsec_...`, compared with any `v1,` signature in the space-separated header."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    given = [s.partition(",")[2] for s in headers["webhook-signature"].split() if s.startswith("v1,")]
    return any(hmac.compare_digest(sig, expected) for sig in given)


async def wait_delivery(
    client: httpx.AsyncClient, video_id: str, *, key: str = TEAM_A_KEY, states: tuple[str, ...] = ("delivered",)
) -> dict[str, Any]:
    """Read the delivery log until it reaches one of `states`; bounded so a stuck delivery fails the test."""
    log: dict[str, Any] = {}
    for _ in range(400):
        reply = await client.get(f"/v1/videos/{video_id}/webhook", headers=auth(key))
        assert reply.status_code == 200, reply.text
        log = reply.json()
        if log["state"] in states:
            return log
        await asyncio.sleep(0.025)
    raise AssertionError(f"the webhook of {video_id} did not reach {states}: {log}")
