"""Reading an MP4 (ISO-BMFF) just enough to tell a real one from anything else and to know its length: the `ftyp`
box first, the movie header's duration. Pure; never decodes media."""

from __future__ import annotations

import struct
from collections.abc import Iterator

_HEADER = struct.Struct(">I4s")


def boxes(data: bytes | bytearray, start: int = 0, end: int | None = None) -> Iterator[tuple[bytes, int, int]]:
    """(type, offset of the payload, end) of each box between `start` and `end`; stops at a malformed size."""
    end = len(data) if end is None else end
    offset = start
    while offset + 8 <= end:
        size, kind = _HEADER.unpack_from(data, offset)
        header = 8
        if size == 1 and offset + 16 <= end:  # a 64-bit size follows the type
            size, header = struct.unpack_from(">Q", data, offset + 8)[0], 16
        elif size == 0:  # the box runs to the end of the file
            size = end - offset
        if size < header or offset + size > end:
            return
        yield kind, offset + header, offset + size
        offset += size


def is_mp4(data: bytes) -> bool:
    """An ISO-BMFF file starts with its `ftyp` box (ISO/IEC 14496-12 §4.3)."""
    first = next(boxes(data[:64]), None)
    return first is not None and first[0] == b"ftyp"


def duration_s(data: bytes) -> float | None:
    """The movie's length from `moov/mvhd` (timescale and duration); None when the file has no readable header."""
    if not is_mp4(data):
        return None
    for kind, payload, end in boxes(data):
        if kind != b"moov":
            continue
        for inner, body, _ in boxes(data, payload, end):
            if inner == b"mvhd":
                return _mvhd_seconds(data, body)
    return None


def _mvhd_seconds(data: bytes, body: int) -> float | None:
    try:
        if data[body] == 1:  # version 1: 64-bit creation/modification times and duration
            timescale, duration = struct.unpack_from(">IQ", data, body + 20)
        else:
            timescale, duration = struct.unpack_from(">II", data, body + 12)
    except (struct.error, IndexError):
        return None
    return None if timescale == 0 else duration / timescale
