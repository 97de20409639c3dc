"""`POST /v1/prompts/enhance`: a prompt enhanced on its own (gateway/prompts/enhance.py does the work)."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, post
from litestar.di import NamedDependency

from gateway.api.videos import Session
from gateway.errors import from_validation
from gateway.prompts.enhance import PromptEnhancement
from gateway.schema.wire import EnhancedPrompt, PromptEnhanceBody


@post("/v1/prompts/enhance", status_code=200, summary="Enhance a prompt", operation_id="enhancePrompt")
async def enhance_prompt(request: Request[Any, Any, Any], session: NamedDependency[Session]) -> EnhancedPrompt:
    """The prompt rewritten by a provider's own enhancement (Vidgen `optimize`), routed to the enabled offerings
    whose capabilities say `prompt_enhancement`; nothing is generated or billed as a video. Body: `prompt`, an
    optional `model` (a canonical id; none or `auto` means any), and `routing.providers` / `routing.exclude`."""
    session.caller.require("videos")
    body = _decode(await request.body())
    enhancement: PromptEnhancement = request.app.state.prompt_enhancement
    return await enhancement.enhance(body)


def _decode(raw: bytes) -> PromptEnhanceBody:
    try:
        return msgspec.json.decode(raw, type=PromptEnhanceBody)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise from_validation(exc) from exc
