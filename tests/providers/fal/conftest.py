"""Shared by fal's pure translation and error tests: the settings calls are built with, the catalogue's model ids,
the request they start from and the replies they parse (the documents' own or ours: fixtures/SOURCES.md). Pure: no
I/O beyond reading fixture files."""

from __future__ import annotations

from pathlib import Path

from providers.contract import GenerationRequest, ProviderSettings, Reply, Scene

FIXTURES = Path(__file__).parent / "fixtures"
SETTINGS = ProviderSettings(base_url="https://queue.fal.run", api_key="fal-key-id:secret")
KLING = "fal-ai/kling-video/v2.5-turbo/pro/text-to-video"
WAN = "fal-ai/wan-25-preview/text-to-video"
VEO = "fal-ai/veo3.1/fast"
LTX = "fal-ai/ltx-2/text-to-video/fast"


def reply(name: str, status_code: int = 200, headers: dict[str, str] | None = None) -> Reply:
    """A fixture file as the body of a reply with this status."""
    return Reply(status_code=status_code, headers=headers or {}, body=(FIXTURES / name).read_bytes())


def request(model: str, **fields: object) -> GenerationRequest:
    """A one-scene request for `model` (a paper boat, unless `scene` is given) with the other fields as given."""
    scene = fields.pop("scene", None) or Scene(prompt="a paper boat on a pond")
    return GenerationRequest(upstream_model=model, scenes=(scene,), **fields)  # type: ignore[arg-type]
