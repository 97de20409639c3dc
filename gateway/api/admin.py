"""The control plane's admin API (`admin` scope): the routing table, provider switches, quotas, client keys, the
audit trail and the live replicas. Whole-document and entry writes need `If-Match` with the document's version
(428 without, 412 when stale); key operations change one key and need none."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, delete, get, post, put
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromQuery, PathParameter, QueryParameter

from gateway.api.operations import Explanation, explanation
from gateway.api.videos import Session
from gateway.config import ControlSettings
from gateway.control import keys as key_changes
from gateway.control.documents import (
    Document,
    KeysDocument,
    Kind,
    LimitScope,
    TeamName,
    decode,
    quota_limits,
    quotas_table,
    routing_table,
)
from gateway.control.plane import Change, ControlPlane, Current, Edit, etag
from gateway.control.watcher import ControlWatcher
from gateway.errors import ErrorEnvelope, InvalidRequest, NotFound, PreconditionRequired, from_validation
from gateway.schema.wire import CreateVideoBody
from gateway.store.replicas import Replicas, ReplicaStatus
from gateway.usage.quota_settings import QuotaLimits, QuotaSettings
from routing.planner import Planner
from routing.rules import ProviderRule, RoutingRules, RulesHolder

_Version = Annotated[int, msgspec.Meta(ge=1)]
_Slug = Annotated[str, PathParameter(max_length=128)]
_Team = Annotated[str, PathParameter(max_length=64)]
_KeyIdParam = Annotated[str, PathParameter(max_length=64)]


class ControlRoom:
    """What the admin routes work with, built once by gateway/app.py."""

    def __init__(
        self,
        *,
        plane: ControlPlane,
        watcher: ControlWatcher,
        replicas: Replicas,
        rules: RulesHolder,
        settings: ControlSettings,
        last_used: Callable[[], dict[str, float]],
    ) -> None:
        self.plane = plane
        self.watcher = watcher
        self.replicas = replicas
        self.rules = rules
        self.settings = settings
        self.last_used = last_used


class Versioned(msgspec.Struct, kw_only=True):
    """A document (or one entry of it) with the document's version, which is also the reply's `ETag`."""

    kind: str
    """The document: `routing`, `quotas` or `keys`."""
    version: int
    """The document's version (also the reply's `ETag`; send it back as `If-Match` to change it)."""
    value: Any
    """The document, or the one entry asked for (null when there is none)."""


class RollbackBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    version: _Version


class PreviewBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A proposed `[routing]` table and a create body; `team` evaluates the rules as that team (default: yours)."""

    routing: msgspec.Raw
    request: msgspec.Raw
    team: TeamName | None = None


class Preview(msgspec.Struct, kw_only=True):
    active: Explanation
    """The plan under the routing table in force."""
    proposed: Explanation
    """The plan under the proposed table (nothing is applied)."""


class RevisionView(msgspec.Struct, kw_only=True):
    version: int
    action: str
    actor: str
    at: float


class AuditView(msgspec.Struct, kw_only=True):
    kind: str
    version: int
    action: str
    actor: str
    at: float
    target: str | None
    before: Any
    after: Any


class Listing(msgspec.Struct, kw_only=True):
    object: str = "list"
    """Always `list`."""
    data: list[Any]
    """The items."""


def _errors(*statuses: int) -> dict[int, ResponseSpec]:
    described = {
        400: "invalid body: the message and `param` name the path of the first error; nothing changed",
        403: "the key lacks the `admin` scope",
        404: "no such entry or version",
        409: "the change is refused (a taken key id, the last admin key)",
        412: "`If-Match` names a version that is no longer current (the reply's ETag is the current one)",
        428: "`If-Match` is missing: writes name the version they change",
    }
    return {s: ResponseSpec(ErrorEnvelope, description=described[s], generate_examples=False) for s in (403, *statuses)}


def _room(request: Request[Any, Any, Any], session: Session) -> ControlRoom:
    session.caller.require("admin")
    room: ControlRoom = request.app.state.control
    return room


def _if_match(request: Request[Any, Any, Any]) -> int:
    raw = request.headers.get("if-match")
    if raw is None:
        raise PreconditionRequired("send `If-Match` with the version you read (its ETag)", code="if_match_missing")
    value = raw.strip().removeprefix("W/").strip('"')
    if not value.isdigit():
        raise InvalidRequest(f'If-Match {raw!r} is not a version such as "3"', code="invalid_value", param="If-Match")
    return int(value)


async def _json(request: Request[Any, Any, Any]) -> Any:
    try:
        return msgspec.json.decode(await request.body())
    except msgspec.DecodeError as exc:
        raise from_validation(exc) from exc


def _decoded(data: bytes, kind: type[Any], *, under: str | None = None) -> Any:
    try:
        return msgspec.json.decode(data, type=kind)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        error = from_validation(exc)
        if under:
            error.param = f"{under}.{error.param}" if error.param else under
            error.message = f"{error.message} (in `{under}`)"
        raise error from exc


def _versioned(kind: Kind, version: int, value: Any) -> Response[Versioned]:
    body = Versioned(kind=kind, version=version, value=msgspec.to_builtins(value))
    return Response(body, headers={"ETag": etag(version)})


async def _read(request: Request[Any, Any, Any], session: Session, kind: Kind) -> Response[Versioned]:
    current = await _room(request, session).plane.read(kind)
    return _versioned(kind, current.version, current.document)


async def _replace(
    request: Request[Any, Any, Any], session: Session, kind: Kind, checked: Callable[[Any, ControlRoom], Document]
) -> Response[Versioned]:
    """A whole document from the body, checked as the file's table, as the version after the If-Match one."""
    room = _room(request, session)
    expected = _if_match(request)
    document = checked(await _json(request), room)
    version = await replace_document(room, kind, document, expected=expected, actor=session.caller.key_id)
    return _versioned(kind, version, document)


async def replace_document(room: ControlRoom, kind: Kind, document: Document, *, expected: int, actor: str) -> int:
    """A checked document as the version after `expected`, run here at once; the new version."""
    before = await room.plane.read(kind)
    change = Change(document, before=msgspec.to_builtins(before.document), after=msgspec.to_builtins(document))
    revision = await room.plane.write(kind, change, expected=expected, actor=actor, action="put")
    await room.watcher.catch_up()
    return revision.version


async def _rollback(request: Request[Any, Any, Any], session: Session, kind: Kind) -> Response[Versioned]:
    """A kept version of `kind` made current again, as the version after the If-Match one (never for keys: that
    could bring back a revoked key)."""
    room = _room(request, session)
    expected = _if_match(request)
    body: RollbackBody = _decoded(await request.body(), RollbackBody)
    revision = await room.plane.rollback(kind, body.version, expected=expected, actor=session.caller.key_id)
    return await _written(room, kind, revision.version, decode(kind, revision.document))


async def _history(request: Request[Any, Any, Any], session: Session, kind: Kind) -> Listing:
    revisions = await _room(request, session).plane.store.history(kind)
    return Listing(data=[RevisionView(version=r.version, action=r.action, actor=r.actor, at=r.at) for r in revisions])


async def _written(room: ControlRoom, kind: Kind, version: int, value: Any) -> Response[Versioned]:
    """The reply to a write, once this replica runs it (the others follow within `check_s`)."""
    await room.watcher.catch_up()
    return _versioned(kind, version, value)


# ------------------------------------------------------------------------------------------------ routing


@get(
    "/v1/admin/routing",
    summary="The routing table in force, versioned",
    operation_id="adminGetRouting",
    responses=_errors(),
)
async def get_routing(request: Request[Any, Any, Any], session: NamedDependency[Session]) -> Response[Versioned]:
    """The `[routing]` table every replica runs now, with its version (also the reply's `ETag`); send that version
    as `If-Match` to change it."""
    return await _read(request, session, "routing")


@put(
    "/v1/admin/routing",
    summary="Replace the routing table (If-Match)",
    operation_id="adminPutRouting",
    responses=_errors(400, 412, 428),
)
async def put_routing(request: Request[Any, Any, Any], session: NamedDependency[Session]) -> Response[Versioned]:
    """Replace the whole table, checked as the config file's `[routing]` (a 400 names the first bad path);
    `If-Match` must name the current version (428 without it, 412 when stale). Every replica runs the new version
    within a second."""

    def checked(table: Any, room: ControlRoom) -> Document:
        return routing_table(table, room.rules, source="PUT /v1/admin/routing")

    return await _replace(request, session, "routing", checked)


@post(
    "/v1/admin/routing/rollback",
    status_code=200,
    summary="Restore a kept routing table as a new version",
    operation_id="adminRollbackRouting",
    responses=_errors(400, 404, 412, 428),
)
async def rollback_routing(request: Request[Any, Any, Any], session: NamedDependency[Session]) -> Response[Versioned]:
    """Make a kept version current again, as a new version (`If-Match`: the current one); 404 when that version is
    not kept."""
    return await _rollback(request, session, "routing")


@get(
    "/v1/admin/routing/history",
    summary="The kept routing versions, newest first",
    operation_id="adminRoutingHistory",
    responses=_errors(),
)
async def routing_history(request: Request[Any, Any, Any], session: NamedDependency[Session]) -> Listing:
    """The kept versions of the routing table, newest first."""
    return await _history(request, session, "routing")


@post(
    "/v1/admin/routing/preview",
    status_code=200,
    operation_id="adminPreviewRouting",
    summary="The plan for a create body under a proposed table beside the active one; nothing is applied",
    responses=_errors(400),
)
async def preview_routing(request: Request[Any, Any, Any], session: NamedDependency[Session]) -> Preview:
    """Plan a create body under a proposed routing table and under the active one, side by side; nothing is applied
    or submitted."""
    room = _room(request, session)
    body: PreviewBody = _decoded(await request.body(), PreviewBody)
    table = routing_table(msgspec.json.decode(body.routing), room.rules, source="preview")
    create: CreateVideoBody = _decoded(body.request, CreateVideoBody, under="request")
    return await preview(room, session, table, create, team=body.team)


async def preview(
    room: ControlRoom, session: Session, table: RoutingRules, create: CreateVideoBody, *, team: str | None
) -> Preview:
    """The plan for `create` under the active rules and under `table`, as `team` (default: the caller's)."""
    caller = session.caller if team is None else msgspec.structs.replace(session.caller, team=team)
    return Preview(
        active=await explanation(session, caller, create),
        proposed=await explanation(session, caller, create, planner=planner_under(room, session, table)),
    )


def planner_under(room: ControlRoom, session: Session, table: RoutingRules) -> Planner:
    """The planner in force with `table` for its rules: what a create would be offered if `table` were applied
    (the same catalogue, gate and speeds); nothing is applied."""
    active = session.service.planner
    proposed_rules = RulesHolder(
        table, known_providers=room.rules.known_providers, known_models=room.rules.known_models, source="preview"
    )
    return Planner(
        router=active.router, rules=proposed_rules, gate=active.gate, speeds=active.speeds, clock=session.service.now
    )


# ------------------------------------------------------------------------------------------------ providers


@get(
    "/v1/admin/providers/{slug:str}",
    summary="A provider's switches: enabled, drain, weight",
    operation_id="adminGetProvider",
    responses=_errors(404),
)
async def get_provider(
    request: Request[Any, Any, Any], session: NamedDependency[Session], slug: _Slug
) -> Response[Versioned]:
    """A provider's runtime switches (enabled, drain, weight) from the routing table, with the table's version; 404
    for a provider not configured."""
    room = _room(request, session)
    _known_provider(room, slug)
    current = await room.plane.read("routing")
    return _versioned("routing", current.version, _rules(current).providers.get(slug, ProviderRule()))


@put(
    "/v1/admin/providers/{slug:str}",
    summary="Set a provider's switches (If-Match: the routing version)",
    operation_id="adminPutProvider",
    responses=_errors(400, 404, 412, 428),
)
async def put_provider(
    request: Request[Any, Any, Any], session: NamedDependency[Session], slug: _Slug
) -> Response[Versioned]:
    """Set a provider's switches: a new routing version (`If-Match`: the current routing version)."""
    room = _room(request, session)
    expected = _if_match(request)
    switches = await _json(request)
    version, after = await set_provider(room, slug, switches, expected=expected, actor=session.caller.key_id)
    return _versioned("routing", version, after)


async def set_provider(
    room: ControlRoom, slug: str, switches: Any, *, expected: int, actor: str
) -> tuple[int, ProviderRule]:
    """A provider's switches (as JSON builtins) written as the routing version after `expected`, run here at once:
    the new version and the provider's rule (the admin API's and the console's one path)."""
    _known_provider(room, slug)
    current = await room.plane.read("routing")
    rules = _rules(current)
    table = msgspec.to_builtins(rules)
    table.setdefault("providers", {})[slug] = switches
    changed = routing_table(table, room.rules, source=f"PUT /v1/admin/providers/{slug}")
    before = msgspec.to_builtins(rules.providers.get(slug, ProviderRule()))
    after = changed.providers[slug]
    change = Change(changed, target=slug, before=before, after=msgspec.to_builtins(after))
    revision = await room.plane.write("routing", change, expected=expected, actor=actor, action="provider")
    await room.watcher.catch_up()
    return revision.version, after


def _known_provider(room: ControlRoom, slug: str) -> None:
    if slug not in room.rules.known_providers:
        raise NotFound(f"no provider {slug!r} is configured", param="slug")


def _rules(current: Current) -> RoutingRules:
    assert isinstance(current.document, RoutingRules)
    return current.document


# ------------------------------------------------------------------------------------------------ quotas


@get(
    "/v1/admin/quotas",
    summary="The whole [quotas] table, versioned",
    operation_id="adminGetQuotas",
    responses=_errors(),
)
async def get_quotas(request: Request[Any, Any, Any], session: NamedDependency[Session]) -> Response[Versioned]:
    """The `[quotas]` table every replica enforces now, with its version."""
    return await _read(request, session, "quotas")


@put(
    "/v1/admin/quotas",
    summary="Replace the whole [quotas] table (If-Match)",
    operation_id="adminPutQuotas",
    responses=_errors(400, 412, 428),
)
async def put_quotas(request: Request[Any, Any, Any], session: NamedDependency[Session]) -> Response[Versioned]:
    """Replace the whole `[quotas]` table, checked as the config file's; `If-Match` as for routing."""
    return await _replace(request, session, "quotas", lambda table, _: quotas_table(table))


@post(
    "/v1/admin/quotas/rollback",
    status_code=200,
    summary="Restore a kept [quotas] table as a new version",
    operation_id="adminRollbackQuotas",
    responses=_errors(400, 404, 412, 428),
)
async def rollback_quotas(request: Request[Any, Any, Any], session: NamedDependency[Session]) -> Response[Versioned]:
    """Make a kept `[quotas]` version current again, as a new version."""
    return await _rollback(request, session, "quotas")


@get(
    "/v1/admin/quotas/history",
    summary="The kept [quotas] versions, newest first",
    operation_id="adminQuotasHistory",
    responses=_errors(),
)
async def quotas_history(request: Request[Any, Any, Any], session: NamedDependency[Session]) -> Listing:
    """The kept `[quotas]` versions, newest first."""
    return await _history(request, session, "quotas")


@get(
    "/v1/admin/teams/{team:str}",
    summary="A team's quotas and budgets (null: the default_team limits apply)",
    operation_id="adminGetTeam",
    responses=_errors(400),
)
async def get_team(
    request: Request[Any, Any, Any], session: NamedDependency[Session], team: _Team
) -> Response[Versioned]:
    """A team's quotas and budgets; null where the `default_team` limits apply."""
    current = await _room(request, session).plane.read("quotas")
    return _versioned("quotas", current.version, _quotas(current).teams.get(_team(team)))


@put(
    "/v1/admin/teams/{team:str}",
    summary="Set a team's quotas and budgets (If-Match: the quotas version)",
    operation_id="adminPutTeam",
    responses=_errors(400, 412, 428),
)
async def put_team(
    request: Request[Any, Any, Any], session: NamedDependency[Session], team: _Team
) -> Response[Versioned]:
    """Set a team's quotas and budgets: a new `[quotas]` version (`If-Match`: the current quotas version)."""
    room = _room(request, session)
    expected = _if_match(request)
    limits = quota_limits(await _json(request), scope="teams", name=_team(team))
    version = await set_limits(room, "teams", team, limits, expected=expected, actor=session.caller.key_id)
    return _versioned("quotas", version, limits)


async def set_limits(
    room: ControlRoom, scope: LimitScope, name: str, limits: QuotaLimits | None, *, expected: int, actor: str
) -> int:
    """A team's or key's checked limits (None: its own limits removed) as the quotas version after `expected`,
    audited as a `team` or `key` change, run here at once; the new version."""
    current = await room.plane.read("quotas")
    quotas = _quotas(current)
    table = dict(quotas.keys if scope == "keys" else quotas.teams)
    before = table.pop(name, None)
    if limits is not None:
        table[name] = limits
    changed = msgspec.structs.replace(quotas, **{scope: table})
    change = Change(changed, target=name, before=msgspec.to_builtins(before), after=msgspec.to_builtins(limits))
    action = "key" if scope == "keys" else "team"
    revision = await room.plane.write("quotas", change, expected=expected, actor=actor, action=action)
    await room.watcher.catch_up()
    return revision.version


def _team(team: str) -> str:
    return _decoded(msgspec.json.encode(team), TeamName, under="team")  # type: ignore[no-any-return]


def _quotas(current: Current) -> QuotaSettings:
    assert isinstance(current.document, QuotaSettings)
    return current.document


# ------------------------------------------------------------------------------------------------ keys


@post(
    "/v1/admin/keys",
    status_code=201,
    summary="Create a client key; the secret is in this reply only",
    operation_id="adminCreateKey",
    responses=_errors(400, 409),
)
async def create_key(request: Request[Any, Any, Any], session: NamedDependency[Session]) -> key_changes.IssuedKey:
    """Issue a client key for a team with scopes; the secret is in this reply only (the gateway keeps its digest).
    409 when the id is taken."""
    room = _room(request, session)
    body: key_changes.KeyCreate = _decoded(await request.body(), key_changes.KeyCreate)
    return await add_key(room, body, actor=session.caller.key_id)


async def add_key(room: ControlRoom, body: key_changes.KeyCreate, *, actor: str) -> key_changes.IssuedKey:
    """A new client key, accepted here at once; the reply is the only place its secret appears."""

    def add(current: Current) -> Change:
        document, record, secret = key_changes.create(_keys(current), body, now=room.plane.now())
        view = key_changes.view(record)
        return Change(document, target=record.id, after=view, reply=key_changes.issued(record, secret))

    issued: key_changes.IssuedKey = await _key_change(room, actor, add, action="create_key")
    return issued


@get(
    "/v1/admin/keys",
    summary="Every client key (never a secret or digest)",
    operation_id="adminListKeys",
    responses=_errors(),
)
async def list_keys(request: Request[Any, Any, Any], session: NamedDependency[Session]) -> Listing:
    """Every client key with its team and scopes; never a secret or digest."""
    return Listing(data=await key_views(_room(request, session)))


async def key_views(room: ControlRoom) -> list[key_changes.KeyView]:
    """Every client key with when it was last used (never a secret or digest)."""
    current = await room.plane.read("keys")
    used = {**(await room.plane.store.last_used()), **room.last_used()}
    return [key_changes.view(k, last_used_at=used.get(k.id)) for k in _keys(current).keys]


@delete(
    "/v1/admin/keys/{key_id:str}",
    status_code=200,
    summary="Revoke a key (every replica within a second)",
    operation_id="adminRevokeKey",
    responses=_errors(404, 409),
)
async def revoke_key(
    request: Request[Any, Any, Any], session: NamedDependency[Session], key_id: _KeyIdParam
) -> key_changes.KeyView:
    """Revoke a key; every replica refuses it within a second. 409 for the last admin key."""
    return await remove_key(_room(request, session), key_id, actor=session.caller.key_id)


async def remove_key(room: ControlRoom, key_id: str, *, actor: str) -> key_changes.KeyView:
    """Revoke a key, refused here at once (every replica within `check_s`)."""

    def revoke(current: Current) -> Change:
        before = _keys(current).get(key_id)
        document, record = key_changes.revoke(_keys(current), key_id, now=room.plane.now())
        view = key_changes.view(record)
        return Change(document, target=key_id, before=before and key_changes.view(before), after=view, reply=view)

    revoked: key_changes.KeyView = await _key_change(room, actor, revoke, action="revoke_key")
    return revoked


@post(
    "/v1/admin/keys/{key_id:str}/rotate",
    status_code=200,
    operation_id="adminRotateKey",
    summary="A new secret for a key; the old one works for `grace_s` (default `[control] rotation_grace_s`)",
    responses=_errors(404, 409),
)
async def rotate_key(
    request: Request[Any, Any, Any], session: NamedDependency[Session], key_id: _KeyIdParam
) -> key_changes.IssuedKey:
    """Issue a new secret for a key; the old one keeps working for `grace_s`. The secret is in this reply only."""
    room = _room(request, session)
    raw = await request.body()
    asked: key_changes.KeyRotate = _decoded(raw, key_changes.KeyRotate) if raw.strip() else key_changes.KeyRotate()
    grace_s = room.settings.rotation_grace_s if asked.grace_s is None else asked.grace_s
    return await renew_key(room, key_id, grace_s=grace_s, actor=session.caller.key_id)


async def renew_key(room: ControlRoom, key_id: str, *, grace_s: float, actor: str) -> key_changes.IssuedKey:
    """A new secret for a key (the old one valid `grace_s` more); the reply is the only place it appears."""

    def rotate(current: Current) -> Change:
        before = _keys(current).get(key_id)
        document, record, secret = key_changes.rotate(_keys(current), key_id, now=room.plane.now(), grace_s=grace_s)
        view, issued = key_changes.view(record), key_changes.issued(record, secret)
        return Change(document, target=key_id, before=before and key_changes.view(before), after=view, reply=issued)

    rotated: key_changes.IssuedKey = await _key_change(room, actor, rotate, action="rotate_key")
    return rotated


async def _key_change(room: ControlRoom, actor: str, edit: Edit, *, action: str) -> Any:
    """One key's change on whichever keys version is current (no If-Match), run here at once; its reply."""
    _, change = await room.plane.edit("keys", edit, expected=None, actor=actor, action=action)
    await room.watcher.catch_up()
    return change.reply


def _keys(current: Current) -> KeysDocument:
    assert isinstance(current.document, KeysDocument)
    return current.document


# ------------------------------------------------------------------------------------------------ audit, replicas


@get(
    "/v1/admin/audit",
    summary="Who changed what and when, newest first; filter by kind and time",
    operation_id="adminAudit",
    responses=_errors(400),
)
async def get_audit(
    request: Request[Any, Any, Any],
    session: NamedDependency[Session],
    kind: FromQuery[Kind | None] = None,
    since: Annotated[float, QueryParameter(ge=0)] = 0.0,
    until: Annotated[float | None, QueryParameter(ge=0)] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=1_000)] = 100,
) -> Listing:
    """Who changed which control-plane document, what and when, newest first; filter by kind and time."""
    room = _room(request, session)
    entries = await room.plane.store.audit(
        kind=kind, since=since, until=until if until is not None else float("inf"), limit=limit
    )
    return Listing(
        data=[
            AuditView(
                kind=e.kind,
                version=e.version,
                action=e.action,
                actor=e.actor,
                at=e.at,
                target=e.target,
                before=msgspec.json.decode(e.before),
                after=msgspec.json.decode(e.after),
            )
            for e in entries
        ]
    )


@get(
    "/v1/admin/replicas",
    summary="Each live replica: started, last beat, the document versions it runs",
    operation_id="adminReplicas",
    responses=_errors(),
)
async def list_replicas(request: Request[Any, Any, Any], session: NamedDependency[Session]) -> Listing:
    """Each live gateway replica: when it started, its last heartbeat, and the document versions it runs."""
    replicas: list[ReplicaStatus] = await _room(request, session).replicas.live()
    return Listing(data=replicas)


ADMIN_ROUTES = [
    get_routing,
    put_routing,
    rollback_routing,
    routing_history,
    preview_routing,
    get_provider,
    put_provider,
    get_quotas,
    put_quotas,
    rollback_quotas,
    quotas_history,
    get_team,
    put_team,
    create_key,
    list_keys,
    revoke_key,
    rotate_key,
    get_audit,
    list_replicas,
]
