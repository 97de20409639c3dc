"""VideoGen emulator (seed 001, providers.md §2 and §2.12): the generate tool, executions, cancel, the three-step
file upload with a separate no-auth storage route, hourly rate windows on every reply, and the sandbox fault
controls. Behaves like the vendor; no adapter logic."""

from __future__ import annotations

import functools
import hashlib
import hmac
import http
import math
import re
import secrets
import time
from collections.abc import Callable
from typing import Annotated, Any, Literal

import msgspec
from litestar import Litestar, Request, Response, get, post, put
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath

from sandbox.assets import sample_thumbnail, sample_video, sample_video_lasting
from sandbox.clock import JobTimeline, Skew
from sandbox.faults import CallStats, FaultQueue, apply_fault, control_handlers, marker_outcome
from sandbox.videogen.jobs import (
    WINDOW_S,
    ExecutedToolReply,
    Execution,
    GenerateBody,
    HourlyWindows,
    StoredFile,
    UploadBody,
    VendorError,
    WindowState,
    decode_body,
    error_body,
    execution_reply,
    file_reply,
    file_state,
    invalid,
    validate_generate,
    video_seconds,
)

GENERATE_PATH = "/v1/tools/generate-video-clip"
EXECUTIONS_PATH = "/v1/tools/executions"
UPLOAD_PATH = "/v1/files/upload"
FILES_PATH = "/v1/files"
STORAGE_UPLOADS_PATH = "/_storage/uploads"  # the presigned PUT target: no auth (providers.md §2.12)
STORAGE_FILES_PATH = "/_storage/files"  # signed downloads of outputs and uploads
# Action -> the rate-limit group of providers.md §2.6 it is counted in; also the fault action names.
GROUPS = {"generate": "generate", "status": "status", "cancel": "cancel", "upload": "upload", "file": "file"}
_EXECUTION_ID = re.compile(r"vg_(exec|tool)_[A-Za-z0-9]+")
_FILE_ID = re.compile(r"vg_file_[A-Za-z0-9]+")
NonNegative = Annotated[float, msgspec.Meta(ge=0)]
PerHour = Annotated[int, msgspec.Meta(ge=1)]


class VideoGenEmulatorConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The emulated account. An execution is pending `queue_s`, then runs `run_s`; an upload is processed
    `file_ready_s` after its PUT. Limits are per key per hour. `time_scale` multiplies all of these times, the
    hour of the windows included (one compressed provider clock, so X-RateLimit-Reset agrees with it)."""

    api_keys: frozenset[str]
    queue_s: NonNegative = 1.0
    run_s: NonNegative = 4.0
    file_ready_s: NonNegative = 0.5
    time_scale: NonNegative = 1.0
    generate_per_hour: PerHour = 500
    status_per_hour: PerHour = 5000
    cancel_per_hour: PerHour = 250
    upload_per_hour: PerHour = 500
    file_per_hour: PerHour = 50_000
    add_on: bool = False  # the Production API add-on, needed for watermarkMode NONE (seed 001)
    id_prefix: Literal["vg_exec_", "vg_tool_"] = "vg_exec_"  # docs vs CLI/MCP v2.1 (providers.md §2.1)
    upload_url_ttl_s: Annotated[float, msgspec.Meta(gt=0)] = 900.0  # "the URL expires shortly" [inference]
    download_ttl_s: Annotated[int, msgspec.Meta(ge=1)] = 3600  # downloadUrlExpiresAt = now + 3600 (§2.12)

    def limits(self) -> dict[str, int]:
        return {
            "generate": self.generate_per_hour,
            "status": self.status_per_hour,
            "cancel": self.cancel_per_hour,
            "upload": self.upload_per_hour,
            "file": self.file_per_hour,
        }


class _Call(msgspec.Struct, frozen=True, kw_only=True):
    """One authenticated API call as the emulator's operations see it; `target` is the id in the path."""

    key: str
    body: bytes
    base_url: str
    target: str = ""


class _StartReply(msgspec.Struct, rename="camel"):
    tool_execution_id: str


class _UploadReply(msgspec.Struct, rename="camel"):
    file_id: str
    upload_url: str


def _json(reply: object, status_code: int = 200) -> Response[bytes]:
    return Response(msgspec.json.encode(reply), status_code=status_code, media_type="application/json")


def _vendor_error(error: VendorError) -> Response[bytes]:
    return Response(error_body(error), status_code=error.status_code, media_type="application/json")


def _render_vendor_error(_: Request[Any, Any, Any], exc: VendorError) -> Response[bytes]:
    return _vendor_error(exc)


def _storage_error(status_code: int, code: str, message: str) -> Response[bytes]:
    body = f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>'
    return Response(body.encode(), status_code=status_code, media_type="application/xml")


def _authorize(header: str | None, config: VideoGenEmulatorConfig) -> str:
    """providers.md §2.5, 401 rows: no bearer token is `missing_api_key`, an unknown one `invalid_api_key`."""
    scheme, _, key = (header or "").partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        raise VendorError(401, "Missing API key. Send 'Authorization: Bearer <key>'.", "missing_api_key")
    if key not in config.api_keys:
        raise VendorError(401, "API key is invalid or has been revoked.", "invalid_api_key")  # docs example
    return key


def _fault_error(action: str, status_code: int) -> bytes:
    """The documented VideoGen error body for a forced status (providers.md §2.5); a phrase otherwise."""
    by_id = action in ("status", "cancel", "file")
    match status_code:
        case 400:
            error = VendorError(400, "Invalid id.", "invalid_id") if by_id else invalid("Invalid parameters.")
        case 401:
            error = VendorError(401, "API key is invalid or has been revoked.", "invalid_api_key")
        case 403 if action == "generate":
            error = VendorError(403, "This feature requires the Production API add-on.", None, "purchase_add_on")
        case 403:
            error = VendorError(403, "This API key does not have access to this resource.")
        case 404:
            error = VendorError(404, "Not found.")
        case 429:
            error = VendorError(429, "Rate limit exceeded. Retry after X-RateLimit-Reset.")
        case _:
            try:
                error = VendorError(status_code, http.HTTPStatus(status_code).phrase)
            except ValueError:
                error = VendorError(status_code, "Sandbox fault")
    return error_body(error)


class _Signer:
    """Signed storage URLs: `expires` (unix s) and an HMAC over name and expiry under a per-emulator secret."""

    def __init__(self, *, ttl_s: int, wall_clock: Callable[[], float]) -> None:
        self._secret = secrets.token_bytes(32)
        self._ttl_s = ttl_s
        self._wall_clock = wall_clock

    def _signature(self, name: str, expires: str) -> str:
        return hmac.new(self._secret, f"{name}\n{expires}".encode(), hashlib.sha256).hexdigest()

    def signer(self, base_url: str) -> Callable[[str], tuple[str, int]]:
        def sign(name: str) -> tuple[str, int]:
            expires = int(self._wall_clock()) + self._ttl_s
            query = f"expires={expires}&signature={self._signature(name, str(expires))}"
            return f"{base_url.rstrip('/')}{STORAGE_FILES_PATH}/{name}?{query}", expires

        return sign

    def verify(self, name: str, expires: str, signature: str) -> Response[bytes] | None:
        """The storage error for a bad or expired URL; None when the URL is good."""
        if not hmac.compare_digest(signature.encode(), self._signature(name, expires).encode()):
            return _storage_error(403, "SignatureDoesNotMatch", "The request signature does not match.")
        if not expires.isdigit() or self._wall_clock() > int(expires):
            return _storage_error(403, "AccessDenied", "Request has expired")
        return None


class _VideoGenEmulator:
    """One emulated account: executions, files, rate windows, switches and statistics, all in memory."""

    def __init__(self, config: VideoGenEmulatorConfig, *, clock: Callable[[], float], wall_clock: Callable[[], float]):
        self.config = config
        self.clock = clock
        self.wall_clock = wall_clock
        self.executions: dict[str, Execution] = {}
        self.files: dict[str, StoredFile] = {}
        self.uploads: dict[str, str] = {}  # upload token -> file id
        self.restyled_s: dict[str, float] = {}  # result file id of a restyle -> its length
        self.windows = HourlyWindows(config.limits(), WINDOW_S * config.time_scale)
        self.faults = FaultQueue(clock)
        self.stats = CallStats()
        self.signer = _Signer(ttl_s=config.download_ttl_s, wall_clock=wall_clock)

    async def handle(
        self,
        request: Request[Any, Any, Any],
        action: str,
        serve: Callable[[_Call], Response[bytes]],
        target: str = "",
    ) -> Response[bytes]:
        """Auth, then the key's window for the action (429 when spent), then any switch, then the call.
        Every authenticated reply, errors and switches included, carries the window's headers."""
        key = _authorize(request.headers.get("authorization"), self.config)
        with self.stats.track(action, target if action == "status" else None):
            window = self.windows.hit(key, GROUPS[action], self.clock())
            try:
                if not window.allowed:
                    raise VendorError(429, "Rate limit exceeded. Retry after X-RateLimit-Reset.")
                forced = await apply_fault(self.faults.take(action), lambda code: _fault_error(action, code))
                if forced is None:
                    call = _Call(key=key, body=await request.body(), base_url=str(request.base_url), target=target)
                    forced = serve(call)
                response = forced
            except VendorError as exc:
                response = _vendor_error(exc)
            response.headers.update(self._rate_headers(window))
            return response

    def _rate_headers(self, window: WindowState) -> dict[str, str]:
        return {  # providers.md §2.6: on every response; Reset in unix seconds
            "X-RateLimit-Limit": str(window.limit),
            "X-RateLimit-Remaining": str(window.remaining),
            "X-RateLimit-Reset": str(math.ceil(self.wall_clock() + window.reset_in_s)),
            "x-request-id": "req_" + secrets.token_hex(8),
        }

    def _scaled(self, seconds: float) -> float:
        return seconds * self.config.time_scale

    def _file_ready(self, key: str, file_id: str) -> bool:
        stored = self.files.get(file_id)
        if stored is None or stored.owner != key:
            return False
        return file_state(stored, now=self.clock(), ready_s=self._scaled(self.config.file_ready_s)) == "ready"

    def _video_length(self, key: str, file_id: str) -> float | None:
        stored = self.files.get(file_id)
        return None if stored is None or stored.owner != key else video_seconds(stored)

    def generate(self, call: _Call) -> Response[bytes]:
        body = decode_body(call.body, GenerateBody)
        clip = validate_generate(
            body,
            add_on=self.config.add_on,
            file_ready=functools.partial(self._file_ready, call.key),
            video_length=functools.partial(self._video_length, call.key),
        )
        execution = Execution(
            id=self.config.id_prefix + secrets.token_hex(12),
            owner=call.key,
            created_at=self.clock(),
            clip=clip,
            outcome=marker_outcome([clip.prompt]),
        )
        self.executions[execution.id] = execution
        if clip.restyled:
            self.restyled_s |= {execution.result_file_id(i): clip.duration_s for i in range(clip.num_results)}
        return _json(_StartReply(tool_execution_id=execution.id), 202)

    def _execution(self, key: str, execution_id: str) -> Execution:
        if not _EXECUTION_ID.fullmatch(execution_id):
            raise VendorError(400, "Invalid tool execution id.", "invalid_id")
        execution = self.executions.get(execution_id)
        if execution is None or execution.owner != key:  # another team's execution is missing, not forbidden
            raise VendorError(404, "Tool execution not found.")
        return execution

    def _status(self, execution: Execution, base_url: str) -> ExecutedToolReply:
        cfg = self.config
        timeline = JobTimeline(
            created_at=execution.created_at, queue_s=cfg.queue_s, run_s=cfg.run_s, time_scale=cfg.time_scale
        )
        return execution_reply(execution, timeline.at(self.clock()), self.signer.signer(base_url))

    def status(self, call: _Call) -> Response[bytes]:
        return _json(self._status(self._execution(call.key, call.target), call.base_url))

    def cancel(self, call: _Call) -> Response[bytes]:
        """202; a pending or running execution turns `cancelled`, a terminal one is left as it is
        (video-gen/skills tools.md: "transitions to cancelled if it has not already completed")."""
        execution = self._execution(call.key, call.target)
        current = self._status(execution, call.base_url)
        if current.status in ("pending", "running"):
            stopped = msgspec.structs.replace(execution, cancelled_progress=current.progress_percentage)
            self.executions[execution.id] = stopped
        return Response(b"", status_code=202)  # the body is undocumented (providers.md §7 q4)

    def upload(self, call: _Call) -> Response[bytes]:
        body = decode_body(call.body, UploadBody)
        if not (body.display_name or "").strip():
            raise invalid("displayName is required")
        stored = StoredFile(
            id="vg_file_" + secrets.token_hex(12),
            owner=call.key,
            display_name=body.display_name or "",
            type=body.type,
            temporary=body.is_temporary,
            upload_token=secrets.token_urlsafe(24),
            upload_expires_at=self.clock() + self.config.upload_url_ttl_s,
        )
        self.files[stored.id] = stored
        self.uploads[stored.upload_token] = stored.id
        upload_url = f"{call.base_url.rstrip('/')}{STORAGE_UPLOADS_PATH}/{stored.upload_token}"
        return _json(_UploadReply(file_id=stored.id, upload_url=upload_url))

    def store(self, token: str, content: bytes, content_type: str | None) -> Response[bytes]:
        """The presigned PUT: storage answers, not the API, so errors are storage-shaped and auth is the URL."""
        stored = self.files.get(self.uploads.get(token, ""))
        if stored is None:
            return _storage_error(403, "SignatureDoesNotMatch", "The request signature does not match.")
        if self.clock() > stored.upload_expires_at:
            return _storage_error(403, "AccessDenied", "Request has expired")
        self.files[stored.id] = msgspec.structs.replace(
            stored, uploaded_at=self.clock(), content=content, content_type=content_type or stored.content_type
        )
        return Response(b"", status_code=200)

    def file(self, call: _Call) -> Response[bytes]:
        if not _FILE_ID.fullmatch(call.target):
            raise VendorError(400, "Invalid file id.", "invalid_id")
        stored = self.files.get(call.target)
        if stored is None or stored.owner != call.key:
            raise VendorError(404, "File not found.")
        state = file_state(stored, now=self.clock(), ready_s=self._scaled(self.config.file_ready_s))
        return _json(file_reply(stored, state=state, sign=self.signer.signer(call.base_url)))

    def download(self, name: str, expires: str, signature: str) -> Response[bytes]:
        refused = self.signer.verify(name, expires, signature)
        if refused is not None:
            return refused
        if name.endswith(".mp4"):
            restyled_s = self.restyled_s.get(name.removesuffix(".mp4"))
            content = sample_video() if restyled_s is None else sample_video_lasting(restyled_s)
            return Response(content, media_type="video/mp4")
        if name.endswith(".jpg"):
            return Response(sample_thumbnail(), media_type="image/jpeg")
        stored = self.files[name]  # a valid signature names a stored file
        return Response(stored.content, media_type=stored.content_type)


def create_videogen_emulator(
    config: VideoGenEmulatorConfig,
    *,
    clock: Callable[[], float] = time.monotonic,
    wall_clock: Callable[[], float] = time.time,
) -> Litestar:
    """The emulator app. `clock` drives executions, files and rate windows; `wall_clock` (unix s) stamps
    `X-RateLimit-Reset` and URL expiries."""
    skew = Skew()  # moved by POST /_sandbox/clock
    clock, wall_clock = skew.shifted(clock), skew.shifted(wall_clock)
    emu = _VideoGenEmulator(config, clock=clock, wall_clock=wall_clock)
    return Litestar(
        route_handlers=[*_api_routes(emu), *_storage_routes(emu), *control_handlers(emu.faults, emu.stats, skew)],
        exception_handlers={VendorError: _render_vendor_error},
        openapi_config=None,
    )


def _api_routes(emu: _VideoGenEmulator) -> list[HTTPRouteHandler]:
    """The vendor's paths (providers.md §2.2), each behind auth, its rate window and the switches."""

    @post(GENERATE_PATH, status_code=202)
    async def generate(request: Request[Any, Any, Any]) -> Response[bytes]:
        return await emu.handle(request, "generate", emu.generate)

    @get(f"{EXECUTIONS_PATH}/{{execution_id:str}}")
    async def status(request: Request[Any, Any, Any], execution_id: FromPath[str]) -> Response[bytes]:
        return await emu.handle(request, "status", emu.status, execution_id)

    @post(f"{EXECUTIONS_PATH}/{{execution_id:str}}/cancel", status_code=202)
    async def cancel(request: Request[Any, Any, Any], execution_id: FromPath[str]) -> Response[bytes]:
        return await emu.handle(request, "cancel", emu.cancel, execution_id)

    @post(UPLOAD_PATH, status_code=200)
    async def upload(request: Request[Any, Any, Any]) -> Response[bytes]:
        return await emu.handle(request, "upload", emu.upload)

    @get(f"{FILES_PATH}/{{file_id:str}}")
    async def file(request: Request[Any, Any, Any], file_id: FromPath[str]) -> Response[bytes]:
        return await emu.handle(request, "file", emu.file, file_id)

    return [generate, status, cancel, upload, file]


def _storage_routes(emu: _VideoGenEmulator) -> list[HTTPRouteHandler]:
    """The storage host behind the presigned URLs: no API key, the URL itself is the credential."""

    @put(f"{STORAGE_UPLOADS_PATH}/{{token:str}}", status_code=200)
    async def store(request: Request[Any, Any, Any], token: FromPath[str]) -> Response[bytes]:
        return emu.store(token, await request.body(), request.headers.get("content-type"))

    @get(f"{STORAGE_FILES_PATH}/{{name:str}}")
    async def download(request: Request[Any, Any, Any], name: FromPath[str]) -> Response[bytes]:
        query = request.query_params
        return emu.download(name, query.get("expires", ""), query.get("signature", ""))

    return [store, download]


def sandbox_app(api_key: str, time_scale: float) -> Litestar:
    """The `make run` emulator: one key, the add-on (so watermark control works), documented limits."""
    return create_videogen_emulator(
        VideoGenEmulatorConfig(api_keys=frozenset({api_key}), time_scale=time_scale, add_on=True)
    )
