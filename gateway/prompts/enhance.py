"""Prompt enhancement on its own (`POST /v1/prompts/enhance`): the catalogue's offerings that offer it, tried in
order until one answers. Nothing is generated, so there is no job, quota hold or usage record here."""

from __future__ import annotations

from collections.abc import Mapping

import structlog

from gateway.errors import GatewayError, InvalidRequest, NoProviderAvailable, from_upstream
from gateway.schema.wire import EnhancedPrompt, PromptEnhanceBody
from gateway.upstreams import Upstream
from providers.contract import UpstreamError
from routing.catalogue import Offering
from routing.router import AUTO, Router

log = structlog.get_logger("gateway.prompts.enhance")


class PromptEnhancement:
    def __init__(self, router: Router, upstreams: Mapping[str, Upstream]) -> None:
        self._router = router
        self._upstreams = upstreams

    def candidates(self, body: PromptEnhanceBody) -> list[tuple[str, Offering]]:
        """Enabled offerings with `prompt_enhancement`, of the named model (every model for none or `auto`), in
        catalogue order, within the body's `routing.providers` / `routing.exclude`."""
        catalogue = self._router.catalogue
        if body.model not in (None, AUTO) and body.model not in catalogue:
            known = ", ".join(sorted(catalogue))
            raise InvalidRequest(f"unknown model {body.model!r}; known models: {known}", param="model")
        models = catalogue.items() if body.model in (None, AUTO) else [(body.model, catalogue[body.model])]
        allow = body.routing.providers if body.routing else []
        exclude = body.routing.exclude if body.routing else []
        return [
            (model_id, offering)
            for model_id, model in models
            for offering in model.offerings
            if offering.capabilities.prompt_enhancement
            and self._router.enabled(offering.provider)
            and offering.provider in self._upstreams
            and (not allow or offering.provider in allow)
            and offering.provider not in exclude
        ]

    async def enhance(self, body: PromptEnhanceBody) -> EnhancedPrompt:
        """The first answer; a provider error that may fail over tries the next offering, any other is the reply."""
        candidates = self.candidates(body)
        if not candidates:
            raise InvalidRequest(
                f"no enabled offering of {body.model or 'any model'} enhances prompts on its own",
                code="unsupported_request",
                param="model",
            )
        last: UpstreamError | None = None
        for model_id, offering in candidates:
            upstream = self._upstreams[offering.provider]
            try:
                prompt = await upstream.enhance_prompt(body.prompt, upstream_model=offering.upstream_model)
            except UpstreamError as exc:
                log.warning("prompt_enhancement_failed", provider=exc.provider, error_class=exc.error_class)
                if not exc.failover:
                    raise from_upstream(exc) from exc
                last = exc
                continue
            return EnhancedPrompt(prompt=prompt, model=model_id, provider=offering.provider)
        raise _exhausted(last, len(candidates))


def _exhausted(last: UpstreamError | None, tried: int) -> GatewayError:
    if last is None or tried > 1:
        return NoProviderAvailable(f"none of the {tried} offerings that enhance prompts answered", code="exhausted")
    return from_upstream(last)
