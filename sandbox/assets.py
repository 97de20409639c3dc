"""The real media files every emulator serves as generated output: a 2 s H.264/AAC MP4 and a JPEG."""

from __future__ import annotations

from functools import cache
from importlib import resources


@cache
def sample_video() -> bytes:
    return resources.files(__package__).joinpath("assets/sample.mp4").read_bytes()


@cache
def sample_thumbnail() -> bytes:
    return resources.files(__package__).joinpath("assets/sample.jpg").read_bytes()
