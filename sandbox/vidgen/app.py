"""Vidgen API v2 emulator (seed 000): `POST /api/v2` dispatching on `action`, presigned asset downloads
and the sandbox fault controls. Behaves like the vendor, silent fallbacks included; no adapter logic."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import http
import random
import re
import secrets
import string
import time
import urllib.parse
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import msgspec
from litestar import Litestar, Request, Response, get, post
from litestar.params import FromPath

from sandbox.assets import sample_thumbnail, sample_video
from sandbox.clock import JobTimeline, Skew
from sandbox.faults import (
    CallStats,
    FaultQueue,
    Outcome,
    apply_fault,
    control_handlers,
    marker_outcome,
)
from sandbox.vidgen.jobs import (
    GenerateBody,
    Job,
    StatusReply,
    VendorError,
    build_scene,
    enhance_prompt,
    parse_scenes,
    random_prompt,
    resolve_model,
    resolve_settings,
    status_reply,
)

API_PATH = "/api/v2"
ASSETS_PATH = "/assets"
ACTIONS = frozenset({"models", "generate", "status", "optimize", "random"})
_JOB_ID = re.compile(r"run_[A-Za-z0-9]+")
_ALNUM = string.ascii_letters + string.digits
_AMZ_DATE = "%Y%m%dT%H%M%SZ"
_T = TypeVar("_T")
NonNegative = Annotated[float, msgspec.Meta(ge=0)]


def _default_models() -> dict[str, str]:
    return {"scenex": "SceneX"}


class VidgenEmulatorConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The emulated deployment's admin-panel settings; a job is queued `queue_s`, then runs `run_s`,
    both multiplied by `time_scale`."""

    api_keys: frozenset[str]
    disabled_keys: frozenset[str] = frozenset()
    models: dict[str, str] = msgspec.field(default_factory=_default_models)  # key -> label, first is default
    max_scenes: Annotated[int, msgspec.Meta(ge=1)] = 5
    queue_s: NonNegative = 1.0
    run_s: NonNegative = 4.0
    time_scale: NonNegative = 1.0
    asset_ttl_s: Annotated[int, msgspec.Meta(ge=1)] = 3600


# ------------------------------------------------------------------------------------------- wire bodies
# Requests tolerate unknown fields and fall back to defaults, as the vendor's server does.


class _Envelope(msgspec.Struct):
    action: str = ""


class _StatusBody(msgspec.Struct):
    id: str = ""
    model: str | None = None


class _OptimizeBody(msgspec.Struct):
    prompt: str = ""
    model: str | None = None


class _ErrorReply(msgspec.Struct):
    error: str


class _ModelLabel(msgspec.Struct):
    label: str


class _ModelsReply(msgspec.Struct):
    models: dict[str, _ModelLabel]
    max_scenes: int


class _SceneEcho(msgspec.Struct):
    prompt: str


class _GenerateReply(msgspec.Struct):
    id: str
    gen_id: str
    model: str
    scenes: list[_SceneEcho]


class _PromptReply(msgspec.Struct):
    prompt: str


def _decode(body: bytes, type_: type[_T]) -> _T | None:
    try:
        return msgspec.json.decode(body, type=type_, strict=False)
    except msgspec.DecodeError:
        return None


def _json(reply: object, status_code: int = 200) -> Response[bytes]:
    return Response(msgspec.json.encode(reply), status_code=status_code, media_type="application/json")


def _render_vendor_error(_: Request[Any, Any, Any], exc: VendorError) -> Response[bytes]:
    return _json(_ErrorReply(error=exc.message), exc.status_code)


def _authorize(header: str | None, config: VidgenEmulatorConfig) -> None:
    """Seed 000 error table, 401 rows: no bearer token, unknown key, disabled key."""
    scheme, _, key = (header or "").partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        raise VendorError(401, "Missing or invalid Authorization header")
    if key in config.disabled_keys:
        raise VendorError(401, "API key is disabled")
    if key not in config.api_keys:
        raise VendorError(401, "Invalid API key")


def _fault_error(action: str, status_code: int) -> bytes:
    """The vendor's own error for a forced status: the seed's table where it has a row for it."""
    match status_code:
        case 400:
            message = {"generate": "Content blocked", "status": "Bad ID"}.get(action, "Missing action")
        case 401:
            message = "Invalid API key"
        case 500:
            message = "No models configured"
        case 502:
            message = "Enhancement failed" if action == "optimize" else "Generation failed"
        case _:  # not in the seed's table: the standard reason phrase [inference]
            try:
                message = http.HTTPStatus(status_code).phrase
            except ValueError:
                message = "Sandbox fault"
    return msgspec.json.encode(_ErrorReply(error=message))


def _iso_utc(timestamp: float, fmt: str = "%Y-%m-%dT%H:%M:%SZ") -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime(fmt)


def _s3_error(status_code: int, code: str, message: str) -> Response[bytes]:
    error = f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    body = f'<?xml version="1.0" encoding="UTF-8"?>\n{error}'
    return Response(body.encode(), status_code=status_code, media_type="application/xml")


class _AssetSigner:
    """Presigned download URLs shaped like S3 SigV4 query auth: `X-Amz-Date` is the signing time and
    `X-Amz-Expires` the validity in seconds; the signature is an HMAC under a per-emulator secret."""

    def __init__(self, *, ttl_s: int, wall_clock: Callable[[], float]) -> None:
        self._secret = secrets.token_bytes(32)
        self._ttl_s = ttl_s
        self._wall_clock = wall_clock

    def _signature(self, filename: str, amz_date: str, expires: str) -> str:
        message = f"{filename}\n{amz_date}\n{expires}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def url(self, base_url: str, filename: str) -> str:
        amz_date = _iso_utc(self._wall_clock(), _AMZ_DATE)
        query = {
            "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
            "X-Amz-Credential": f"SANDBOX/{amz_date[:8]}/us-east-1/s3/aws4_request",
            "X-Amz-Date": amz_date,
            "X-Amz-Expires": str(self._ttl_s),
            "X-Amz-SignedHeaders": "host",
            "X-Amz-Signature": self._signature(filename, amz_date, str(self._ttl_s)),
        }
        path = f"{ASSETS_PATH}/{urllib.parse.quote(filename)}"
        return f"{base_url.rstrip('/')}{path}?{urllib.parse.urlencode(query)}"

    def serve(self, filename: str, *, amz_date: str, expires: str, signature: str) -> Response[bytes]:
        expected = self._signature(filename, amz_date, expires)
        if not hmac.compare_digest(signature.encode(), expected.encode()):
            message = "The request signature we calculated does not match the signature you provided."
            return _s3_error(403, "SignatureDoesNotMatch", message)
        # The signature vouches for amz_date and expires: they are the ones `url` wrote.
        signed_at = dt.datetime.strptime(amz_date, _AMZ_DATE).replace(tzinfo=dt.UTC).timestamp()
        if self._wall_clock() > signed_at + int(expires):
            return _s3_error(403, "AccessDenied", "Request has expired")
        if filename.endswith("_thumb.jpg"):
            return Response(sample_thumbnail(), media_type="image/jpeg")
        if filename.endswith(".mp4"):
            return Response(sample_video(), media_type="video/mp4")
        return _s3_error(404, "NoSuchKey", "The specified key does not exist.")


class _VidgenEmulator:
    """One emulated deployment: its jobs, switches and statistics, all in memory."""

    def __init__(self, config: VidgenEmulatorConfig, *, clock: Callable[[], float], wall_clock: Callable[[], float]):
        self.config = config
        self.clock = clock
        self.wall_clock = wall_clock
        self.jobs: dict[str, Job] = {}
        self.faults = FaultQueue(clock)
        self.stats = CallStats()
        self.signer = _AssetSigner(ttl_s=config.asset_ttl_s, wall_clock=wall_clock)
        self.rng = random.Random()

    async def handle(self, request: Request[Any, Any, Any]) -> Response[bytes]:
        """Auth, then action, then any queued switch, then the action itself (switches count as calls)."""
        _authorize(request.headers.get("authorization"), self.config)
        body = await request.body()
        envelope = _decode(body, _Envelope)
        action = envelope.action if envelope else ""
        if action not in ACTIONS:  # seed 000 has one error for both a missing and an unknown action
            raise VendorError(400, "Missing action")
        polled = _decode(body, _StatusBody) if action == "status" else None
        with self.stats.track(action, polled.id if polled and polled.id else None):
            forced = await apply_fault(self.faults.take(action), lambda code: _fault_error(action, code))
            if forced is not None:
                return forced
            return _json(self._dispatch(action, body, str(request.base_url)))

    def _dispatch(self, action: str, body: bytes, base_url: str) -> object:
        match action:
            case "models":
                return self._models()
            case "generate":
                generate = _decode(body, GenerateBody)
                if generate is None:  # undocumented: a body whose fields have impossible types [inference]
                    raise VendorError(400, "Invalid request body")
                return self._generate(generate)
            case "status":
                return self._status(_decode(body, _StatusBody) or _StatusBody(), base_url)
            case "optimize":
                return self._optimize(_decode(body, _OptimizeBody) or _OptimizeBody())
            case _:
                return _PromptReply(prompt=random_prompt(self.rng))

    def _models(self) -> _ModelsReply:
        if not self.config.models:
            raise VendorError(500, "No models configured")
        models = {key: _ModelLabel(label=label) for key, label in self.config.models.items()}
        return _ModelsReply(models=models, max_scenes=self.config.max_scenes)

    def _generate(self, body: GenerateBody) -> _GenerateReply:
        scenes = parse_scenes(body.scenes, self.config.max_scenes)
        settings = resolve_settings(body, self.config.models)
        outcome = marker_outcome(scene.prompt for scene in scenes)
        if outcome is Outcome.BLOCKED:
            raise VendorError(400, "Content blocked")
        job = Job(
            id="run_" + "".join(secrets.choice(_ALNUM) for _ in range(16)),
            gen_id=secrets.token_hex(10),
            created_at=self.clock(),
            time=_iso_utc(self.wall_clock()),
            outcome=outcome,
            scenes=tuple(build_scene(scene, optimize=body.optimize) for scene in scenes),
            settings=settings,
        )
        self.jobs[job.id] = job
        echoes = [_SceneEcho(prompt=scene.prompt) for scene in scenes]
        return _GenerateReply(id=job.id, gen_id=job.gen_id, model=settings.model, scenes=echoes)

    def _status(self, body: _StatusBody, base_url: str) -> StatusReply:
        if not _JOB_ID.fullmatch(body.id):
            raise VendorError(400, "Bad ID")
        job = self.jobs.get(body.id)
        # Undocumented [inference]: status proxies the model's RunPod endpoint (providers.md §1.2), so an id
        # it never issued, or one asked for under another model, is not found there.
        if job is None or resolve_model(body.model, self.config.models) != job.settings.model:
            raise VendorError(404, "Job not found")
        cfg = self.config
        timeline = JobTimeline(
            created_at=job.created_at, queue_s=cfg.queue_s, run_s=cfg.run_s, time_scale=cfg.time_scale
        )
        phase = timeline.at(self.clock()).phase
        return status_reply(job, phase, lambda filename: self.signer.url(base_url, filename))

    def _optimize(self, body: _OptimizeBody) -> _PromptReply:
        resolve_model(body.model, self.config.models)  # enhancement uses the model's configured LLM prompt
        if not body.prompt.strip():  # undocumented error string [inference]
            raise VendorError(400, "Missing prompt")
        return _PromptReply(prompt=enhance_prompt(body.prompt))


def create_vidgen_emulator(
    config: VidgenEmulatorConfig,
    *,
    clock: Callable[[], float] = time.monotonic,
    wall_clock: Callable[[], float] = time.time,
) -> Litestar:
    """The emulator app. `clock` drives job phases; `wall_clock` (unix s) stamps `meta.time` and URLs."""
    skew = Skew()  # moved by POST /_sandbox/clock
    clock, wall_clock = skew.shifted(clock), skew.shifted(wall_clock)
    emulator = _VidgenEmulator(config, clock=clock, wall_clock=wall_clock)

    @post(API_PATH, status_code=200)
    async def api_v2(request: Request[Any, Any, Any]) -> Response[bytes]:
        return await emulator.handle(request)

    @get(f"{ASSETS_PATH}/{{filename:str}}")
    async def asset(request: Request[Any, Any, Any], filename: FromPath[str]) -> Response[bytes]:
        query = request.query_params
        return emulator.signer.serve(
            filename,
            amz_date=query.get("X-Amz-Date", ""),
            expires=query.get("X-Amz-Expires", ""),
            signature=query.get("X-Amz-Signature", ""),
        )

    return Litestar(
        route_handlers=[api_v2, asset, *control_handlers(emulator.faults, emulator.stats, skew)],
        exception_handlers={VendorError: _render_vendor_error},
        openapi_config=None,
    )


def sandbox_app(api_key: str, time_scale: float) -> Litestar:
    """The emulator as `make run` and the end-to-end tests serve it: one key, a faster or slower clock."""
    return create_vidgen_emulator(VidgenEmulatorConfig(api_keys=frozenset({api_key}), time_scale=time_scale))
