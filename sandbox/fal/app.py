"""fal queue emulator (docs/providers.md §fal): submit under the model id, status, result and cancel under the
app id, `Authorization: Key`, the model's own input validated when it runs, a public media URL for the video,
and the sandbox fault controls. No adapter logic."""

from __future__ import annotations

import http
import itertools
import random
import time
import uuid
from collections.abc import Callable
from typing import Annotated, Any

import msgspec
from litestar import Litestar, Request, Response, get, post, put
from litestar.params import FromPath

from sandbox.assets import sample_video
from sandbox.clock import JobTimeline, Skew
from sandbox.fal.jobs import (
    EndpointSpec,
    FalError,
    Job,
    LogLine,
    ModelError,
    SubmitBody,
    default_endpoints,
    job_state,
    request_error,
    result_body,
    status_body,
    urls,
    validate,
)
from sandbox.faults import CallStats, FaultQueue, Outcome, apply_fault, control_handlers, marker_outcome

NonNegative = Annotated[float, msgspec.Meta(ge=0)]
FILES = "files"  # the video's public path; fal serves outputs from its media CDN (v3.fal.media), no key needed


class FalEmulatorConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The emulated account: keys and endpoints. A request waits `queue_s`, then runs `run_s`, both times
    `time_scale`. With `concurrency_limit`, at most that many of a key's requests are IN_PROGRESS at once and the
    rest wait IN_QUEUE for a slot, never rejected (https://docs.fal.ai/documentation/model-apis/concurrency-limits)."""

    api_keys: frozenset[str]
    queue_s: NonNegative = 1.0
    run_s: NonNegative = 4.0
    time_scale: NonNegative = 1.0
    concurrency_limit: Annotated[int, msgspec.Meta(ge=1)] | None = None
    endpoints: dict[str, EndpointSpec] = msgspec.field(default_factory=default_endpoints)


def _json(reply: object, status_code: int = 200) -> Response[bytes]:
    return Response(msgspec.json.encode(reply), status_code=status_code, media_type="application/json")


def _render_error(_: Request[Any, Any, Any], exc: FalError) -> Response[bytes]:
    response = _json(exc.body, exc.status_code)
    error_type = exc.body.get("error_type") if isinstance(exc.body, dict) else None
    if isinstance(error_type, str):
        response.headers["X-Fal-Error-Type"] = error_type  # the request-errors page: same value as `error_type`
    return response


# The request error type fal's table gives for each status (request-errors page, "Typical Status Code").
_ERROR_TYPES = {
    400: "bad_request",
    500: "internal_error",
    502: "runner_incomplete_response",
    503: "runner_scheduling_failure",
    504: "request_timeout",
}
# 403 with this detail is how a locked account answers (fal-ai/fal issues #1112, #1147).
_LOCKED = "User is locked. Reason: Exhausted balance. Top up your balance at fal.ai/dashboard/billing."


def _fault_body(status_code: int) -> bytes:
    """fal's own body for a forced status: a validation item for 422, the locked account for 403, else a request
    error with the type fal's table gives that status ([inference] for 401, 402, 404 and 429: `detail` only)."""
    if status_code == 422:
        item = ModelError(loc=["body", "prompt"], msg="Field required", type="missing")
        return msgspec.json.encode({"detail": [item]})
    if status_code == 403:
        return msgspec.json.encode({"detail": _LOCKED})
    try:
        phrase = http.HTTPStatus(status_code).phrase
    except ValueError:
        phrase = "Sandbox fault"
    error = request_error(status_code, phrase, _ERROR_TYPES.get(status_code))
    return msgspec.json.encode(error.body)


class _FalEmulator:
    """One emulated account: its requests, switches and statistics, all in memory."""

    def __init__(self, config: FalEmulatorConfig, *, clock: Callable[[], float]) -> None:
        self.config = config
        self.clock = clock
        self.jobs: dict[str, Job] = {}
        self.faults = FaultQueue(clock)
        self.stats = CallStats()
        self.rng = random.Random()

    def authorize(self, header: str | None) -> str:
        scheme, _, key = (header or "").partition(" ")
        if not header:
            raise request_error(401, "Missing authorization header")  # [inference]
        if scheme != "Key" or key.strip() not in self.config.api_keys:
            raise request_error(401, "No user found for Key ID and Secret")  # [inference]
        return key.strip()

    async def serve(
        self,
        request: Request[Any, Any, Any],
        action: str,
        job_id: str | None,
        handler: Callable[[str], Response[bytes]],
    ) -> Response[bytes]:
        """Auth, then any queued switch for `action`, then `handler(key)` (switched calls count)."""
        key = self.authorize(request.headers.get("authorization"))
        with self.stats.track(action, job_id):
            forced = await apply_fault(self.faults.take(action), _fault_body)
            if forced is not None:
                return forced
            return handler(key)

    def submit(self, key: str, model_id: str, raw: bytes, base_url: str) -> Response[bytes]:
        spec = self.config.endpoints.get(model_id)
        if spec is None:
            raise request_error(404, f"Application '{model_id}' not found")  # [inference]
        try:
            body = msgspec.json.decode(raw or b"{}", type=dict[str, object])
        except msgspec.DecodeError:
            raise request_error(422, "The request body is not a JSON object.") from None  # [inference]
        prompt = body.get("prompt")
        seed = body.get("seed")
        now = self.clock()
        job = Job(
            request_id=str(uuid.uuid4()),  # fal's request ids are UUIDs (queue docs' example)
            key=key,
            app=spec.app,
            created_at=now,
            timeline=self._timeline(key, now),
            outcome=marker_outcome([prompt]) if isinstance(prompt, str) else None,
            # The queue takes any body; the model validates it when it runs, and the result carries its 422 [inference].
            errors=validate(spec, body),
            prompt=prompt if isinstance(prompt, str) else "",
            seed=(seed if isinstance(seed, int) else self.rng.randrange(1, 2**31)) if spec.seed else None,
        )
        self.jobs[job.request_id] = job
        links = urls(job, base_url)
        position = self._position(job, now)
        reply = SubmitBody(**msgspec.structs.asdict(links), status="IN_QUEUE", queue_position=position)
        return _json(reply)

    def _timeline(self, key: str, now: float) -> JobTimeline:
        """Queued `queue_s`, or longer until one of the key's slots frees (requests start in order). Fixed at submit:
        a slot a later cancel frees is not handed to requests already waiting [inference, conservative]."""
        cfg = self.config
        ready = now + cfg.queue_s * cfg.time_scale
        if cfg.concurrency_limit is not None:
            ends = sorted(self._slot_end(job) for job in self.jobs.values() if job.key == key)
            busy = [end for end in ends if end > ready]
            if len(busy) >= cfg.concurrency_limit:
                ready = busy[len(busy) - cfg.concurrency_limit]
        queue_s = (ready - now) / cfg.time_scale if cfg.time_scale else 0.0
        return JobTimeline(created_at=now, queue_s=queue_s, run_s=cfg.run_s, time_scale=cfg.time_scale)

    @staticmethod
    def _slot_end(job: Job) -> float:
        """When a request gives its slot back: at its end, its cancellation, or never if it is stuck."""
        if job.cancelled_at is not None:
            return job.cancelled_at
        return float("inf") if job.outcome is Outcome.STUCK else job.timeline.finished_at

    def _position(self, job: Job, now: float) -> int:
        """Requests of the same key submitted before this one and still queued [inference: the docs do not say
        whose requests count]."""
        ahead = itertools.takewhile(lambda other: other is not job, self.jobs.values())
        return sum(1 for other in ahead if other.key == job.key and job_state(other, now) == "IN_QUEUE")

    def owned(self, key: str, app: str, request_id: str) -> Job:
        job = self.jobs.get(request_id)
        if job is None or job.key != key or job.app != app:
            raise request_error(404, "Request not found")  # [inference]
        return job

    def status(self, job: Job, base_url: str, with_logs: bool) -> Response[bytes]:
        now = self.clock()
        state = job_state(job, now)
        logs = [self._log(job, now)] if with_logs else None
        body = status_body(job, state, self._position(job, now), base_url, logs)
        # https://fal.ai/docs/api-reference/inference-api: 202 while queued or in progress, 200 once complete.
        return _json(body, 200 if state == "COMPLETED" else 202)

    def _log(self, job: Job, now: float) -> LogLine:
        percent = int(job.timeline.at(now).fraction * 100)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
        return LogLine(message=f"Generating video: {percent}%", level="INFO", source="user", timestamp=stamp)

    def result(self, job: Job, base_url: str) -> Response[bytes]:
        if job_state(job, self.clock()) != "COMPLETED":
            raise request_error(400, "Request is still in progress")  # [inference]
        video_url = f"{base_url}/{FILES}/{job.request_id}/output.mp4"
        return _json(result_body(job, video_url, len(sample_video())))

    def cancel(self, job: Job) -> Response[bytes]:
        """A queued request is removed; a running one gets the signal, and these models stop [inference]."""
        now = self.clock()
        if job_state(job, now) == "COMPLETED":
            return _json({"status": "ALREADY_COMPLETED"}, 400)
        job.cancelled_at = now
        return _json({"status": "CANCELLATION_REQUESTED"}, 202)

    def video(self, request_id: str) -> Response[bytes]:
        job = self.jobs.get(request_id)
        if job is None or job_state(job, self.clock()) != "COMPLETED" or job.outcome is Outcome.STUCK:
            raise request_error(404, "File not found")
        return Response(sample_video(), media_type="video/mp4")


def _split(path: str) -> tuple[str, str, list[str]]:
    """`owner/app/requests/<id>[/status|/cancel]` -> (app id, request id, rest); anything else is not found."""
    parts = path.strip("/").split("/")
    if len(parts) < 4 or parts[2] != "requests":
        raise request_error(404, "Not Found")  # a sub-path here is not a queue URL (inference-api page)
    return "/".join(parts[:2]), parts[3], parts[4:]


def create_fal_emulator(config: FalEmulatorConfig, *, clock: Callable[[], float] = time.monotonic) -> Litestar:
    """The emulator app; `clock` drives the queue and run phases."""
    skew = Skew()  # moved by POST /_sandbox/clock
    emulator = _FalEmulator(config, clock=skew.shifted(clock))

    def base(request: Request[Any, Any, Any]) -> str:
        return str(request.base_url).rstrip("/")

    @post("/{model_path:path}", status_code=200)
    async def submit(request: Request[Any, Any, Any], model_path: FromPath[str]) -> Response[bytes]:
        raw, model_id = await request.body(), model_path.strip("/")
        return await emulator.serve(
            request, "generate", None, lambda key: emulator.submit(key, model_id, raw, base(request))
        )

    @get("/{path:path}")
    async def read(request: Request[Any, Any, Any], path: FromPath[str]) -> Response[bytes]:
        parts = path.strip("/").split("/")
        if len(parts) == 3 and parts[0] == FILES:
            return emulator.video(parts[1])
        app, request_id, rest = _split(path)
        logs = request.query_params.get("logs") in ("1", "true")
        if rest == ["status"]:
            return await emulator.serve(
                request,
                "status",
                request_id,
                lambda key: emulator.status(emulator.owned(key, app, request_id), base(request), logs),
            )
        if rest:
            raise request_error(404, "Not Found")
        return await emulator.serve(
            request,
            "result",
            request_id,
            lambda key: emulator.result(emulator.owned(key, app, request_id), base(request)),
        )

    @put("/{path:path}")
    async def cancel(request: Request[Any, Any, Any], path: FromPath[str]) -> Response[bytes]:
        app, request_id, rest = _split(path)
        if rest != ["cancel"]:
            raise request_error(404, "Not Found")
        return await emulator.serve(
            request, "cancel", request_id, lambda key: emulator.cancel(emulator.owned(key, app, request_id))
        )

    return Litestar(
        route_handlers=[*control_handlers(emulator.faults, emulator.stats, skew), submit, read, cancel],
        exception_handlers={FalError: _render_error},
        openapi_config=None,
    )


def sandbox_app(api_key: str, time_scale: float) -> Litestar:
    """The emulator as `make run` and the end-to-end tests serve it: one key, a faster or slower clock."""
    return create_fal_emulator(FalEmulatorConfig(api_keys=frozenset({api_key}), time_scale=time_scale))
