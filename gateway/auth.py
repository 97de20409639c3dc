"""Client keys: stored as sha256 digests only, looked up by digest and compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
import secrets

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
    """The keys a gateway accepts. Holds digests, never keys."""

    def __init__(self, keys: dict[str, Caller]) -> None:
        # Indexed by a digest prefix; the full digest is then compared in constant time, so the lookup's
        # timing says nothing about the rest of a stored digest.
        self._by_prefix = {d[:_INDEX]: (d, caller) for d, caller in keys.items()}

    @classmethod
    def from_config(cls, keys: tuple[ApiKeyConfig, ...]) -> KeyRing:
        by_digest: dict[str, Caller] = {}
        for key in keys:
            value = key.sha256 or digest(secret_from_env(key.key_env or "", what=f"keys[{key.id}]"))
            by_digest[value] = Caller(key_id=key.id, team=key.team, scopes=key.scopes)
        return cls(by_digest)

    def callers(self) -> list[Caller]:
        """Who the keys belong to (key ids and teams: what metrics may use as labels)."""
        return [caller for _, caller in self._by_prefix.values()]

    def authenticate(self, authorization: str | None) -> Caller:
        if not authorization:
            raise Unauthorized("missing Authorization header; send `Authorization: Bearer <key>`", code="missing_key")
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("Authorization must be `Bearer <key>`", code="invalid_authorization")
        presented = digest(token)
        stored, caller = self._by_prefix.get(presented[:_INDEX], (_NO_DIGEST, None))
        if not hmac.compare_digest(presented, stored) or caller is None:
            raise Unauthorized("invalid API key", code="invalid_key")
        return caller
