"""Shared by test_intake_normalize and test_intake_http: the image size limit both configure and a small PNG
to send as bytes or as a data URI. No fixtures and no gateway here."""

from __future__ import annotations

import base64

MAX_IMAGE_BYTES = 2048
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))


def data_uri(data: bytes = PNG, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"
