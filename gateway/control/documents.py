"""The control plane's documents and how a change to one is checked: each is a table of the config file
(`[routing]`, `[quotas]`, `[[keys]]`), decoded with the file's own structs so an error names the same path. No I/O."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from gateway.config import Scope, entry_error
from gateway.errors import InvalidRequest
from gateway.usage.quota_settings import QuotaLimits, QuotaSettings
from routing.rules import RoutingRules, RulesError, RulesHolder

Kind = Literal["routing", "quotas", "keys"]
KINDS: tuple[Kind, ...] = ("routing", "quotas", "keys")

KeyId = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")]
TeamName = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")]
Sha256 = Annotated[str, msgspec.Meta(pattern="^[0-9a-f]{64}$")]


class KeyRecord(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A client key as the control plane keeps it: the sha256 of the secret, never the secret. After a rotation
    the replaced digest is accepted until `previous_until`. Times are unix seconds."""

    id: str  # as the file or `KeyCreate` gave it (the file's key ids predate the pattern)
    team: str
    scopes: frozenset[Scope]
    sha256: Sha256
    created_at: float
    expires_at: float | None = None
    revoked_at: float | None = None
    previous_sha256: Sha256 | None = None
    previous_until: float | None = None

    def live(self, now: float) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


class KeysDocument(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    keys: tuple[KeyRecord, ...] = ()

    def get(self, key_id: str) -> KeyRecord | None:
        return next((key for key in self.keys if key.id == key_id), None)

    def replaced(self, record: KeyRecord) -> KeysDocument:
        """This document with `record` in place of the key with its id, or added at the end."""
        if self.get(record.id) is None:
            return KeysDocument(keys=(*self.keys, record))
        return KeysDocument(keys=tuple(record if key.id == record.id else key for key in self.keys))


Document = RoutingRules | QuotaSettings | KeysDocument
DOCUMENT_TYPES: dict[Kind, type[Document]] = {
    "routing": RoutingRules,
    "quotas": QuotaSettings,
    "keys": KeysDocument,
}
EMPTY: dict[Kind, Document] = {"routing": RoutingRules(), "quotas": QuotaSettings(), "keys": KeysDocument()}


def encode(document: Document) -> bytes:
    """The canonical JSON of a document: the same content always gives the same bytes."""
    return msgspec.json.encode(document, order="deterministic")


def decode(kind: Kind, data: bytes) -> Document:
    return msgspec.json.decode(data, type=DOCUMENT_TYPES[kind])


def routing_table(table: Any, rules: RulesHolder, *, source: str) -> RoutingRules:
    """A `[routing]` table from a request body: checked as the file's; a 400 naming the path when it is not."""
    try:
        return rules.convert(table, source=source)
    except RulesError as exc:
        raise InvalidRequest(f"{exc.detail} - at `{exc.path}`", code="invalid_routing_rules", param=exc.path) from exc


def quotas_table(table: Any) -> QuotaSettings:
    """A `[quotas]` table from a request body, checked as the file's; a 400 naming the path when it is not."""
    return _quotas({"quotas": table})


LimitScope = Literal["teams", "keys"]


def quota_limits(limits: Any, *, scope: LimitScope, name: str) -> QuotaLimits:
    """One team's quota limits (`[quotas.teams.<name>]`) or one key's (`[quotas.keys.<name>]`), checked as the
    file's (an error names that path)."""
    checked = _quotas({"quotas": {scope: {name: limits}}})
    return (checked.keys if scope == "keys" else checked.teams)[name]


class _QuotasFile(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    quotas: QuotaSettings = QuotaSettings()


def _quotas(raw: dict[str, Any]) -> QuotaSettings:
    try:
        return msgspec.convert(raw, _QuotasFile).quotas
    except msgspec.ValidationError as exc:
        message = str(exc)
        if "[...]" in message:
            message = entry_error(raw) or message
        detail, _, path = message.rpartition(" - at `")
        path = path.rstrip("`") or "$"
        raise InvalidRequest(f"{detail or message} - at `{path}`", code="invalid_value", param=path) from exc
