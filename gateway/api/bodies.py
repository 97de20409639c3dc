"""The bodies of the routes that start a job: JSON (the canonical body) or multipart (what the OpenAI SDK sends:
every JSON field in its bracketed form spelling, gateway/videos/form.py, plus one named file part). One decoder,
so both forms of every such route take the same fields with the same checks and errors."""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec
from litestar import Request
from litestar.datastructures import UploadFile

from gateway.errors import InvalidRequest, UnsupportedMediaType, from_validation
from gateway.videos.form import bracketed, unflatten

Body = TypeVar("Body", bound=msgspec.Struct)


class Upload(msgspec.Struct, frozen=True, kw_only=True):
    """The file part of a multipart body, with its declared media type (lower case, parameters dropped)."""

    data: bytes
    mime: str


async def read_body(
    request: Request[Any, Any, Any], body_type: type[Body], *, file_field: str
) -> tuple[Body, Upload | None]:
    """The typed body, and the `file_field` part when a multipart body carries one."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if media_type in ("application/json", ""):
            return msgspec.json.decode(await request.body(), type=body_type), None
        if media_type == "multipart/form-data":
            return await _read_form(request, body_type, file_field)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise from_validation(exc) from exc
    raise UnsupportedMediaType(f"content type {media_type!r}: send application/json or multipart/form-data")


async def _read_form(
    request: Request[Any, Any, Any], body_type: type[Body], file_field: str
) -> tuple[Body, Upload | None]:
    form = await request.form()
    fields: list[tuple[str, str]] = []
    upload: Upload | None = None
    for name, value in form.multi_items():
        if not isinstance(value, UploadFile):
            if name == file_field:
                raise InvalidRequest(f"`{name}` must be a file part", code="invalid_value", param=name)
            fields.append((name, value))
        elif name != file_field:
            raise InvalidRequest(f"unexpected file part `{name}`", code="unknown_field", param=name)
        elif upload is not None:
            raise InvalidRequest(f"file part `{name}` given twice", code="invalid_value", param=name)
        else:
            mime = (value.content_type or "").split(";")[0].strip().lower()
            upload = Upload(data=await value.read(), mime=mime)
    try:
        return msgspec.convert(unflatten(fields), body_type, strict=False), upload
    except msgspec.ValidationError as exc:
        raise from_validation(exc, spell=bracketed) from exc
