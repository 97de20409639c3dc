"""Client keys in the control plane: create, revoke, rotate as pure changes to the keys document, and the view a
reply may show (never the digest). The new secret leaves only in the create/rotate reply."""

from __future__ import annotations

import secrets
from typing import Annotated

import msgspec

from gateway.auth import Caller, digest, new_key
from gateway.config import Scope
from gateway.control.documents import KeyId, KeyRecord, KeysDocument, TeamName
from gateway.errors import Conflict, NotFound


class KeyCreate(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`POST /v1/admin/keys`: `id` is made up when left out; `expires_at` in unix seconds."""

    team: TeamName
    """The team the key acts for."""
    scopes: frozenset[Scope] = frozenset({"videos"})
    """`videos` (create and read its team's jobs), `usage` (finance reports), `admin` (the control plane)."""
    id: KeyId | None = None
    """The key id shown in lists, audits and usage; made up when left out."""
    expires_at: Annotated[float, msgspec.Meta(gt=0)] | None = None
    """When the key stops working, unix seconds; never when left out."""


class KeyRotate(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`POST /v1/admin/keys/{id}/rotate` (the body is optional): how long the old secret keeps working, in seconds;
    `[control] rotation_grace_s` when left out, 0 to cut it off at once (a leaked key)."""

    grace_s: Annotated[float, msgspec.Meta(ge=0, le=30 * 86_400)] | None = None


class KeyView(msgspec.Struct, frozen=True, kw_only=True):
    """A key as lists and audit entries show it: no secret, no digest."""

    id: str
    """The key id."""
    team: str
    """The team it acts for."""
    scopes: list[str]
    """Its scopes."""
    created_at: float
    """When it was created, unix seconds."""
    expires_at: float | None = None
    """When it stops working, unix seconds; null for never."""
    revoked_at: float | None = None
    """When it was revoked, unix seconds; null while live."""
    rotated_until: float | None = None
    """After a rotation: until when the previous secret still works, unix seconds."""
    last_used_at: float | None = None
    """When it last authenticated a request, unix seconds (written every `[control] last_used_flush_s`)."""


class IssuedKey(msgspec.Struct, frozen=True, kw_only=True):
    """The one reply that carries a key's secret (create and rotate)."""

    key: str
    """The secret, `vgk_...`: shown in this reply only, never again."""
    id: str
    """The key id."""
    team: str
    """The team it acts for."""
    scopes: list[str]
    """Its scopes."""
    expires_at: float | None = None
    """When it stops working, unix seconds; null for never."""
    previous_valid_until: float | None = None
    """After a rotation: until when the previous secret still works, unix seconds."""


def view(record: KeyRecord, *, last_used_at: float | None = None) -> KeyView:
    return KeyView(
        id=record.id,
        team=record.team,
        scopes=sorted(record.scopes),
        created_at=record.created_at,
        expires_at=record.expires_at,
        revoked_at=record.revoked_at,
        rotated_until=record.previous_until,
        last_used_at=last_used_at,
    )


def create(document: KeysDocument, request: KeyCreate, *, now: float) -> tuple[KeysDocument, KeyRecord, str]:
    """The document with a new key, the key's record and its secret; a taken id is a 409."""
    key_id = request.id or f"key_{secrets.token_hex(6)}"
    if document.get(key_id) is not None:
        raise Conflict(f"a key with id {key_id!r} exists", code="key_exists", param="id")
    secret = new_key()
    record = KeyRecord(
        id=key_id,
        team=request.team,
        scopes=request.scopes,
        sha256=digest(secret),
        created_at=now,
        expires_at=request.expires_at,
    )
    return document.replaced(record), record, secret


def revoke(document: KeysDocument, key_id: str, *, now: float) -> tuple[KeysDocument, KeyRecord]:
    """The document with the key revoked (already revoked: unchanged). Refused (409) for the last live admin key:
    ops would lock themselves out."""
    record = _live(document, key_id, now=now, allow_revoked=True)
    if record.revoked_at is not None:
        return document, record
    admins = [key for key in document.keys if key.live(now) and "admin" in key.scopes]
    if "admin" in record.scopes and [key.id for key in admins] == [record.id]:
        raise Conflict(
            f"{key_id!r} is the last admin key: create another admin key before revoking it", code="last_admin_key"
        )
    revoked = msgspec.structs.replace(record, revoked_at=now, previous_sha256=None, previous_until=None)
    return document.replaced(revoked), revoked


def rotate(document: KeysDocument, key_id: str, *, now: float, grace_s: float) -> tuple[KeysDocument, KeyRecord, str]:
    """The document with a new secret for the key; the old one keeps working `grace_s` more."""
    record = _live(document, key_id, now=now)
    secret = new_key()
    rotated = msgspec.structs.replace(
        record, sha256=digest(secret), previous_sha256=record.sha256, previous_until=now + grace_s
    )
    return document.replaced(rotated), rotated, secret


def issued(record: KeyRecord, secret: str) -> IssuedKey:
    return IssuedKey(
        key=secret,
        id=record.id,
        team=record.team,
        scopes=sorted(record.scopes),
        expires_at=record.expires_at,
        previous_valid_until=record.previous_until,
    )


def accepted(document: KeysDocument) -> list[tuple[str, Caller, float | None]]:
    """What a keyring accepts: (digest, caller, valid until) for every unrevoked key and any rotated-out digest."""
    entries: list[tuple[str, Caller, float | None]] = []
    for record in document.keys:
        if record.revoked_at is not None:
            continue
        caller = Caller(key_id=record.id, team=record.team, scopes=record.scopes)
        entries.append((record.sha256, caller, record.expires_at))
        if record.previous_sha256 is not None and record.previous_until is not None:
            until = min(record.previous_until, record.expires_at or record.previous_until)
            entries.append((record.previous_sha256, caller, until))
    return entries


def _live(document: KeysDocument, key_id: str, *, now: float, allow_revoked: bool = False) -> KeyRecord:
    record = document.get(key_id)
    if record is None:
        raise NotFound(f"no key {key_id!r}", param="key_id")
    if record.revoked_at is not None and not allow_revoked:
        raise Conflict(f"key {key_id!r} is revoked", code="key_revoked")
    return record
