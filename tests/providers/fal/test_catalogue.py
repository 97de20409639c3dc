"""The catalogues' fal offerings against the adapter's model schemas: whatever routing lets through to fal (by the
offering's capabilities) is something the model's schema can carry, so no routed request is refused at submit."""

from __future__ import annotations

import pytest

from gateway.config import load_settings
from providers.contract import Audio, Dimensions, GenerationRequest, ImageUrl, ProviderSettings, Scene
from providers.fal import ENDPOINTS, app_id, build_submit
from routing.catalogue import Offering

CONFIGS = ("deploy/gateway.example.toml", "deploy/base/gateway.production.toml")
SETTINGS = ProviderSettings(base_url="https://queue.fal.run", api_key="k")
FRAME = ImageUrl(url="https://v3.fal.media/files/panda/frame.jpg")


def fal_offerings() -> list[object]:
    return [
        pytest.param(offering, id=f"{config}:{model_id}")
        for config in CONFIGS
        for model_id, model in load_settings(config).models.items()
        for offering in model.offerings
        if offering.provider == "fal"
    ]


def test_image_endpoints_live_in_the_same_app_as_their_text_endpoint() -> None:
    """A job keeps the text model id, so its image endpoint must share the app id its queue URLs use."""
    assert all(app_id(text) == app_id(schema.image_to_video or text) for text, schema in ENDPOINTS.items())


@pytest.mark.parametrize("offering", fal_offerings())
def test_every_capability_the_catalogue_grants_is_accepted_by_the_adapter(offering: Offering) -> None:
    """Each mode x duration x size the offering declares builds a submit (none is refused)."""
    caps = offering.capabilities
    scenes = {"t2v": Scene(prompt="p"), "i2v": Scene(prompt="p", image=FRAME)}
    if "first_last" in caps.modes:
        scenes["first_last"] = Scene(prompt="p", image=FRAME, end_image=FRAME)
    assert set(caps.modes) == set(scenes)
    for scene in scenes.values():
        for seconds in caps.seconds:
            for size in caps.sizes:
                width, height = (int(side) for side in size.split("x"))
                request = GenerationRequest(
                    upstream_model=offering.upstream_model,
                    scenes=(scene,),
                    seconds=seconds,
                    dimensions=Dimensions(width=width, height=height),
                    seed=1 if caps.seed else None,
                    enhance_prompt=caps.enhance_prompt,
                    audio=Audio() if caps.audio else None,
                )
                assert build_submit(request, SETTINGS).json is not None
