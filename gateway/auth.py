"""Client keys: stored as sha256 digests only, looked up by digest and compared in constant time. The control plane
replaces the accepted set at runtime (gateway/control/watcher.py); last-used times are kept here and handed over
in batches, never written per request."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Iterable

import msgspec

from gateway.config import ApiKeyConfig, Scope, secret_from_env
from gateway.errors import Forbidden, Unauthorized

KEY_PREFIX = "vgk_"
_INDEX = 16
_NO_DIGEST = "-" * 64


class Caller(msgspec.Struct, frozen=True, kw_only=True):
    key_id: str
    team: str
    scopes: frozenset[Scope]

    def require(self, scope: Scope) -> None:
        if scope not in self.scopes:
            raise Forbidden(f"this key lacks the `{scope}` scope", code="missing_scope")


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    """A fresh client key: 32 random bytes, URL-safe, with a recognisable prefix for secret scanners."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


class KeyRing:
    """The keys a gateway accepts. Holds digests, never keys; a digest may be valid only until a time (an expiring
    key, or the old secret of a rotated one)."""

    def __init__(self, keys: dict[str, Caller], *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._used: dict[str, float] = {}
        self._by_prefix: dict[str, tuple[str, Caller, float | None]] = {}
        self.replace((d, caller, None) for d, caller in keys.items())

    @classmethod
    def from_config(cls, keys: tuple[ApiKeyConfig, ...]) -> KeyRing:
        by_digest: dict[str, Caller] = {}
        for key in keys:
            value = key.sha256 or digest(secret_from_env(key.key_env or "", what=f"keys[{key.id}]"))
            by_digest[value] = Caller(key_id=key.id, team=key.team, scopes=key.scopes)
        return cls(by_digest)

    def replace(self, entries: Iterable[tuple[str, Caller, float | None]]) -> None:
        """Accept exactly these (digest, caller, valid until or None) from now on: one reference swap."""
        # Indexed by a digest prefix; the full digest is then compared in constant time, so the lookup's
        # timing says nothing about the rest of a stored digest.
        self._by_prefix = {d[:_INDEX]: (d, caller, until) for d, caller, until in entries}

    def entries(self) -> list[tuple[str, Caller]]:
        """(digest, caller) of every accepted key: what seeds an empty control plane."""
        return [(d, caller) for d, caller, _ in self._by_prefix.values()]

    def callers(self) -> list[Caller]:
        """Who the keys belong to (key ids and teams: what metrics may use as labels)."""
        return [caller for _, caller, _ in self._by_prefix.values()]

    def authenticate(self, authorization: str | None) -> Caller:
        if not authorization:
            raise Unauthorized("missing Authorization header; send `Authorization: Bearer <key>`", code="missing_key")
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("Authorization must be `Bearer <key>`", code="invalid_authorization")
        caller = self.holder(digest(token))
        if caller is None:
            raise Unauthorized("invalid API key", code="invalid_key")
        self._used[caller.key_id] = self._clock()
        return caller

    def holder(self, key_digest: str) -> Caller | None:
        """Who holds the key with this digest, while the ring accepts it (None once revoked, expired or rotated
        out): what a console session, which keeps the digest and never the key, checks on every request."""
        stored, caller, until = self._by_prefix.get(key_digest[:_INDEX], (_NO_DIGEST, None, None))
        if not hmac.compare_digest(key_digest, stored) or caller is None:
            return None
        if until is not None and until <= self._clock():
            return None
        return caller

    def used(self) -> dict[str, float]:
        """When each key was last used since the last `take_used` (not yet written)."""
        return dict(self._used)

    def take_used(self) -> dict[str, float]:
        """When each key was last used since the previous call (the batch the control plane writes)."""
        used, self._used = self._used, {}
        return used
