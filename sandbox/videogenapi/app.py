"""videogenapi emulator (seeds 002/004, providers.md §3.9): REST routes under `/api/v1`, real monthly and
per-model hourly counters, the public video download and the sandbox fault controls. No adapter logic."""

from __future__ import annotations

import collections
import datetime as dt
import http
import math
import random
import time
import uuid
from collections.abc import Callable
from functools import partial
from typing import Annotated, Any

import msgspec
from litestar import Litestar, Request, Response, get, post
from litestar.params import FromPath

from sandbox.assets import sample_video
from sandbox.clock import JobTimeline, Skew
from sandbox.faults import CallStats, FaultQueue, Outcome, apply_fault, control_handlers, marker_outcome
from sandbox.videogenapi.jobs import (
    ErrorBody,
    Job,
    LimitDetails,
    ModelSpec,
    UsageBody,
    VendorError,
    accepted_reply,
    decode_generate,
    default_models,
    job_status,
    resolve_settings,
    status_reply,
    vendor_error,
    wall_text,
)

API = "/api/v1"
HOUR_S = 3600.0
UPGRADE_PLAN = "Unlimited $199/month"  # seed 004 429 `details.upgrade_plan`
NonNegative = Annotated[float, msgspec.Meta(ge=0)]
_Count = Annotated[int, msgspec.Meta(ge=0)]


def _default_hourly_limits() -> dict[str, int]:
    return {"sora-2": 10}  # seed 004: the Sora-2 429 `details.limit` (its message says 5: emulate details)


class VideoGenApiEmulatorConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The emulated account: keys, plan counters and the model table. A job is queued `queue_s`, then runs
    `run_s` (+ `audio_s` with add_audio, seed 002 "Processing Time"); those, the hourly model windows and the
    `seconds_until_reset` a 429 announces are all multiplied by `time_scale` (one compressed provider clock).
    The monthly allowance follows the UTC calendar."""

    api_keys: frozenset[str]
    queue_s: NonNegative = 1.0
    run_s: NonNegative = 4.0
    audio_s: NonNegative = 1.0
    time_scale: NonNegative = 1.0
    monthly_limit: _Count = 100  # seed 002 accepted reply `usage.monthly_limit`
    hourly_limits: dict[str, _Count] = msgspec.field(default_factory=_default_hourly_limits)
    models: dict[str, ModelSpec] = msgspec.field(default_factory=default_models)


# ------------------------------------------------------------------------------------------- wire bodies


class _UserInfo(msgspec.Struct):
    plan: str


class _UserReply(msgspec.Struct):
    """Undocumented; one integrator reads `usage.current_month_usage` and `usage.monthly_limit` (§3.4)."""

    success: bool
    user: _UserInfo
    usage: UsageBody


class _GenerationsReply(msgspec.Struct):
    """Undocumented; one integrator reads `data` (§3.4). Newest first."""

    success: bool
    data: list[object]
    page: int
    limit: int
    total: int


def _json(reply: object, status_code: int = 200) -> Response[bytes]:
    return Response(msgspec.json.encode(reply), status_code=status_code, media_type="application/json")


def _render_vendor_error(_: Request[Any, Any, Any], exc: VendorError) -> Response[bytes]:
    return _json(exc.body, exc.status_code)


def _month_of(timestamp: float) -> str:
    """The usage month: the wall clock's UTC calendar month [inference: the docs name no timezone]."""
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m")


def _label(model: str) -> str:
    return model[:1].upper() + model[1:]  # "sora-2" -> "Sora-2", as in seed 004's 429


class _Counters:
    """Generations accepted per key and UTC month, and per key and model in a moving one-hour window."""

    def __init__(self, window_s: float = HOUR_S) -> None:
        self.monthly: collections.Counter[tuple[str, str]] = collections.Counter()
        self._hits: dict[tuple[str, str], collections.deque[float]] = collections.defaultdict(collections.deque)
        self._window_s = window_s

    def hourly(self, key: str, model: str, now: float) -> tuple[int, int]:
        """(generations in the window, whole seconds until the oldest of them leaves it)."""
        hits = self._hits[(key, model)]
        while hits and hits[0] + self._window_s <= now:
            hits.popleft()
        return len(hits), max(1, math.ceil(hits[0] + self._window_s - now)) if hits else 0

    def add(self, key: str, month: str, model: str, now: float) -> int:
        self._hits[(key, model)].append(now)
        self.monthly[(key, month)] += 1
        return self.monthly[(key, month)]


def _hourly_error(model: str, used: int, limit: int, wait_s: int, wall_now: float) -> VendorError:
    """Seed 004's model-specific 429, key for key."""
    label = _label(model)
    details = LimitDetails(
        current_usage=used,
        limit=limit,
        window="1 hour",
        reset_time=wall_text(wall_now + wait_s),
        seconds_until_reset=wait_s,
        upgrade_required=True,
        upgrade_plan=UPGRADE_PLAN,
    )
    message = f"The {label} model is limited to {limit} generations per hour for the Unlimited plan."
    body = ErrorBody(
        error=f"{label} rate limit exceeded", message=f"{message} Contact support for higher limits.", details=details
    )
    return VendorError(429, body)


def _monthly_error(used: int, limit: int) -> VendorError:
    """The monthly-allowance 429; its shape is invented (providers.md §3.9)."""
    message = f"You have used {used} of the {limit} generations included in your plan this month."
    usage = UsageBody(current_month_usage=used, monthly_limit=limit)
    return VendorError(429, ErrorBody(error="Monthly usage limit exceeded", message=message, usage=usage))


# The fault bodies for statuses seed 002's error table lists (its "Error" and "Description" columns).
_DOCUMENTED_ERRORS = {
    400: ("Bad Request", "Invalid parameters or missing required fields"),
    401: ("Unauthorized", "Invalid or missing API key"),
    404: ("Not Found", "Resource not found"),
    500: ("Internal Server Error", "Internal server error"),
}


class _VideoGenApiEmulator:
    """One emulated account: its jobs, counters, switches and statistics, all in memory."""

    def __init__(
        self, config: VideoGenApiEmulatorConfig, *, clock: Callable[[], float], wall_clock: Callable[[], float]
    ) -> None:
        self.config = config
        self.clock = clock
        self.wall_clock = wall_clock
        self.jobs: dict[str, Job] = {}
        self.counters = _Counters(HOUR_S * config.time_scale)
        self.faults = FaultQueue(clock)
        self.stats = CallStats()
        self.rng = random.Random()

    def _authorize(self, header: str | None) -> str:
        scheme, _, key = (header or "").partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            raise vendor_error(401, "Unauthorized", "Missing API key. Send it as Authorization: Bearer <key>.")
        if key not in self.config.api_keys:
            raise vendor_error(401, "Unauthorized", "Invalid API key.")
        return key

    async def serve(
        self,
        request: Request[Any, Any, Any],
        action: str,
        job_id: str | None,
        handler: Callable[[str, str], object],
    ) -> Response[bytes]:
        """Auth, then any queued switch for `action`, then `handler(key, base_url)` (switched calls count)."""
        key = self._authorize(request.headers.get("authorization"))
        with self.stats.track(action, job_id):
            forced = await apply_fault(self.faults.take(action), self._fault_body)
            if forced is not None:
                return forced
            return _json(handler(key, str(request.base_url).rstrip("/")))

    def _fault_body(self, status_code: int) -> bytes:
        """The vendor's own error for a forced status: seed 004's 429, seed 002's table, else the phrase."""
        if status_code == 429:
            limit = self.config.hourly_limits.get("sora-2", 10)
            wait_s = max(1, math.ceil(HOUR_S * self.config.time_scale))
            return msgspec.json.encode(_hourly_error("sora-2", limit, limit, wait_s, self.wall_clock()).body)
        try:
            phrase = http.HTTPStatus(status_code).phrase
        except ValueError:
            phrase = "Sandbox fault"
        error, message = _DOCUMENTED_ERRORS.get(status_code, (phrase, "Sandbox fault"))
        return msgspec.json.encode(ErrorBody(error=error, message=message))

    def _usage(self, key: str, used: int | None = None) -> UsageBody:
        if used is None:
            used = self.counters.monthly[(key, _month_of(self.wall_clock()))]
        return UsageBody(current_month_usage=used, monthly_limit=self.config.monthly_limit)

    def _check_limits(self, key: str, model: str, now: float, wall_now: float) -> None:
        used = self.counters.monthly[(key, _month_of(wall_now))]
        if used >= self.config.monthly_limit:
            raise _monthly_error(used, self.config.monthly_limit)
        limit = self.config.hourly_limits.get(model)
        if limit is not None:
            count, wait_s = self.counters.hourly(key, model, now)
            if count >= limit:
                raise _hourly_error(model, count, limit, wait_s, wall_now)

    def _new_id(self, wall_now: float) -> str:
        """`gen_<13 hex>_<6 digits>`, like PHP uniqid() plus a counter (providers.md §3.4)."""
        while True:
            candidate = f"gen_{int(wall_now):08x}{self.rng.randrange(16**5):05x}_{self.rng.randrange(10**6):06d}"
            if candidate not in self.jobs:
                return candidate

    def generate(self, key: str, raw: bytes) -> object:
        body = decode_generate(raw)
        settings = resolve_settings(body, self.config.models)
        now, wall_now = self.clock(), self.wall_clock()
        self._check_limits(key, settings.model, now, wall_now)
        outcome = marker_outcome([settings.prompt])
        if outcome is Outcome.BLOCKED:  # undocumented: a moderation refusal at submit [inference]
            message = "Your prompt was flagged by our content moderation system. Please revise it."
            raise vendor_error(400, "Content policy violation", message)
        used = self.counters.add(key, _month_of(wall_now), settings.model, now)
        seed = body.seed if body.seed is not None and body.seed != -1 else self.rng.randrange(1, 2**31)
        job = Job(
            id=self._new_id(wall_now),
            request_id=str(uuid.uuid4()),
            key=key,
            created_at=now,
            created_wall=wall_now,
            outcome=outcome,
            settings=settings,
            seed=seed,
        )
        self.jobs[job.id] = job
        return accepted_reply(job, self.config.models, self._usage(key, used))

    def _timeline(self, job: Job) -> JobTimeline:
        cfg = self.config
        run_s = cfg.run_s + (cfg.audio_s if job.settings.add_audio else 0.0)
        return JobTimeline(created_at=job.created_at, queue_s=cfg.queue_s, run_s=run_s, time_scale=cfg.time_scale)

    def _reply(self, job: Job, base_url: str) -> object:
        video_url = f"{base_url}{API}/video/{job.id}"
        return status_reply(job, self._timeline(job), self.clock(), self.config.models, video_url)

    def status(self, key: str, base_url: str, generation_id: str) -> object:
        job = self.jobs.get(generation_id)
        if job is None or job.key != key:
            raise vendor_error(404, "Not found", "Generation not found.")
        return self._reply(job, base_url)

    def generations(self, key: str, base_url: str, page: str | None, limit: str | None) -> object:
        try:
            page_n, limit_n = int(page or 1), int(limit or 10)
        except ValueError:
            page_n = limit_n = 0
        if page_n < 1 or not 1 <= limit_n <= 100:  # undocumented bounds [inference]
            raise vendor_error(400, "Invalid parameter", "page must be >= 1 and limit between 1 and 100.")
        owned = [job for job in reversed(self.jobs.values()) if job.key == key]
        chosen = owned[(page_n - 1) * limit_n : page_n * limit_n]
        data = [self._reply(job, base_url) for job in chosen]
        return _GenerationsReply(success=True, data=data, page=page_n, limit=limit_n, total=len(owned))

    def user(self, key: str, _base_url: str) -> object:
        return _UserReply(success=True, user=_UserInfo(plan="Unlimited"), usage=self._usage(key))

    def video(self, generation_id: str) -> Response[bytes]:
        """Public, no auth (seed 002 "Public Access"); only a completed job has a video."""
        job = self.jobs.get(generation_id)
        if job is None or job_status(job, self._timeline(job), self.clock()) != "completed":
            raise vendor_error(404, "Not found", "Video not found.")
        return Response(sample_video(), media_type="video/mp4")


def create_videogenapi_emulator(
    config: VideoGenApiEmulatorConfig,
    *,
    clock: Callable[[], float] = time.monotonic,
    wall_clock: Callable[[], float] = time.time,
) -> Litestar:
    """The emulator app. `clock` drives job phases and the hourly windows; `wall_clock` (unix s) picks the
    usage month and stamps `completed_at` and `reset_time`."""
    skew = Skew()  # moved by POST /_sandbox/clock
    clock, wall_clock = skew.shifted(clock), skew.shifted(wall_clock)
    emulator = _VideoGenApiEmulator(config, clock=clock, wall_clock=wall_clock)

    @post(f"{API}/generate", status_code=200)
    async def generate(request: Request[Any, Any, Any]) -> Response[bytes]:
        raw = await request.body()
        return await emulator.serve(request, "generate", None, lambda key, _: emulator.generate(key, raw))

    @get(f"{API}/status/{{generation_id:str}}")
    async def status(request: Request[Any, Any, Any], generation_id: FromPath[str]) -> Response[bytes]:
        return await emulator.serve(
            request, "status", generation_id, partial(emulator.status, generation_id=generation_id)
        )

    @get(f"{API}/generations")
    async def generations(request: Request[Any, Any, Any]) -> Response[bytes]:
        page, limit = request.query_params.get("page"), request.query_params.get("limit")
        return await emulator.serve(request, "generations", None, partial(emulator.generations, page=page, limit=limit))

    @get(f"{API}/user")
    async def user(request: Request[Any, Any, Any]) -> Response[bytes]:
        return await emulator.serve(request, "user", None, emulator.user)

    @get(f"{API}/video/{{generation_id:str}}")
    async def video(generation_id: FromPath[str]) -> Response[bytes]:
        return emulator.video(generation_id)

    return Litestar(
        route_handlers=[
            generate,
            status,
            generations,
            user,
            video,
            *control_handlers(emulator.faults, emulator.stats, skew),
        ],
        exception_handlers={VendorError: _render_vendor_error},
        openapi_config=None,
    )


def sandbox_app(api_key: str, time_scale: float) -> Litestar:
    """The emulator as `make run` and the end-to-end tests serve it: one key, a faster or slower clock."""
    config = VideoGenApiEmulatorConfig(api_keys=frozenset({api_key}), time_scale=time_scale)
    return create_videogenapi_emulator(config)
