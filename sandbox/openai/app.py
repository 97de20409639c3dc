"""OpenAI video API emulator (docs/providers.md §11): `/v1/videos` create (JSON or multipart), retrieve, list,
delete and content, the error envelope, per-key request windows with `x-ratelimit-*` headers, and the sandbox
fault controls. The Azure flavour serves the same under `/openai/v1`, keyed by `api-key` and `api-version`."""

from __future__ import annotations

import collections
import math
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import msgspec
from litestar import Litestar, Request, Response, delete, get, post
from litestar.datastructures import UploadFile
from litestar.params import FromPath

from sandbox.assets import sample_thumbnail, sample_video
from sandbox.clock import JobTimeline, Skew
from sandbox.faults import CallStats, FaultQueue, Outcome, apply_fault, control_handlers, marker_outcome
from sandbox.openai.jobs import (
    INSUFFICIENT_QUOTA,
    MODERATION_BLOCKED,
    VARIANTS,
    CreateSettings,
    Deleted,
    Flavour,
    Job,
    VendorError,
    VideoList,
    VideoObject,
    check_create,
    fault_body,
    invalid,
    json_reference,
    not_found,
    rate_limited,
    unauthorized,
    video_object,
    video_status,
)

NonNegative = Annotated[float, msgspec.Meta(ge=0)]
MINUTE_S = 60.0
PREFIXES: dict[Flavour, str] = {"openai": "/v1", "azure": "/openai/v1"}  # api.openai.com/v1; <resource>/openai/v1


class OpenAiEmulatorConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The emulated account. A job is queued `queue_s` then runs `run_s`; those, the one-minute request window and
    the asset lifetime `expiry_s` (the guide: downloads stay available up to an hour) scale by `time_scale`.
    `requests_per_minute` caps creates per key (None: no cap); `monthly_videos` is the account's quota (None:
    none), past which a create is the `insufficient_quota` 429. The Azure flavour checks `api_version` when set."""

    api_keys: frozenset[str]
    flavour: Flavour = "openai"
    api_version: str | None = None
    queue_s: NonNegative = 1.0
    run_s: NonNegative = 4.0
    time_scale: NonNegative = 1.0
    expiry_s: NonNegative = 3600.0
    requests_per_minute: Annotated[int, msgspec.Meta(ge=1)] | None = None
    monthly_videos: Annotated[int, msgspec.Meta(ge=0)] | None = None


def _json(body: object, status_code: int = 200, headers: dict[str, str] | None = None) -> Response[bytes]:
    return Response(msgspec.json.encode(body), status_code=status_code, media_type="application/json", headers=headers)


def _render_vendor_error(_: Request[Any, Any, Any], exc: VendorError) -> Response[bytes]:
    return _json(exc.body, exc.status_code, exc.headers)


def _duration_text(seconds: float) -> str:
    """`x-ratelimit-reset-requests` as OpenAI writes it: `1s`, `6m0s`."""
    whole = max(1, math.ceil(seconds))
    return f"{whole // 60}m{whole % 60}s" if whole >= 60 else f"{whole}s"


class _Window:
    """Creates per key in a moving window: how many, and when the oldest leaves it."""

    def __init__(self, limit: int, window_s: float) -> None:
        self.limit = limit
        self._window_s = window_s
        self._hits: dict[str, collections.deque[float]] = collections.defaultdict(collections.deque)

    def reading(self, key: str, now: float) -> tuple[int, float]:
        hits = self._hits[key]
        while hits and hits[0] + self._window_s <= now:
            hits.popleft()
        return len(hits), (hits[0] + self._window_s - now) if hits else self._window_s

    def add(self, key: str, now: float) -> None:
        self._hits[key].append(now)

    def headers(self, key: str, now: float) -> dict[str, str]:
        used, reset_s = self.reading(key, now)
        return {
            "x-ratelimit-limit-requests": str(self.limit),
            "x-ratelimit-remaining-requests": str(max(0, self.limit - used)),
            "x-ratelimit-reset-requests": _duration_text(reset_s),
        }


class _OpenAiEmulator:
    """One emulated account: its videos, request windows, switches and statistics, all in memory."""

    def __init__(
        self, config: OpenAiEmulatorConfig, *, clock: Callable[[], float], wall_clock: Callable[[], float]
    ) -> None:
        self.config = config
        self.clock = clock
        self.wall_clock = wall_clock
        self.jobs: dict[str, Job] = {}
        self.created: collections.Counter[str] = collections.Counter()
        rpm = config.requests_per_minute
        self.window = None if rpm is None else _Window(rpm, MINUTE_S * config.time_scale)
        self.faults = FaultQueue(clock)
        self.stats = CallStats()

    def _authorize(self, request: Request[Any, Any, Any]) -> str:
        flavour = self.config.flavour
        if flavour == "azure":
            key = request.headers.get("api-key", "").strip()
        else:
            scheme, _, key = request.headers.get("authorization", "").partition(" ")
            key = key.strip() if scheme.lower() == "bearer" else ""
        if not key:
            raise unauthorized(flavour, missing=True)
        if key not in self.config.api_keys:
            raise unauthorized(flavour, missing=False)
        wanted = self.config.api_version
        if wanted is not None and request.query_params.get("api-version") != wanted:
            # [inference] Azure's reply to a missing or unsupported `api-version`
            raise invalid("API version not supported", param="api-version")
        return key

    async def serve(
        self,
        request: Request[Any, Any, Any],
        action: str,
        job_id: str | None,
        handler: Callable[[str], Awaitable[Response[bytes]]],
    ) -> Response[bytes]:
        """Auth, then any queued switch for `action`, then `handler(key)` (switched calls count)."""
        key = self._authorize(request)
        with self.stats.track(action, job_id):
            forced = await apply_fault(self.faults.take(action), self._fault_body)
            if forced is not None:
                return forced
            return await handler(key)

    def _fault_body(self, status_code: int) -> bytes:
        return msgspec.json.encode({"error": fault_body(status_code, self.config.flavour)})

    def _timeline(self, job: Job) -> JobTimeline:
        cfg = self.config
        return JobTimeline(created_at=job.created_at, queue_s=cfg.queue_s, run_s=cfg.run_s, time_scale=cfg.time_scale)

    def _video(self, job: Job) -> VideoObject:
        return video_object(job, self._timeline(job), self.clock(), self.config.expiry_s * self.config.time_scale)

    def _admit(self, key: str, model: str, now: float) -> dict[str, str]:
        """The account quota, then the per-key window; the window's headers for the reply."""
        quota = self.config.monthly_videos
        if quota is not None and self.created[key] >= quota:
            raise VendorError(429, INSUFFICIENT_QUOTA)
        if self.window is None:
            return {}
        used, reset_s = self.window.reading(key, now)
        if used >= self.window.limit:
            wait_s = max(1, math.ceil(reset_s))
            headers = {**self.window.headers(key, now), "retry-after": str(wait_s)}
            if self.config.flavour == "azure":
                headers["retry-after-ms"] = str(wait_s * 1000)
            raise VendorError(429, rate_limited(model, self.window.limit, wait_s), headers)
        self.window.add(key, now)
        return self.window.headers(key, now)

    def create(self, key: str, settings: CreateSettings) -> Response[bytes]:
        now = self.clock()
        headers = self._admit(key, settings.model, now)
        outcome = marker_outcome([settings.prompt])
        if outcome is Outcome.BLOCKED:
            raise VendorError(400, MODERATION_BLOCKED, headers)
        self.created[key] += 1
        job = Job(
            id=f"video_{secrets.token_hex(24)}",  # `video_` + 48 hex digits, as the guide's examples
            key=key,
            created_at=now,
            created_wall=int(self.wall_clock()),
            outcome=outcome,
            settings=settings,
        )
        self.jobs[job.id] = job
        return _json(self._video(job), headers=headers)

    def owned(self, key: str, video_id: str) -> Job:
        job = self.jobs.get(video_id)
        if job is None or job.key != key:
            raise not_found(video_id)
        return job

    def retrieve(self, key: str, video_id: str) -> Response[bytes]:
        return _json(self._video(self.owned(key, video_id)))

    def remove(self, key: str, video_id: str) -> Response[bytes]:
        """Delete the video, whatever its state [inference: the reference does not say a running render stops]."""
        self.owned(key, video_id)
        del self.jobs[video_id]
        return _json(Deleted(id=video_id, object="video.deleted", deleted=True))

    def listing(self, key: str, limit: str | None, after: str | None, order: str | None) -> Response[bytes]:
        """The list envelope, newest first unless `order=asc`; `limit` 1-100, default 20 [inference: OpenAI's usual
        list bounds; the video reference does not state them]."""
        try:
            count = int(limit or 20)
        except ValueError:
            count = 0
        if not 1 <= count <= 100 or order not in (None, "asc", "desc"):
            raise invalid("Invalid 'limit' or 'order'.", param="limit", code="invalid_value")
        owned = [job for job in self.jobs.values() if job.key == key]
        if order != "asc":
            owned.reverse()
        ids = [job.id for job in owned]
        start = ids.index(after) + 1 if after in ids else 0
        page = [self._video(job) for job in owned[start : start + count]]
        first, last = (page[0].id, page[-1].id) if page else (None, None)
        more = start + count < len(ids)
        return _json(VideoList(object="list", data=page, first_id=first, last_id=last, has_more=more))

    def content(self, key: str, video_id: str, variant: str | None) -> Response[bytes]:
        job = self.owned(key, video_id)
        chosen = variant or "video"
        if chosen not in VARIANTS:
            listed = "'video', 'thumbnail', and 'spritesheet'"
            message = f"Invalid value: '{chosen}'. Supported values are: {listed}."
            raise invalid(message, param="variant", code="invalid_value")
        now = self.clock()
        status, _ = video_status(job, self._timeline(job), now)
        if status != "completed":  # [inference] the wording
            raise invalid(f"Video '{video_id}' is {status}; its content is available once it is completed.")
        expiry_s = self.config.expiry_s * self.config.time_scale
        if now > self._timeline(job).finished_at + expiry_s:  # [inference] an expired asset is a 404
            raise invalid(f"The content of video '{video_id}' has expired.", status=404)
        body = sample_video() if chosen == "video" else sample_thumbnail()
        return Response(body, media_type=VARIANTS[chosen])


async def _create_fields(request: Request[Any, Any, Any]) -> tuple[dict[str, str], bool]:
    """The create's scalar fields and whether it carries an `input_reference`, from a multipart form (what the
    SDK sends) or a JSON body (`input_reference` as `{"image_url"}` or `{"file_id"}`)."""
    media_type = request.content_type[0]
    if media_type == "multipart/form-data":
        form = await request.form()
        fields: dict[str, str] = {}
        has_reference = False
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                if name != "input_reference" or not await value.read():
                    raise invalid(f"Invalid file part '{name}'.", param=name, code="invalid_value")
                has_reference = True
            else:
                fields[name] = str(value)
        return fields, has_reference
    if media_type != "application/json":  # [inference] the wording
        raise invalid("Unsupported content type: send application/json or multipart/form-data.")
    try:
        raw = msgspec.json.decode(await request.body())
    except msgspec.DecodeError as exc:
        raise invalid("We could not parse the JSON body of your request.") from exc
    if not isinstance(raw, dict):
        raise invalid("The request body must be a JSON object.")
    has_reference = json_reference(raw.pop("input_reference", None))
    for name, value in raw.items():  # every create parameter is a string [inference: the wording of the 400]
        if not isinstance(value, str):
            kind = type(value).__name__
            raise invalid(
                f"Invalid type for '{name}': expected a string, but got {kind} instead.",
                param=name,
                code="invalid_type",
            )
    return raw, has_reference


def create_openai_emulator(
    config: OpenAiEmulatorConfig,
    *,
    clock: Callable[[], float] = time.monotonic,
    wall_clock: Callable[[], float] = time.time,
) -> Litestar:
    """The emulator app. `clock` drives job phases and request windows; `wall_clock` (unix s) stamps the videos."""
    skew = Skew()  # moved by POST /_sandbox/clock
    emulator = _OpenAiEmulator(config, clock=skew.shifted(clock), wall_clock=skew.shifted(wall_clock))
    videos = f"{PREFIXES[config.flavour]}/videos"

    @post(videos, status_code=200)
    async def create(request: Request[Any, Any, Any]) -> Response[bytes]:
        async def handle(key: str) -> Response[bytes]:
            fields, has_reference = await _create_fields(request)
            return emulator.create(key, check_create(fields, has_reference))

        return await emulator.serve(request, "generate", None, handle)

    @get(f"{videos}/{{video_id:str}}")
    async def retrieve(request: Request[Any, Any, Any], video_id: FromPath[str]) -> Response[bytes]:
        async def handle(key: str) -> Response[bytes]:
            return emulator.retrieve(key, video_id)

        return await emulator.serve(request, "status", video_id, handle)

    @get(videos)
    async def listing(request: Request[Any, Any, Any]) -> Response[bytes]:
        query = request.query_params

        async def handle(key: str) -> Response[bytes]:
            return emulator.listing(key, query.get("limit"), query.get("after"), query.get("order"))

        return await emulator.serve(request, "list", None, handle)

    @delete(f"{videos}/{{video_id:str}}", status_code=200)
    async def remove(request: Request[Any, Any, Any], video_id: FromPath[str]) -> Response[bytes]:
        async def handle(key: str) -> Response[bytes]:
            return emulator.remove(key, video_id)

        return await emulator.serve(request, "cancel", video_id, handle)

    @get(f"{videos}/{{video_id:str}}/content")
    async def content(request: Request[Any, Any, Any], video_id: FromPath[str]) -> Response[bytes]:
        async def handle(key: str) -> Response[bytes]:
            return emulator.content(key, video_id, request.query_params.get("variant"))

        return await emulator.serve(request, "file", video_id, handle)

    return Litestar(
        route_handlers=[
            create,
            retrieve,
            listing,
            remove,
            content,
            *control_handlers(emulator.faults, emulator.stats, skew),
        ],
        exception_handlers={VendorError: _render_vendor_error},
        openapi_config=None,
    )


def sandbox_app(api_key: str, time_scale: float) -> Litestar:
    """The OpenAI flavour as `make run`, `python -m sandbox` and the end-to-end tests serve it."""
    return create_openai_emulator(OpenAiEmulatorConfig(api_keys=frozenset({api_key}), time_scale=time_scale))


AZURE_API_VERSION = "preview"  # [inference] what the Azure flavour asks for when served by the sandbox


def azure_sandbox_app(api_key: str, time_scale: float) -> Litestar:
    """The Azure OpenAI flavour: `/openai/v1/videos`, `api-key` header, `api-version` query."""
    config = OpenAiEmulatorConfig(
        api_keys=frozenset({api_key}), flavour="azure", api_version=AZURE_API_VERSION, time_scale=time_scale
    )
    return create_openai_emulator(config)
