"""Reading an MP4 just enough: a real one is told from anything else by its leading `ftyp` box, and its length
comes from the movie header (version 0 or 1); a file cut short or without one has no length."""

from __future__ import annotations

import struct

from providers.mp4 import duration_s, is_mp4
from sandbox.assets import sample_video


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def test_the_sample_is_a_two_second_mp4() -> None:
    """The emulators' sample (a 2 s H.264/AAC clip) starts with `ftyp` and its `mvhd` says 2 s."""
    assert is_mp4(sample_video())
    assert duration_s(sample_video()) == 2.0


def test_a_version_one_movie_header_is_read() -> None:
    """`mvhd` version 1 has 64-bit times and duration: timescale 600, duration 4,500 is 7.5 s."""
    mvhd = bytes([1, 0, 0, 0]) + struct.pack(">QQIQ", 0, 0, 600, 4_500) + b"\0" * 80
    data = _box(b"ftyp", b"isom\0\0\0\0") + _box(b"moov", _box(b"mvhd", mvhd))
    assert duration_s(data) == 7.5


def test_anything_else_has_no_length() -> None:
    """Not an MP4, an MP4 with no movie header, and one cut inside its header are all without a length."""
    ftyp = _box(b"ftyp", b"isom\0\0\0\0")
    assert not is_mp4(b"GIF89a")
    assert duration_s(b"GIF89a") is None
    assert duration_s(ftyp + _box(b"free", b"")) is None
    assert duration_s(sample_video()[:60]) is None
