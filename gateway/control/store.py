"""The versioned document store: per document the current version, a bounded history and one audit trail, each
write a compare-and-set on the version; a change notifies every listener. One interface, memory and Redis
(gateway/control/store_redis.py) implementations, one contract suite. It stores bytes; what they mean is
gateway/control/documents.py's."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol

import msgspec

from gateway.control.documents import Kind

Wake = Callable[[], None]


class Revision(msgspec.Struct, frozen=True, kw_only=True):
    """One version of one document: its canonical JSON, who wrote it (a key id, or `file:` + path) and when."""

    kind: Kind
    version: int
    document: bytes
    actor: str
    at: float
    action: str


_NULL: msgspec.Raw = msgspec.Raw(b"null")


class AuditEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One change: what changed (`target`: a key id, team or provider when the change was to one entry), who,
    when, and the entry or document before and after (JSON; never a key secret or digest)."""

    kind: Kind
    version: int
    action: str
    actor: str
    at: float
    target: str | None = None
    before: msgspec.Raw = msgspec.field(default_factory=lambda: _NULL)
    after: msgspec.Raw = msgspec.field(default_factory=lambda: _NULL)


class StaleVersion(Exception):
    """A write named a version that is no longer the current one."""

    def __init__(self, kind: Kind, current: int) -> None:
        super().__init__(f"{kind} is at version {current}")
        self.kind = kind
        self.current = current


class ControlStore(Protocol):
    async def versions(self) -> dict[Kind, int]:
        """The current version of every document written so far (one cheap read: the watchers' timer)."""
        ...

    async def current(self, kind: Kind) -> Revision | None: ...

    async def revision(self, kind: Kind, version: int) -> Revision | None:
        """A version still in the history, else None."""
        ...

    async def history(self, kind: Kind) -> list[Revision]:
        """The kept versions, newest first."""
        ...

    async def commit(self, revision: Revision, audit: AuditEntry) -> None:
        """Store `revision` as the new current version when it is exactly one above the current one (0: none yet),
        append `audit` and notify; raise StaleVersion otherwise, writing nothing."""
        ...

    async def audit(self, *, kind: Kind | None, since: float, until: float, limit: int) -> list[AuditEntry]:
        """Audit entries written in [since, until), of `kind` (None: any), newest first."""
        ...

    async def listen(self, wake: Wake) -> None:
        """Call `wake` on every change, until cancelled; returns or raises when notifications are cut off."""
        ...

    async def touch(self, last_used: dict[str, float]) -> None:
        """Record when keys were last used (a batch; a later time wins)."""
        ...

    async def last_used(self) -> dict[str, float]: ...


class MemoryControlStore:
    """One process: documents in dicts, listeners called in the writer's task."""

    def __init__(self, *, history: int = 50, audit_entries: int = 10_000) -> None:
        self._history_limit = history
        self._audit_limit = audit_entries
        self._revisions: dict[Kind, dict[int, Revision]] = {}
        self._current: dict[Kind, int] = {}
        self._audit: list[AuditEntry] = []
        self._listeners: set[Wake] = set()
        self._last_used: dict[str, float] = {}

    async def versions(self) -> dict[Kind, int]:
        return dict(self._current)

    async def current(self, kind: Kind) -> Revision | None:
        return self._revisions.get(kind, {}).get(self._current.get(kind, 0))

    async def revision(self, kind: Kind, version: int) -> Revision | None:
        return self._revisions.get(kind, {}).get(version)

    async def history(self, kind: Kind) -> list[Revision]:
        kept = self._revisions.get(kind, {})
        return [kept[version] for version in sorted(kept, reverse=True)]

    async def commit(self, revision: Revision, audit: AuditEntry) -> None:
        current = self._current.get(revision.kind, 0)
        if revision.version != current + 1:
            raise StaleVersion(revision.kind, current)
        kept = self._revisions.setdefault(revision.kind, {})
        kept[revision.version] = revision
        kept.pop(revision.version - self._history_limit, None)
        self._current[revision.kind] = revision.version
        self._audit.append(audit)
        del self._audit[: -self._audit_limit]
        for wake in list(self._listeners):
            wake()

    async def audit(self, *, kind: Kind | None, since: float, until: float, limit: int) -> list[AuditEntry]:
        window = [entry for entry in self._audit if since <= entry.at < until and kind in (None, entry.kind)]
        return sorted(window, key=lambda entry: entry.at, reverse=True)[:limit]

    async def listen(self, wake: Wake) -> None:
        self._listeners.add(wake)
        try:
            await asyncio.Event().wait()
        finally:
            self._listeners.discard(wake)

    async def touch(self, last_used: dict[str, float]) -> None:
        for key_id, at in last_used.items():
            self._last_used[key_id] = max(at, self._last_used.get(key_id, 0.0))

    async def last_used(self) -> dict[str, float]:
        return dict(self._last_used)
