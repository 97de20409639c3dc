"""Changes to the control plane's documents: read, write as a compare-and-set on the version with one audit entry,
roll back to a kept version, seed an empty plane from the file. What a change means is documents.py's and
keys.py's; applying it to this replica is watcher.py's."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import msgspec
import structlog

from gateway.control.documents import EMPTY, Document, Kind, decode, encode
from gateway.control.store import AuditEntry, ControlStore, Revision, StaleVersion
from gateway.errors import NotFound, PreconditionFailed

log = structlog.get_logger("gateway.control")

# A change to one entry (a key, a team) made without If-Match re-reads and retries this often when another write
# lands first; past that the caller gets the 412.
_RETRIES = 5


class Current(NamedTuple):
    version: int
    document: Document


class Change(NamedTuple):
    """A new document, what the audit entry says changed (`target`, before and after as builtins), and what the
    write answers (a new key's secret: never in the document or the audit)."""

    document: Document
    target: str | None = None
    before: Any = None
    after: Any = None
    reply: Any = None


Edit = Callable[[Current], Change]


class ControlPlane:
    def __init__(self, store: ControlStore, *, clock: Callable[[], float]) -> None:
        self.store = store
        self._clock = clock

    def now(self) -> float:
        return self._clock()

    async def read(self, kind: Kind) -> Current:
        """The current version of `kind` (0 and the empty document before anything was written)."""
        revision = await self.store.current(kind)
        if revision is None:
            return Current(0, EMPTY[kind])
        return Current(revision.version, decode(kind, revision.document))

    async def write(self, kind: Kind, change: Change, *, expected: int, actor: str, action: str) -> Revision:
        """Commit `change` as version `expected + 1`; a 412 naming the current version when `expected` is stale."""
        revision = Revision(
            kind=kind,
            version=expected + 1,
            document=encode(change.document),
            actor=actor,
            at=self._clock(),
            action=action,
        )
        audit = AuditEntry(
            kind=kind,
            version=revision.version,
            action=action,
            actor=actor,
            at=revision.at,
            target=change.target,
            before=_raw(change.before),
            after=_raw(change.after),
        )
        try:
            await self.store.commit(revision, audit)
        except StaleVersion as exc:
            raise PreconditionFailed(
                f"{kind} is at version {exc.current}, not {expected}: read it again and retry",
                code="version_mismatch",
                headers={"ETag": etag(exc.current)},
            ) from exc
        log.info("control_document_changed", kind=kind, version=revision.version, action=action, actor=actor)
        return revision

    async def edit(
        self, kind: Kind, edit: Edit, *, expected: int | None, actor: str, action: str
    ) -> tuple[Revision | None, Change]:
        """Apply `edit` to the current document and commit it. With `expected`, only on that version; without, on
        whichever is current, retrying when another write lands first. An edit that changes nothing commits
        nothing (None)."""
        for _ in range(_RETRIES):
            current = await self.read(kind)
            if expected is not None and expected != current.version:
                raise PreconditionFailed(
                    f"{kind} is at version {current.version}, not {expected}: read it again and retry",
                    code="version_mismatch",
                    headers={"ETag": etag(current.version)},
                )
            change = edit(current)
            if current.version and encode(change.document) == encode(current.document):
                return None, change
            try:
                return await self.write(kind, change, expected=current.version, actor=actor, action=action), change
            except PreconditionFailed:
                if expected is not None:
                    raise
        raise PreconditionFailed(f"{kind} kept changing under this write: retry", code="version_mismatch")

    async def rollback(self, kind: Kind, version: int, *, expected: int, actor: str) -> Revision:
        """Make a kept earlier version current again, as a new version (history only moves forward)."""
        earlier = await self.store.revision(kind, version)
        if earlier is None:
            raise NotFound(f"{kind} version {version} is not in the kept history", param="version")
        current = await self.read(kind)
        document = decode(kind, earlier.document)
        before, after = _public(kind, current.document), _public(kind, document)
        change = Change(document, target=f"v{version}", before=before, after=after)
        return await self.write(kind, change, expected=expected, actor=actor, action="rollback")

    async def seed(self, kind: Kind, document: Document, *, actor: str) -> None:
        """Write `document` as version 1 when `kind` has never been written; another replica seeding first wins."""
        if (await self.store.current(kind)) is not None:
            return
        change = Change(document, after=_public(kind, document))
        try:
            await self.write(kind, change, expected=0, actor=actor, action="seed")
        except PreconditionFailed:
            log.info("control_seed_skipped", kind=kind, reason="seeded by another replica")


def etag(version: int) -> str:
    return f'"{version}"'


def _public(kind: Kind, document: Document) -> Any:
    """What an audit entry may show of a whole document: the keys document only as ids (no digests)."""
    if kind == "keys":
        return {"keys": [key.id for key in getattr(document, "keys", ())]}
    return msgspec.to_builtins(document)


def _raw(value: Any) -> msgspec.Raw:
    return msgspec.Raw(msgspec.json.encode(value, order="deterministic"))
