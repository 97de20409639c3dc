"""The console's routes: sign-in, the ops pages (providers, routing, keys, replicas, audit, jobs), and the router
that adds the finance pages of `finance.py`. Pages call the same functions as the admin and usage APIs; nothing
here computes money or validates a document itself. Every change needs the session's CSRF token. No try/except here."""

from __future__ import annotations

import difflib
import json
import time
from pathlib import Path
from typing import Annotated, Any, Literal

import jinja2
import msgspec
from litestar import Request, Response, Router, get, post
from litestar.datastructures import Cookie, ResponseHeader
from litestar.di import NamedDependency
from litestar.enums import MediaType
from litestar.params import PathParameter, QueryParameter
from litestar.response import Redirect
from litestar.static_files import create_static_files_router

from gateway.api.admin import (
    ControlRoom,
    add_key,
    key_views,
    planner_under,
    preview,
    remove_key,
    renew_key,
    replace_document,
    set_limits,
    set_provider,
)
from gateway.api.http import error_response, to_gateway_error
from gateway.api.operations import provider_states
from gateway.api.videos import Session
from gateway.console.sessions import COOKIE, CSRF_FIELD, CSRF_HEADER, ConsoleSessions, Viewer, csrf_valid
from gateway.console.shapes import first_choice, recent_shapes
from gateway.control import keys as key_changes
from gateway.control.documents import LimitScope, quota_limits, routing_table
from gateway.errors import Forbidden, InvalidRequest, Unauthorized
from gateway.schema.wire import CreateVideoBody
from gateway.store.base import JobStore
from gateway.store.outbox import Outbox, delivery_id
from gateway.usage.quota_settings import QuotaSettings
from gateway.usage.reports import exact_usd
from gateway.videos.service import VideoService
from routing.rules import ProviderRule, RoutingRules

_Slug = Annotated[str, PathParameter(max_length=128)]
_KeyId = Annotated[str, PathParameter(max_length=64)]
_HERE = Path(__file__).parent
_TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(_HERE / "templates"), autoescape=True, undefined=jinja2.StrictUndefined
)
_TEMPLATES.filters["usd"] = exact_usd
_TEMPLATES.filters["utc"] = lambda at: time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(at))
# Self only: no inline script or style, no other origin, no framing. htmx is told not to inject its indicator style
# (templates/base.html), so nothing needs 'unsafe-inline'.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
_HEADERS = [
    ResponseHeader(name="Content-Security-Policy", value=CSP),
    ResponseHeader(name="X-Frame-Options", value="DENY"),
    ResponseHeader(name="Referrer-Policy", value="no-referrer"),
    ResponseHeader(name="Cache-Control", value="no-store"),
    ResponseHeader(name="X-Content-Type-Options", value="nosniff"),
]


def _render(template: str, *, status_code: int = 200, **context: Any) -> Response[str]:
    html = _TEMPLATES.get_template(template).render(**context)
    return Response(html, media_type=MediaType.HTML, status_code=status_code)


def _sessions(request: Request[Any, Any, Any]) -> ConsoleSessions:
    sessions: ConsoleSessions = request.app.state.console_sessions
    return sessions


async def _resolve_viewer(request: Request[Any, Any, Any]) -> None:
    """Before every console handler: the request's session, looked up once in the session store."""
    request.state.console_viewer = await _sessions(request).viewer(request.cookies.get(COOKIE))


def _viewer(request: Request[Any, Any, Any]) -> Viewer | None:
    """The viewer `_resolve_viewer` found for this request (None: signed out)."""
    viewer: Viewer | None = request.state.console_viewer
    return viewer


def _admin(viewer: Viewer) -> Viewer:
    viewer.caller.require("admin")
    return viewer


async def _changing(request: Request[Any, Any, Any]) -> tuple[Viewer, dict[str, str]]:
    """The viewer behind a change and its form fields; refused without a live session or the session's CSRF token
    (in the `X-CSRF-Token` header htmx sends, or the form's hidden field)."""
    viewer = _viewer(request)
    if viewer is None:
        raise Unauthorized("sign in to the console first", code="console_signed_out")
    form = {k: str(v) for k, v in (await request.form()).items()}
    if not csrf_valid(viewer, request.headers.get(CSRF_HEADER) or form.get(CSRF_FIELD)):
        raise Forbidden("the change lacks this session's CSRF token; reload the page", code="csrf_token_invalid")
    return viewer, form


def _page(viewer: Viewer, template: str, **context: Any) -> Response[str]:
    return _render(template, viewer=viewer, csrf_token=viewer.csrf_token, **context)


def _to_login() -> Redirect:
    return Redirect("/console/login", status_code=303)


# ------------------------------------------------------------------------------------------------ sign-in


@get("/")
async def home(request: Request[Any, Any, Any]) -> Redirect:
    viewer = _viewer(request)
    if viewer is None:
        return _to_login()
    return Redirect("/console/providers" if viewer.is_admin else "/console/usage", status_code=303)


@get("/login")
async def login_form() -> Response[str]:
    return _render("login.html", error=None)


@post("/login", status_code=303)
async def login(request: Request[Any, Any, Any]) -> Response[Any]:
    """A key exchanged for a session cookie; the key goes no further than its digest."""
    key = str((await request.form()).get("key", "")).strip()
    signed = await _sessions(request).sign_in(key) if key else None
    if signed is None:
        error = "That key is not accepted here: the console takes a valid key with the admin or usage scope."
        return _render("login.html", status_code=403, error=error)
    session_id, caller = signed
    secure = request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https"
    cookie = Cookie(
        key=COOKIE, value=session_id, path="/console", httponly=True, samesite="strict", secure=secure, max_age=None
    )
    target = "/console/providers" if "admin" in caller.scopes else "/console/usage"
    return Redirect(target, status_code=303, cookies=[cookie])


@post("/logout", status_code=303)
async def logout(request: Request[Any, Any, Any]) -> Redirect:
    await _changing(request)
    await _sessions(request).sign_out(request.cookies.get(COOKIE))
    redirect = _to_login()
    redirect.delete_cookie(COOKIE, path="/console")
    return redirect


# ------------------------------------------------------------------------------------------------ providers


async def _providers(request: Request[Any, Any, Any]) -> dict[str, Any]:
    service: VideoService = request.app.state.service
    room: ControlRoom = request.app.state.control
    current = await room.plane.read("routing")
    assert isinstance(current.document, RoutingRules)
    switches = current.document.providers
    return {
        "states": await provider_states(service),
        "switches": {slug: switches.get(slug, ProviderRule()) for slug in room.rules.known_providers},
        "version": current.version,
        "now": service.now(),
    }


@get("/providers")
async def providers_page(request: Request[Any, Any, Any]) -> Response[Any]:
    viewer = _viewer(request)
    if viewer is None:
        return _to_login()
    return _page(_admin(viewer), "providers.html", **await _providers(request))


@get("/providers/table")
async def providers_table(request: Request[Any, Any, Any]) -> Response[Any]:
    """The table alone: what the page swaps in every few seconds."""
    viewer = _viewer(request)
    if viewer is None:
        raise Unauthorized("sign in to the console first", code="console_signed_out")
    return _page(_admin(viewer), "providers_table.html", **await _providers(request))


@post("/providers/{slug:str}", status_code=200)
async def switch_provider(request: Request[Any, Any, Any], slug: _Slug) -> Response[Any]:
    """Enable, disable, drain or undrain a provider as the routing version the page showed (If-Match)."""
    viewer, form = await _changing(request)
    room: ControlRoom = request.app.state.control
    current = await room.plane.read("routing")
    assert isinstance(current.document, RoutingRules)
    switches = msgspec.to_builtins(current.document.providers.get(slug, ProviderRule()))
    for field in ("enabled", "drain"):
        if field in form:
            switches[field] = form[field] == "true"
    await set_provider(room, slug, switches, expected=_version(form), actor=_admin(viewer).caller.key_id)
    return _page(viewer, "providers_table.html", **await _providers(request))


def _version(form: dict[str, str]) -> int:
    raw = form.get("version", "")
    if not raw.isdigit():
        raise InvalidRequest("the form lacks the version it changes", code="invalid_value", param="version")
    return int(raw)


# ------------------------------------------------------------------------------------------------ routing

_SAMPLE_REQUEST = '{"model": "sora-2", "prompt": "a paper boat"}'


def _pretty(value: Any) -> str:
    return json.dumps(msgspec.to_builtins(value), indent=2, sort_keys=True)


def _parsed(text: str, field: str) -> Any:
    try:
        return msgspec.json.decode(text)
    except msgspec.DecodeError as exc:
        raise InvalidRequest(f"{field}: not JSON ({exc})", code="invalid_json", param=field) from exc


def _proposed(room: ControlRoom, form: dict[str, str]) -> RoutingRules:
    """The edited table, checked exactly as `PUT /v1/admin/routing` checks it (errors name the path)."""
    return routing_table(_parsed(form.get("routing", ""), "routing"), room.rules, source="console")


@get("/routing")
async def routing_page(request: Request[Any, Any, Any]) -> Response[Any]:
    """The active table in an editor, its kept versions with rollback."""
    viewer = _viewer(request)
    if viewer is None:
        return _to_login()
    room: ControlRoom = request.app.state.control
    current = await room.plane.read("routing")
    history = await room.plane.store.history("routing")
    return _page(
        _admin(viewer),
        "routing.html",
        version=current.version,
        table=_pretty(current.document),
        sample=_SAMPLE_REQUEST,
        history=history,
    )


@post("/routing/preview", status_code=200)
async def routing_preview(request: Request[Any, Any, Any]) -> Response[Any]:
    """The diff against the active table and the plan for the pasted request under both; nothing is applied."""
    viewer, form = await _changing(request)
    room: ControlRoom = request.app.state.control
    table = _proposed(room, form)
    create = msgspec.convert(_parsed(form.get("request", ""), "request"), CreateVideoBody)
    current = await room.plane.read("routing")
    diff = difflib.unified_diff(
        _pretty(current.document).splitlines(), _pretty(table).splitlines(), "active", "proposed", lineterm=""
    )
    shown = await preview(room, _session(request, viewer), table, create, team=None)
    return _page(viewer, "routing_preview.html", diff="\n".join(diff), preview=shown)


# How many distinct shapes the preview offers, from how many of each team's latest jobs.
_SHAPES = 12
_JOBS_PER_TEAM = 50


@post("/routing/shapes", status_code=200)
async def routing_shapes(request: Request[Any, Any, Any], store: NamedDependency[JobStore]) -> Response[Any]:
    """The edited table against the recent request shapes: per shape, the provider a create goes to first under
    the active table and under the edited one; nothing is applied."""
    viewer, form = await _changing(request)
    room: ControlRoom = request.app.state.control
    table = _proposed(room, form)
    session = _session(request, _admin(viewer))
    teams = {key.team for key in await key_views(room)}
    recent = await recent_shapes(store, teams, shapes=_SHAPES, jobs_per_team=_JOBS_PER_TEAM)
    active, proposed = session.service.planner, planner_under(room, session, table)
    await active.speeds.refresh()  # every replica's observations as of now, as explain does
    rows = [(s, await first_choice(active, s), await first_choice(proposed, s)) for s in recent.samples]
    return _page(viewer, "routing_shapes.html", rows=rows, not_replayable=recent.not_replayable)


@post("/routing", status_code=200)
async def routing_apply(request: Request[Any, Any, Any]) -> Response[Any]:
    """The edited table as the version after the one the page showed (a stale page is a 412, nothing changes)."""
    viewer, form = await _changing(request)
    room: ControlRoom = request.app.state.control
    table = _proposed(room, form)
    await replace_document(room, "routing", table, expected=_version(form), actor=_admin(viewer).caller.key_id)
    return _back_to("/console/routing", request)


@post("/routing/rollback", status_code=200)
async def routing_rollback(request: Request[Any, Any, Any]) -> Response[Any]:
    """A kept version made current again, as the version after the one the page showed."""
    viewer, form = await _changing(request)
    room: ControlRoom = request.app.state.control
    target = form.get("target", "")
    if not target.isdigit():
        raise InvalidRequest("the form lacks the version to restore", code="invalid_value", param="target")
    actor = _admin(viewer).caller.key_id
    await room.plane.rollback("routing", int(target), expected=_version(form), actor=actor)
    await room.watcher.catch_up()
    return _back_to("/console/routing", request)


def _back_to(path: str, request: Request[Any, Any, Any]) -> Response[Any]:
    """After a change: htmx follows `HX-Redirect`; a plain form post a 303."""
    if request.headers.get("hx-request"):
        return Response("", headers={"HX-Redirect": path})
    return Redirect(path, status_code=303)


def _session(request: Request[Any, Any, Any], viewer: Viewer) -> Session:
    return Session(caller=viewer.caller, service=request.app.state.service, settings=request.app.state.settings)


# ------------------------------------------------------------------------------------------------ keys


@get("/keys")
async def keys_page(request: Request[Any, Any, Any]) -> Response[Any]:
    viewer = _viewer(request)
    if viewer is None:
        return _to_login()
    return await _keys_page(_admin(viewer), request.app.state.control, issued=None)


@post("/keys", status_code=201)
async def create_key(request: Request[Any, Any, Any]) -> Response[Any]:
    """A new key through the control plane; this reply is the only page that shows its secret."""
    viewer, form = await _changing(request)
    room: ControlRoom = request.app.state.control
    scopes = [s for s in ("videos", "usage", "admin") if form.get(f"scope_{s}") == "on"]
    fields = {"team": form.get("team", ""), "scopes": scopes or ["videos"], "id": form.get("id") or None}
    body = msgspec.convert(fields, key_changes.KeyCreate)
    issued = await add_key(room, body, actor=_admin(viewer).caller.key_id)
    return await _keys_page(viewer, room, issued=issued)


@post("/keys/{key_id:str}/revoke", status_code=303)
async def revoke_key(request: Request[Any, Any, Any], key_id: _KeyId) -> Redirect:
    viewer, _ = await _changing(request)
    await remove_key(request.app.state.control, key_id, actor=_admin(viewer).caller.key_id)
    return Redirect("/console/keys", status_code=303)


@post("/keys/{key_id:str}/rotate", status_code=200)
async def rotate_key(request: Request[Any, Any, Any], key_id: _KeyId) -> Response[Any]:
    """A new secret, shown on this reply only; the old one keeps working `[control] rotation_grace_s`."""
    viewer, _ = await _changing(request)
    room: ControlRoom = request.app.state.control
    actor = _admin(viewer).caller.key_id
    issued = await renew_key(room, key_id, grace_s=room.settings.rotation_grace_s, actor=actor)
    return await _keys_page(viewer, room, issued=issued)


@post("/teams", status_code=200)
async def set_team_limits(request: Request[Any, Any, Any]) -> Response[Any]:
    """A team's quotas and budgets (left empty: that limit does not apply), as the quotas version the page showed.
    From htmx, an error comes back as a fragment beside the form."""
    return await _set_limits(request, "teams", "team")


@post("/key-limits", status_code=200)
async def set_key_limits(request: Request[Any, Any, Any]) -> Response[Any]:
    """A key's own quotas and budget, on top of its team's (every field empty: the key has none of its own), as
    the quotas version the page showed."""
    return await _set_limits(request, "keys", "key")


async def _set_limits(request: Request[Any, Any, Any], scope: LimitScope, name_field: str) -> Response[Any]:
    """The form's limits for the team or key it names, checked as the config file's `[quotas.<scope>.<name>]`
    and written through the control plane (If-Match: the form's version; audited)."""
    viewer, form = await _changing(request)
    actor = _admin(viewer).caller.key_id
    room: ControlRoom = request.app.state.control
    name = form.get(name_field, "")
    if scope == "keys" and name not in {key.id for key in await key_views(room)}:
        raise InvalidRequest(f"no key {name!r}", code="invalid_value", param="key")
    fields = {field: form[field] for field in _LIMIT_FIELDS if form.get(field, "").strip()}
    limits = quota_limits(_typed(fields), scope=scope, name=name)
    kept = limits if fields or scope == "teams" else None
    await set_limits(room, scope, name, kept, expected=_version(form), actor=actor)
    return _back_to("/console/keys", request)


_LIMIT_FIELDS = ("requests", "max_concurrent_jobs", "monthly_budget_usd", "monthly_video_seconds")


def _typed(fields: dict[str, str]) -> dict[str, Any]:
    """Form strings as the numbers the limits take (a malformed one is left as text: the check names it)."""
    typed: dict[str, Any] = {}
    for name, raw in fields.items():
        if name == "requests":
            typed[name] = raw
            continue
        try:
            typed[name] = float(raw) if name == "monthly_budget_usd" else int(raw)
        except ValueError:
            typed[name] = raw
    return typed


async def _keys_page(viewer: Viewer, room: ControlRoom, *, issued: key_changes.IssuedKey | None) -> Response[str]:
    quotas = await room.plane.read("quotas")
    assert isinstance(quotas.document, QuotaSettings)
    keys = await key_views(room)
    return _page(
        viewer,
        "keys.html",
        keys=keys,
        issued=issued,
        teams=quotas.document.teams,
        key_limits=quotas.document.keys,
        live_keys=[key.id for key in keys if key.revoked_at is None],
        quotas_version=quotas.version,
    )


# ------------------------------------------------------------------------------------------------ replicas, audit, jobs


@get("/replicas")
async def replicas_page(request: Request[Any, Any, Any]) -> Response[Any]:
    """Each live replica and the version of each control-plane document it runs."""
    viewer = _viewer(request)
    if viewer is None:
        return _to_login()
    room: ControlRoom = request.app.state.control
    return _page(_admin(viewer), "replicas.html", replicas=await room.replicas.live(), kinds=_KINDS)


_KINDS = ("routing", "quotas", "keys")
_JobId = Annotated[str | None, QueryParameter(max_length=64)]


@get("/audit")
async def audit_page(
    request: Request[Any, Any, Any],
    kind: Annotated[Literal["routing", "quotas", "keys"] | None, QueryParameter()] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=1_000)] = 100,
) -> Response[Any]:
    """Who changed what and when, newest first, optionally one kind of document."""
    viewer = _viewer(request)
    if viewer is None:
        return _to_login()
    room: ControlRoom = request.app.state.control
    entries = await room.plane.store.audit(kind=kind, since=0.0, until=float("inf"), limit=limit)
    return _page(_admin(viewer), "audit.html", entries=entries, kind=kind, kinds=_KINDS)


@get("/jobs")
async def jobs_page(
    request: Request[Any, Any, Any], store: NamedDependency[JobStore], job_id: _JobId = None
) -> Response[Any]:
    """A job of any team by id: status and its history, attempts, cost, and its webhook with the delivery log
    (as `GET /v1/videos/{id}/webhook` reads it: the outbox's record, none until the job is terminal)."""
    viewer = _viewer(request)
    if viewer is None:
        return _to_login()
    _admin(viewer)
    job = await store.get(job_id) if job_id and job_id.startswith("video_") else None
    outbox: Outbox = request.app.state.outbox
    delivery = await outbox.get(delivery_id(job.id)) if job is not None and job.webhook is not None else None
    return _page(viewer, "jobs.html", job_id=job_id or "", job=job, delivery=delivery)


def _error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """An htmx request's error as a fragment it swaps in beside the form (the canonical envelope otherwise)."""
    if not request.headers.get("hx-request"):
        return error_response(request, exc)
    error = to_gateway_error(exc)
    return _render("error.html", status_code=error.status_code, error=error)


def finance_routes() -> tuple[Any, ...]:
    """The finance pages' handlers (`gateway/console/finance.py`), imported here because they build on this
    module's page helpers."""
    from gateway.console.finance import FINANCE_ROUTES

    return FINANCE_ROUTES


def console_router() -> Router:
    """Every console route under `/console`, with its security headers; kept out of the OpenAPI document."""
    assets = create_static_files_router(
        path="/static", directories=[_HERE / "static"], include_in_schema=False, name="console_static"
    )
    return Router(
        path="/console",
        route_handlers=[
            home,
            login_form,
            login,
            logout,
            providers_page,
            providers_table,
            switch_provider,
            routing_page,
            routing_preview,
            routing_shapes,
            routing_apply,
            routing_rollback,
            keys_page,
            replicas_page,
            audit_page,
            jobs_page,
            set_key_limits,
            create_key,
            revoke_key,
            rotate_key,
            set_team_limits,
            *finance_routes(),
            assets,
        ],
        response_headers=_HEADERS,
        before_request=_resolve_viewer,
        exception_handlers={Exception: _error},
        include_in_schema=False,
    )
