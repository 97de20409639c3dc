"""NanoGPT video API emulator (providers.md §4, §4.11): submit against a really charged prepaid balance, unified
status in either documented shape, the model catalogue, local assets and the sandbox fault controls.
No adapter logic."""

from __future__ import annotations

import collections
import datetime as dt
import math
import secrets
import string
import time
from collections.abc import Callable
from typing import Annotated, Any, Literal

import httpx
import msgspec
from litestar import Litestar, Request, Response, get, post
from litestar.params import FromPath

from sandbox.assets import sample_video, sample_video_lasting
from sandbox.clock import JobTimeline, Progress, Skew
from sandbox.faults import CallStats, FaultQueue, Outcome, apply_fault, control_handlers, marker_outcome
from sandbox.nanogpt.errors import (
    BLOCKED,
    MICROS_PER_USD,
    NOT_CHARGED,
    RATE_LIMITED,
    PlainError,
    VendorError,
    balance_error,
    daily_limit,
    envelope,
    fault_error,
    invalid,
    usd,
)
from sandbox.nanogpt.jobs import (
    FAILURES,
    FLAT_STATES,
    NESTED_STATES,
    REFUNDED_OUTCOMES,
    FlatReply,
    GenerateBody,
    Job,
    NestedData,
    NestedReply,
    State,
    SubmitReply,
    VideoModel,
    VideoOutput,
    VideoRef,
    accept,
    catalogue_card,
    decode_media,
    job_state,
    source_field,
    source_seconds,
)

SUBMIT_PATH = "/api/generate-video"
STATUS_PATH = "/api/video/status"
MODELS_PATH = "/api/v1/video-models"
STORAGE_PATH = "/storage/videos"  # where completed videos are served (NanoGPT's real storage host is unknown)
WINDOW_S, DAY_S = 60.0, 86_400.0
_ID_CHARS = string.ascii_lowercase + string.digits
NonNegative = Annotated[float, msgspec.Meta(ge=0)]


# The six models the gateway's example catalogue offers. Fields follow the docs' model directory
# (Nano-GPT-com/docs video-generation.mdx); prices are INVENTED (§4.8: per-model prices are not published).
DEFAULT_MODELS: dict[str, VideoModel] = {
    "sora-2": VideoModel(
        name="Sora 2",
        per_second_usd=0.10,
        duration_field="seconds",
        durations=("4", "8", "12"),
        default_duration="4",
        aspect_field="orientation",
        aspects=("landscape", "portrait"),
        resolutions=("720p",),
    ),
    "veo3-1-video": VideoModel(
        name="Veo 3.1",
        per_second_usd=0.15,
        durations=("4", "6", "8"),
        default_duration="8",
        aspects=("16:9", "9:16"),
        resolutions=("720p", "1080p"),
        audio=True,
        negative_prompt=True,
        seed=True,
    ),
    "kling-v25-turbo-pro": VideoModel(
        name="Kling 2.5 Turbo Pro",
        per_second_usd=0.07,
        durations=("5", "10"),
        default_duration="5",
        aspects=("16:9", "9:16", "1:1"),
        last_frame_field="image_tail",
    ),
    "wan-wavespeed-25": VideoModel(
        name="Wan 2.5",
        per_second_usd=0.05,
        durations=("5", "10"),
        default_duration="5",
        aspect_field=None,
        resolutions=("480p", "720p", "1080p"),
        negative_prompt=True,
        seed=True,
    ),
    # Seed 003 names it: "video is only accepted by select models (for example, wan-wavespeed-25-extend)".
    "wan-wavespeed-25-extend": VideoModel(
        name="Wan 2.5 Extend",
        per_second_usd=0.05,
        durations=("5", "10"),
        default_duration="5",
        aspect_field=None,
        text_to_video=False,
        image_to_video=False,
        video_operation="extend",
    ),
    # Seed 003 names it among the models a `reference_image` guides; that it is an edit model (a source video in,
    # the same length out) is Runway's description of Aleph, not the seed's [inference].
    "runwayml-gen4-aleph": VideoModel(
        name="Runway Gen-4 Aleph",
        per_second_usd=0.15,
        durations=(),
        default_duration="5",
        aspect_field=None,
        text_to_video=False,
        image_to_video=False,
        video_operation="edit",
    ),
    "seedance-video": VideoModel(
        name="Seedance",
        per_video_usd=0.24,
        durations=("5", "10"),
        default_duration="5",
        aspects=("16:9", "1:1", "3:4", "9:16", "21:9"),  # seed 003 lists no 9:21
        resolutions=("480p", "720p"),
    ),
    "lightricks-ltx-2-fast": VideoModel(
        name="LTX-2 Fast",
        per_second_usd=0.04,
        durations=tuple(str(s) for s in range(6, 21, 2)),
        default_duration="6",
        aspect_field=None,
        audio=True,
    ),
}


def default_models() -> dict[str, VideoModel]:
    return dict(DEFAULT_MODELS)


class NanoGptEmulatorConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The emulated account(s). `time_scale` compresses provider time: a job is queued `queue_s`, then runs
    `run_s`, and the submit window lasts a minute, all times `time_scale`; so do the waits replies announce
    (Retry-After), so a client honouring them sees one consistent clock. The daily cap follows the UTC calendar.

    The submit window is per key here, though §4.7 documents it per IP (one client is one IP in tests)."""

    api_keys: frozenset[str]
    starting_balance_usd: NonNegative = 10.0  # per key
    models: dict[str, VideoModel] = msgspec.field(default_factory=default_models)
    queue_s: NonNegative = 1.0
    run_s: NonNegative = 4.0
    time_scale: NonNegative = 1.0
    submit_limit_per_minute: Annotated[int, msgspec.Meta(ge=1)] = 50  # §4.2
    daily_request_limit: Annotated[int, msgspec.Meta(ge=1)] | None = None  # §4.7 optional per-key cap
    status_shape: Literal["nested", "flat"] = "nested"  # §4.5: Shape A by default, B on request


def _iso_utc(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _json(reply: object, status_code: int = 200, headers: dict[str, str] | None = None) -> Response[bytes]:
    body = msgspec.json.encode(reply)
    return Response(body, status_code=status_code, headers=headers, media_type="application/json")


def _render_vendor_error(_: Request[Any, Any, Any], exc: VendorError) -> Response[bytes]:
    return _json(exc.payload, exc.status_code, exc.headers)


# ----------------------------------------------------------------------------------------------- emulator


class _NanoGptEmulator:
    """One emulated NanoGPT: balances, jobs, request windows, switches and statistics, all in memory."""

    def __init__(self, config: NanoGptEmulatorConfig, *, clock: Callable[[], float], wall_clock: Callable[[], float]):
        self.config = config
        self.clock = clock
        self.wall_clock = wall_clock
        self.jobs: dict[str, Job] = {}
        self.balances = {key: round(config.starting_balance_usd * MICROS_PER_USD) for key in config.api_keys}
        self.unrefunded: list[str] = []  # jobs that will end FAILED/CANCELED and are still charged
        self.windows: collections.defaultdict[str, collections.deque[float]] = collections.defaultdict(
            collections.deque
        )
        self.daily: collections.Counter[tuple[str, int]] = collections.Counter()
        self.faults = FaultQueue(clock)
        self.stats = CallStats()

    def authorize(self, request: Request[Any, Any, Any], action: str) -> str:
        """§4.1: `x-api-key` or `Authorization: Bearer`; the status route answers in its `Error` schema."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        key = request.headers.get("x-api-key") or (token.strip() if scheme.lower() == "bearer" else "")
        if key in self.config.api_keys:
            return key
        if action == "status":
            raise VendorError(401, PlainError(error=401, message="Unauthorized"))
        message = "Invalid API key" if key else "Missing API key"
        raise envelope(401, message, "authentication_error", code="invalid_api_key")

    async def forced(self, action: str) -> Response[bytes] | None:
        """A queued switch's reply; a status-code switch gets NanoGPT's body and headers for that status."""
        fault, scale = self.faults.take(action), self.config.time_scale
        reply = await apply_fault(fault, lambda code: msgspec.json.encode(fault_error(action, code, scale).payload))
        if reply is not None and fault is not None and fault.body is None and fault.status_code is not None:
            reply.headers.update(fault_error(action, fault.status_code, scale).headers)
        return reply

    def timeline(self, job: Job) -> JobTimeline:
        cfg = self.config
        return JobTimeline(created_at=job.created_at, queue_s=cfg.queue_s, run_s=cfg.run_s, time_scale=cfg.time_scale)

    def settle(self) -> None:
        """§4.8 automatic refunds: a job's charge goes back once it has ended FAILED (or CANCELED)."""
        now, pending = self.clock(), []
        for job_id in self.unrefunded:
            job = self.jobs[job_id]
            if self.timeline(job).at(now).phase == "done":
                self.balances[job.api_key] += job.cost_micros
            else:
                pending.append(job_id)
        self.unrefunded = pending

    def admit(self, key: str) -> None:
        """The 50/min submit window (moving, on `clock`, a minute times `time_scale`), then the optional daily cap
        (UTC days, `wall_clock`)."""
        now, window, window_s = self.clock(), self.windows[key], WINDOW_S * self.config.time_scale
        while window and window[0] <= now - window_s:
            window.popleft()
        if len(window) >= self.config.submit_limit_per_minute:
            retry_after_s = max(1, math.ceil(window[0] + window_s - now))
            raise envelope(429, *RATE_LIMITED, headers={"Retry-After": str(retry_after_s)})
        wall, limit = self.wall_clock(), self.config.daily_request_limit
        day = (key, int(wall // DAY_S))
        if limit is not None and self.daily[day] >= limit:
            raise daily_limit(limit, max(1, math.ceil(DAY_S - wall % DAY_S)))
        window.append(now)
        self.daily[day] += 1

    async def generate(self, key: str, raw: bytes) -> SubmitReply:
        self.settle()
        self.admit(key)
        try:
            body = msgspec.json.decode(raw, type=GenerateBody)
        except msgspec.DecodeError:
            raise invalid("Request body must be a JSON object with the documented field types") from None
        accepted = accept(body, self.config.models, source_s=await _source_seconds(body, self.config.models))
        outcome = marker_outcome([body.prompt or ""])
        if outcome is Outcome.BLOCKED:
            raise envelope(400, *BLOCKED, code="content_policy_violation", refund=NOT_CHARGED)
        cost_micros = accepted.model.price_micros(accepted.billed_s)
        if self.balances[key] < cost_micros:
            raise balance_error(cost_micros)
        self.balances[key] -= cost_micros
        run_id = "vid_" + "".join(secrets.choice(_ID_CHARS) for _ in range(17))
        job = Job(
            id=run_id,
            api_key=key,
            model_id=accepted.model_id,
            cost_micros=cost_micros,
            outcome=outcome,
            created_at=self.clock(),
            created_wall=self.wall_clock(),
            output_s=accepted.output_s,
        )
        self.jobs[run_id] = job
        if outcome in REFUNDED_OUTCOMES:
            self.unrefunded.append(run_id)
        return SubmitReply(
            run_id=run_id,
            id=run_id,
            status="pending",
            model=job.model_id,
            cost=usd(cost_micros),
            payment_source="USD",
            remaining_balance=usd(self.balances[key]),
        )

    def status(self, key: str, request_id: str | None, base_url: str) -> NestedReply | FlatReply:
        """§4.5 status errors: 400 without an id, 404 for an unknown one, 403 for another key's job."""
        self.settle()
        if not request_id:
            raise VendorError(400, PlainError(error=400, message="requestId is required"))
        job = self.jobs.get(request_id)
        if job is None:
            raise VendorError(404, PlainError(error=404, message="Video request not found"))
        if job.api_key != key:
            raise VendorError(403, PlainError(error=403, message="You do not have access to this video request"))
        progress = self.timeline(job).at(self.clock())
        state = job_state(job.outcome, progress.phase)
        video_url = f"{base_url.rstrip('/')}{STORAGE_PATH}/{job.id}.mp4"
        if self.config.status_shape == "flat":
            return self._flat(job, state, progress, video_url)
        return self._nested(job, state, progress, video_url)

    def _nested(self, job: Job, state: State, progress: Progress, video_url: str) -> NestedReply:
        data = NestedData(status=NESTED_STATES.get(state, "FAILED"), request_id=job.id)
        if state == "queued":
            data = msgspec.structs.replace(data, details="Video is queued", progress=0)
        elif state == "running":
            data = msgspec.structs.replace(data, details="Video is being generated", progress=_percent(progress))
        elif state == "completed":
            data = msgspec.structs.replace(
                data,
                output=VideoOutput(video=VideoRef(url=video_url)),
                cost=usd(job.cost_micros),
                payment_source="USD",
                remaining_balance=usd(self.balances[job.api_key]),
            )
        elif state in FAILURES:
            error, nsfw, friendly = FAILURES[state]
            data = msgspec.structs.replace(data, error=error, is_nsfw_error=nsfw, user_friendly_error=friendly)
        return NestedReply(request_id=job.id, model=job.model_id, data=data)

    def _flat(self, job: Job, state: State, progress: Progress, video_url: str) -> FlatReply:
        timeline = self.timeline(job)
        terminal = state not in ("queued", "running")
        return FlatReply(
            request_id=job.id,
            status=FLAT_STATES.get(state, "failed"),
            progress=100 if terminal else _percent(progress),
            estimated_time_remaining=max(0, math.ceil(timeline.finished_at - self.clock())),
            video_url=video_url if state == "completed" else None,
            error=FAILURES[state][0] if state in FAILURES else None,
            created_at=_iso_utc(job.created_wall),
            completed_at=_iso_utc(job.created_wall + timeline.finished_at - job.created_at) if terminal else None,
        )

    def video(self, filename: str) -> Response[bytes]:
        """A completed job's MP4 (the URL is public, like a storage link); anything else is not found."""
        job = self.jobs.get(filename.removesuffix(".mp4")) if filename.endswith(".mp4") else None
        if job is None or job_state(job.outcome, self.timeline(job).at(self.clock()).phase) != "completed":
            raise VendorError(404, PlainError(error=404, message="Not found"))
        content = sample_video() if job.output_s is None else sample_video_lasting(job.output_s)
        return Response(content, media_type="video/mp4")

    def catalogue(self) -> dict[str, object]:
        cards = [catalogue_card(model_id, model) for model_id, model in self.config.models.items()]
        return {
            "object": "list",
            "data": cards,
            "meta": {"count": len(cards), "generated_at": _iso_utc(self.wall_clock())},
        }


async def _source_seconds(body: GenerateBody, models: dict[str, VideoModel]) -> float | None:
    """A video-to-video model's source, checked to be a real, reachable MP4: a `videoUrl` is fetched, a
    `videoDataUrl` decoded; its length. None for every other model."""
    model = models.get(body.model or "")
    found = None if model is None else source_field(body, body.model or "", model)
    if found is None:
        return None
    field, value = found
    if field == "videoDataUrl":
        return source_seconds(field, decode_media(field, value))
    try:
        async with httpx.AsyncClient(timeout=10.0) as client:
            fetched = await client.get(value)
    except httpx.HTTPError:
        raise invalid("videoUrl could not be fetched", param=field) from None  # [inference]: no documented error
    if fetched.status_code != 200:
        raise invalid(f"videoUrl could not be fetched (HTTP {fetched.status_code})", param=field)
    return source_seconds(field, fetched.content)


def _percent(progress: Progress) -> int:
    return min(99, math.floor(progress.fraction * 100))


def create_nanogpt_emulator(
    config: NanoGptEmulatorConfig,
    *,
    clock: Callable[[], float] = time.monotonic,
    wall_clock: Callable[[], float] = time.time,
) -> Litestar:
    """The emulator app. `clock` drives job phases and the submit window; `wall_clock` (unix s) stamps times
    and the UTC day of the daily cap."""
    skew = Skew()  # moved by POST /_sandbox/clock
    clock, wall_clock = skew.shifted(clock), skew.shifted(wall_clock)
    emulator = _NanoGptEmulator(config, clock=clock, wall_clock=wall_clock)

    @post(SUBMIT_PATH, status_code=202)
    async def generate(request: Request[Any, Any, Any]) -> Response[bytes]:
        key = emulator.authorize(request, "generate")
        with emulator.stats.track("generate"):
            forced = await emulator.forced("generate")
            return forced or _json(await emulator.generate(key, await request.body()), 202)

    @get(STATUS_PATH)
    async def status(request: Request[Any, Any, Any]) -> Response[bytes]:
        key = emulator.authorize(request, "status")
        request_id = request.query_params.get("requestId") or request.query_params.get("runId")
        with emulator.stats.track("status", request_id or None):
            forced = await emulator.forced("status")
            return forced or _json(emulator.status(key, request_id, str(request.base_url)))

    @get(MODELS_PATH)
    async def video_models() -> Response[bytes]:
        return _json(emulator.catalogue())  # §4.9: public, auth optional

    @get(f"{STORAGE_PATH}/{{filename:str}}")
    async def video(filename: FromPath[str]) -> Response[bytes]:
        return emulator.video(filename)

    return Litestar(
        route_handlers=[
            generate,
            status,
            video_models,
            video,
            *control_handlers(emulator.faults, emulator.stats, skew),
        ],
        exception_handlers={VendorError: _render_vendor_error},
        openapi_config=None,
        request_max_body_size=64 * 1024 * 1024,  # so an oversized data URL meets NanoGPT's own 413, not ours
    )


def sandbox_app(api_key: str, time_scale: float) -> Litestar:
    """The emulator `make run` serves: one key, the default models, the given time scale, and $100 of credit
    (ten times the config default, so a demo session does not run dry; the 50/min window stays)."""
    config = NanoGptEmulatorConfig(api_keys=frozenset({api_key}), starting_balance_usd=100.0, time_scale=time_scale)
    return create_nanogpt_emulator(config)
