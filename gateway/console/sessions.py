"""Console sign-in sessions: an opaque random id (the cookie) to the signing key's digest, never the key itself, and
a CSRF token. The key is checked against the live key ring on every request, so a revoked key's session ends."""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable

import msgspec

from gateway.auth import Caller, KeyRing, digest

COOKIE = "vg_console"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"


class Signed(msgspec.Struct, frozen=True, kw_only=True):
    """One signed-in session: the key's digest (to re-check it), its holder and the session's CSRF token."""

    key_digest: str
    csrf_token: str
    expires_at: float


class Viewer(msgspec.Struct, frozen=True, kw_only=True):
    """Who a console request comes from, as of now."""

    caller: Caller
    csrf_token: str

    @property
    def is_admin(self) -> bool:
        return "admin" in self.caller.scopes


class ConsoleSessions:
    """Sessions in this replica's memory [a sticky load balancer keeps a browser on one replica; a restart signs
    everyone out]. Bounded by `ttl_s` and by the key ring."""

    def __init__(self, keys: KeyRing, *, ttl_s: float = 8 * 3600, clock: Callable[[], float] = time.time) -> None:
        self._keys = keys
        self._ttl_s = ttl_s
        self._clock = clock
        self._sessions: dict[str, Signed] = {}

    def sign_in(self, key: str) -> tuple[str, Caller] | None:
        """A new session id for a valid key with the `admin` or `usage` scope; None for any other key."""
        key_digest = digest(key)
        caller = self._keys.holder(key_digest)
        if caller is None or not caller.scopes & {"admin", "usage"}:
            return None
        self._expire()
        session_id = secrets.token_urlsafe(32)
        self._sessions[session_id] = Signed(
            key_digest=key_digest, csrf_token=secrets.token_urlsafe(32), expires_at=self._clock() + self._ttl_s
        )
        return session_id, caller

    def viewer(self, session_id: str | None) -> Viewer | None:
        """The session's viewer while the session lives and its key is still accepted (else it ends)."""
        signed = self._sessions.get(session_id or "")
        if signed is None or session_id is None:
            return None
        caller = self._keys.holder(signed.key_digest)
        if caller is None or signed.expires_at <= self._clock():
            del self._sessions[session_id]
            return None
        return Viewer(caller=caller, csrf_token=signed.csrf_token)

    def sign_out(self, session_id: str | None) -> None:
        self._sessions.pop(session_id or "", None)

    def _expire(self) -> None:
        now = self._clock()
        for session_id in [s for s, signed in self._sessions.items() if signed.expires_at <= now]:
            del self._sessions[session_id]


def csrf_valid(viewer: Viewer, presented: str | None) -> bool:
    return presented is not None and hmac.compare_digest(viewer.csrf_token.encode(), presented.encode())
