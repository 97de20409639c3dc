"""Console sign-in sessions: an opaque random id (the cookie) to the signing key's digest, never the key itself, and
a CSRF token. The key is checked against the live key ring on every request, so a revoked key's session ends.

Sessions live where the jobs live (`SessionStore`: Redis for every replica, or this process's memory), so a browser
signed in through one replica is signed in on every other, and signing out ends the session everywhere. The store
is keyed by the sha256 of the session id: what it holds cannot be replayed as a cookie."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from typing import Protocol

import msgspec

from gateway.auth import Caller, KeyRing, digest
from gateway.store.connect import RedisClient
from gateway.store.redis import store_errors

COOKIE = "vg_console"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"


class Signed(msgspec.Struct, frozen=True, kw_only=True):
    """One signed-in session: the key's digest (to re-check it), its CSRF token and when it ends (unix s)."""

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


class SessionStore(Protocol):
    """Sessions by handle (the sha256 of the session id), each gone once its `expires_at` has passed."""

    async def put(self, handle: str, signed: Signed) -> None: ...

    async def get(self, handle: str) -> Signed | None: ...

    async def drop(self, handle: str) -> None: ...


class MemorySessionStore:
    """One process's sessions; the lapsed ones are dropped at each sign-in."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._sessions: dict[str, Signed] = {}

    async def put(self, handle: str, signed: Signed) -> None:
        now = self._clock()
        for lapsed in [h for h, s in self._sessions.items() if s.expires_at <= now]:
            del self._sessions[lapsed]
        self._sessions[handle] = signed

    async def get(self, handle: str) -> Signed | None:
        return self._sessions.get(handle)

    async def drop(self, handle: str) -> None:
        self._sessions.pop(handle, None)


class RedisSessionStore:
    """`console_session:<handle>` keys under the store's prefix, each expiring with its session (single-key
    commands, so any Cluster slot will do)."""

    def __init__(self, client: RedisClient, *, prefix: str, clock: Callable[[], float] = time.time) -> None:
        self._redis = client
        self._prefix = prefix
        self._clock = clock

    def _key(self, handle: str) -> str:
        return f"{self._prefix}console_session:{handle}"

    @store_errors
    async def put(self, handle: str, signed: Signed) -> None:
        ttl_ms = max(1, int((signed.expires_at - self._clock()) * 1000))
        await self._redis.set(self._key(handle), msgspec.json.encode(signed), px=ttl_ms)

    @store_errors
    async def get(self, handle: str) -> Signed | None:
        raw = await self._redis.get(self._key(handle))
        return None if raw is None else msgspec.json.decode(raw, type=Signed)

    @store_errors
    async def drop(self, handle: str) -> None:
        await self._redis.delete(self._key(handle))


class ConsoleSessions:
    """Sign-in, the viewer behind a session id, sign-out; bounded by `ttl_s` and by the key ring."""

    def __init__(
        self, keys: KeyRing, store: SessionStore, *, ttl_s: float = 8 * 3600, clock: Callable[[], float] = time.time
    ) -> None:
        self._keys = keys
        self._store = store
        self._ttl_s = ttl_s
        self._clock = clock

    async def sign_in(self, key: str) -> tuple[str, Caller] | None:
        """A new session id for a valid key with the `admin` or `usage` scope; None for any other key."""
        key_digest = digest(key)
        caller = self._keys.holder(key_digest)
        if caller is None or not caller.scopes & {"admin", "usage"}:
            return None
        session_id = secrets.token_urlsafe(32)
        signed = Signed(
            key_digest=key_digest, csrf_token=secrets.token_urlsafe(32), expires_at=self._clock() + self._ttl_s
        )
        await self._store.put(_handle(session_id), signed)
        return session_id, caller

    async def viewer(self, session_id: str | None) -> Viewer | None:
        """The session's viewer while the session lives and its key is still accepted (else it ends)."""
        if not session_id:
            return None
        signed = await self._store.get(_handle(session_id))
        if signed is None:
            return None
        caller = self._keys.holder(signed.key_digest)
        if caller is None or signed.expires_at <= self._clock():
            await self._store.drop(_handle(session_id))
            return None
        return Viewer(caller=caller, csrf_token=signed.csrf_token)

    async def sign_out(self, session_id: str | None) -> None:
        if session_id:
            await self._store.drop(_handle(session_id))


def _handle(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def csrf_valid(viewer: Viewer, presented: str | None) -> bool:
    return presented is not None and hmac.compare_digest(viewer.csrf_token.encode(), presented.encode())
