"""Fetching a source video from its link for a provider that cannot take the link itself (it wants an upload or
inline data): the call to make and the check of what came back. Pure; the adapter shell sends the call."""

from __future__ import annotations

import hashlib

import msgspec

from providers.contract import GenerationRequest, HttpCall, InvalidUpstreamRequest, Operation, Reply, VideoData
from providers.mp4 import is_mp4


def build_fetch(url: str) -> HttpCall:
    """A plain GET of the link: it carries its own authority (a presigned or public URL), never our credentials."""
    return HttpCall(method="GET", path=url, operation=Operation.SOURCE)


def parse_fetch(reply: Reply, *, provider: str, max_bytes: int | None) -> VideoData:
    """The fetched bytes as a source video; a dead link or anything but an MP4 is refused before the provider is
    asked (the same request would fail on every provider, so it does not fail over)."""
    if not 200 <= reply.status_code < 300:
        raise InvalidUpstreamRequest(
            f"the source video could not be fetched (its link answered {reply.status_code})", provider=provider
        )
    if not is_mp4(reply.body):
        raise InvalidUpstreamRequest("the source video is not an MP4 file", provider=provider)
    if max_bytes is not None and len(reply.body) > max_bytes:
        message = f"the source video ({len(reply.body)} bytes) exceeds {provider}'s {max_bytes}-byte limit"
        raise InvalidUpstreamRequest(message, provider=provider)
    return VideoData(mime_type="video/mp4", data=reply.body, digest=hashlib.sha256(reply.body).hexdigest())


def with_video(request: GenerationRequest, video: VideoData) -> GenerationRequest:
    """The request with its source video's link replaced by the fetched bytes."""
    assert request.video_input is not None
    return msgspec.structs.replace(request, video_input=msgspec.structs.replace(request.video_input, video=video))
