"""Google Veo emulator (docs/providers.md §Veo): the Gemini API's and Vertex AI's `predictLongRunning` routes, their
operation polls, the authenticated video downloads (Gemini files, Cloud Storage objects), a per-model request
window and the sandbox fault controls. No adapter logic."""

from __future__ import annotations

import collections
import math
import random
import string
import time
import uuid
from collections.abc import Callable
from typing import Annotated, Any

import msgspec
from litestar import Litestar, Request, Response, get, post
from litestar.params import FromPath

from sandbox.assets import sample_video
from sandbox.clock import JobTimeline, Skew
from sandbox.faults import CallStats, FaultQueue, apply_fault, control_handlers, marker_outcome
from sandbox.veo.jobs import (
    Api,
    Job,
    ModelSpec,
    VendorError,
    default_models,
    key_invalid,
    operation_reply,
    quota_exceeded,
    resolve_settings,
)

GEMINI = "/v1beta"
VERTEX = "/v1/projects/{project:str}/locations/{location:str}/publishers/google/models/{target:str}"
GCS = "/storage/v1/b/{bucket:str}/o/{object_name:path}"
MINUTE_S = 60.0
PER_MINUTE_QUOTA = "GenerateRequestsPerMinutePerProjectPerModel"
NonNegative = Annotated[float, msgspec.Meta(ge=0)]
_Count = Annotated[int, msgspec.Meta(ge=1)]
# What Google's front end answers a 502 with: an HTML page, not the JSON error body.
_HTML_502 = b"<!DOCTYPE html><html lang=en><title>Error 502 (Server Error)!!1</title><p><b>502.</b> That's an error."


class VeoEmulatorConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The emulated account: its Gemini API keys (Vertex: the access tokens it accepts), the models, and a
    moving one-minute window of generate requests per key and model [inference: the limit; the Gemini rate-limit
    page sets one per tier]. A job is queued `queue_s` then runs `run_s`; both and the window scale by
    `time_scale`."""

    api_keys: frozenset[str]
    queue_s: NonNegative = 1.0
    run_s: NonNegative = 4.0
    time_scale: NonNegative = 1.0
    requests_per_minute: _Count = 10
    models: dict[str, ModelSpec] = msgspec.field(default_factory=default_models)


def _json(reply: object, status_code: int = 200) -> Response[bytes]:
    return Response(msgspec.json.encode(reply), status_code=status_code, media_type="application/json")


def _render_vendor_error(_: Request[Any, Any, Any], exc: VendorError) -> Response[bytes]:
    return _json(exc.body, exc.status_code)


class _VeoEmulator:
    """One emulated Google project: its operations, request windows, switches and statistics, all in memory."""

    def __init__(self, config: VeoEmulatorConfig, *, clock: Callable[[], float]) -> None:
        self.config = config
        self.clock = clock
        self.jobs: dict[str, Job] = {}
        self.files: dict[str, Job] = {}
        self.hits: dict[tuple[str, str], collections.deque[float]] = collections.defaultdict(collections.deque)
        self.faults = FaultQueue(clock)
        self.stats = CallStats()
        self.rng = random.Random()

    def authorize(self, request: Request[Any, Any, Any], api: Api) -> str:
        if api == "vertex":
            scheme, _, token = (request.headers.get("authorization") or "").partition(" ")
            if scheme.lower() != "bearer" or token.strip() not in self.config.api_keys:
                message = "Request had invalid authentication credentials. Expected OAuth 2 access token."
                raise VendorError(401, message)
            return token.strip()
        key = request.headers.get("x-goog-api-key") or request.query_params.get("key")
        if not key:
            raise VendorError(403, "Method doesn't allow unregistered callers. Please use an API Key.")
        if key not in self.config.api_keys:
            raise key_invalid()
        return key

    async def serve(
        self,
        request: Request[Any, Any, Any],
        api: Api,
        action: str,
        job_id: str | None,
        handler: Callable[[str], object],
    ) -> Response[bytes]:
        """Auth, then any queued switch for `action`, then `handler(key)` (switched calls count)."""
        key = self.authorize(request, api)
        with self.stats.track(action, job_id):
            forced = await apply_fault(self.faults.take(action), self._fault_body)
            if forced is not None:
                return forced
            reply = handler(key)
            return reply if isinstance(reply, Response) else _json(reply)

    def _fault_body(self, status_code: int) -> bytes:
        if status_code == 429:
            retry_s = max(1, math.ceil(MINUTE_S * self.config.time_scale))
            return msgspec.json.encode(quota_exceeded(retry_s, PER_MINUTE_QUOTA).body)
        if status_code == 502:
            return _HTML_502
        return msgspec.json.encode(VendorError(status_code, "Sandbox fault").body)

    def _check_window(self, key: str, model: str) -> None:
        now, window_s = self.clock(), MINUTE_S * self.config.time_scale
        hits = self.hits[(key, model)]
        while hits and hits[0] + window_s <= now:
            hits.popleft()
        if len(hits) >= self.config.requests_per_minute:
            raise quota_exceeded(max(1, math.ceil(hits[0] + window_s - now)), PER_MINUTE_QUOTA)
        hits.append(now)

    def _operation_id(self, api: Api) -> str:
        if api == "vertex":
            return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        return "".join(self.rng.choices(string.ascii_lowercase + string.digits, k=12))

    def generate(self, key: str, api: Api, model: str, raw: bytes, prefix: str) -> object:
        settings = resolve_settings(model, raw, self.config.models, api)
        self._check_window(key, model)
        name = f"{prefix}models/{model}/operations/{self._operation_id(api)}"
        file_id = "".join(self.rng.choices(string.ascii_lowercase + string.digits, k=12))
        outcome = marker_outcome([settings.prompt])
        job = Job(
            name=name, file_id=file_id, key=key, api=api, created_at=self.clock(), settings=settings, outcome=outcome
        )
        self.jobs[name] = job
        self.files[file_id] = job
        return {"name": name}

    def timeline(self, job: Job) -> JobTimeline:
        cfg = self.config
        return JobTimeline(created_at=job.created_at, queue_s=cfg.queue_s, run_s=cfg.run_s, time_scale=cfg.time_scale)

    def operation(self, key: str, name: str, base_url: str) -> object:
        job = self.jobs.get(name)
        if job is None or job.key != key:
            raise VendorError(404, f"Operation {name} not found.")
        if job.api == "vertex":
            asset = f"{(job.settings.storage_uri or '').rstrip('/')}/{job.file_id}/sample_0.mp4"
        else:
            asset = f"{base_url}{GEMINI}/files/{job.file_id}:download?alt=media"
        return operation_reply(job, self.timeline(job), self.clock(), asset)

    def download(self, key: str, file_id: str) -> Response[bytes]:
        job = self.files.get(file_id)
        done = job is not None and self.timeline(job).at(self.clock()).phase == "done"
        if job is None or job.key != key or not done or job.outcome is not None:
            raise VendorError(404, "File not found.")
        return Response(sample_video(), media_type="video/mp4")


def create_veo_emulator(config: VeoEmulatorConfig, *, clock: Callable[[], float] = time.monotonic) -> Litestar:
    """The emulator app; `clock` drives job phases and the request windows."""
    skew = Skew()  # moved by POST /_sandbox/clock
    emulator = _VeoEmulator(config, clock=skew.shifted(clock))

    def _split(target: str, verbs: tuple[str, ...]) -> tuple[str, str]:
        model, _, verb = target.partition(":")
        if verb not in verbs:
            raise VendorError(404, f"Method {verb or target!r} not found.")
        return model, verb

    @post(f"{GEMINI}/models/{{target:str}}", status_code=200)
    async def gemini_predict(request: Request[Any, Any, Any], target: FromPath[str]) -> Response[bytes]:
        model, _ = _split(target, ("predictLongRunning",))
        raw = await request.body()
        return await emulator.serve(
            request, "gemini", "generate", None, lambda key: emulator.generate(key, "gemini", model, raw, "")
        )

    @get(f"{GEMINI}/models/{{model:str}}/operations/{{operation:str}}")
    async def gemini_operation(
        request: Request[Any, Any, Any], model: FromPath[str], operation: FromPath[str]
    ) -> Response[bytes]:
        name = f"models/{model}/operations/{operation}"
        base_url = str(request.base_url).rstrip("/")
        return await emulator.serve(
            request, "gemini", "status", name, lambda key: emulator.operation(key, name, base_url)
        )

    @get(f"{GEMINI}/files/{{target:str}}")
    async def gemini_file(request: Request[Any, Any, Any], target: FromPath[str]) -> Response[bytes]:
        file_id, _ = _split(target, ("download",))
        return await emulator.serve(request, "gemini", "file", None, lambda key: emulator.download(key, file_id))

    @post(VERTEX, status_code=200)
    async def vertex_model(
        request: Request[Any, Any, Any], project: FromPath[str], location: FromPath[str], target: FromPath[str]
    ) -> Response[bytes]:
        model, verb = _split(target, ("predictLongRunning", "fetchPredictOperation"))
        raw = await request.body()
        if verb == "predictLongRunning":
            prefix = f"projects/{project}/locations/{location}/publishers/google/"
            return await emulator.serve(
                request, "vertex", "generate", None, lambda key: emulator.generate(key, "vertex", model, raw, prefix)
            )
        try:
            name = str(msgspec.json.decode(raw, type=dict[str, str])["operationName"])
        except (msgspec.DecodeError, msgspec.ValidationError, KeyError) as exc:
            raise VendorError(400, "operationName is required.") from exc
        return await emulator.serve(request, "vertex", "status", name, lambda key: emulator.operation(key, name, ""))

    @get(GCS)
    async def gcs_object(request: Request[Any, Any, Any], object_name: FromPath[str]) -> Response[bytes]:
        # `{storageUri}/{file id}/sample_0.mp4`: the file id is the object's second-to-last path segment.
        parts = object_name.strip("/").split("/")
        file_id = parts[-2] if len(parts) >= 2 else ""
        return await emulator.serve(request, "vertex", "file", None, lambda key: emulator.download(key, file_id))

    return Litestar(
        route_handlers=[
            gemini_predict,
            gemini_operation,
            gemini_file,
            vertex_model,
            gcs_object,
            *control_handlers(emulator.faults, emulator.stats, skew),
        ],
        exception_handlers={VendorError: _render_vendor_error},
        openapi_config=None,
    )


def sandbox_app(api_key: str, time_scale: float) -> Litestar:
    """The emulator as `make run` and the end-to-end tests serve it: one key, a faster or slower clock."""
    return create_veo_emulator(VeoEmulatorConfig(api_keys=frozenset({api_key}), time_scale=time_scale))
