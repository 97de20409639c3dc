"""The emulators by provider slug, each built from one key and a clock speed: used by `make run` and tests."""

from __future__ import annotations

from collections.abc import Callable

from litestar import Litestar

from providers.sandbox.nanogpt import sandbox_app as nanogpt_sandbox
from providers.sandbox.videogen import sandbox_app as videogen_sandbox
from providers.sandbox.videogenapi import sandbox_app as videogenapi_sandbox
from providers.sandbox.vidgen import sandbox_app as vidgen_sandbox

EmulatorFactory = Callable[[str, float], Litestar]

EMULATORS: dict[str, EmulatorFactory] = {
    "vidgen": vidgen_sandbox,
    "videogen": videogen_sandbox,
    "videogenapi": videogenapi_sandbox,
    "nanogpt": nanogpt_sandbox,
}
