"""The emulators by provider slug, each built from one key and a clock speed: used by `make run` and tests."""

from __future__ import annotations

from collections.abc import Callable

from litestar import Litestar

from sandbox.fal.app import sandbox_app as fal_sandbox
from sandbox.nanogpt.app import sandbox_app as nanogpt_sandbox
from sandbox.openai.app import sandbox_app as openai_sandbox
from sandbox.veo.app import sandbox_app as veo_sandbox
from sandbox.videogen.app import sandbox_app as videogen_sandbox
from sandbox.videogenapi.app import sandbox_app as videogenapi_sandbox
from sandbox.vidgen.app import sandbox_app as vidgen_sandbox

EmulatorFactory = Callable[[str, float], Litestar]

EMULATORS: dict[str, EmulatorFactory] = {
    "vidgen": vidgen_sandbox,
    "videogen": videogen_sandbox,
    "videogenapi": videogenapi_sandbox,
    "nanogpt": nanogpt_sandbox,
    "veo": veo_sandbox,
    "fal": fal_sandbox,
    "openai": openai_sandbox,
}
