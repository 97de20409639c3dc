"""The real media files every emulator serves as generated output: a 2 s H.264/AAC MP4 and a JPEG, and the same
MP4 declaring another length (what an extension or an edit of a longer source serves)."""

from __future__ import annotations

import struct
from functools import cache
from importlib import resources

from providers.mp4 import boxes


@cache
def sample_video() -> bytes:
    return resources.files(__package__).joinpath("assets/sample.mp4").read_bytes()


@cache
def sample_thumbnail() -> bytes:
    return resources.files(__package__).joinpath("assets/sample.jpg").read_bytes()


@cache
def sample_video_lasting(seconds: float) -> bytes:
    """The sample with its movie and track headers (`mvhd`, `tkhd`, version 0) declaring `seconds`: players and
    probes read that length, so an emulated extension is measurably longer than its source."""
    data = bytearray(sample_video())
    moov = next((payload, end) for kind, payload, end in boxes(data) if kind == b"moov")
    timescale = 0
    for kind, body, end in boxes(data, *moov):
        if kind == b"mvhd":
            timescale = struct.unpack_from(">I", data, body + 12)[0]
            struct.pack_into(">I", data, body + 16, round(seconds * timescale))
        elif kind == b"trak":
            tkhd = next(inner for name, inner, _ in boxes(data, body, end) if name == b"tkhd")
            struct.pack_into(">I", data, tkhd + 20, round(seconds * timescale))
    return bytes(data)
