"""Read the body of `POST /v1/stt/create`: JSON with a `url`, a url-encoded form, or multipart
with an `audio` (or `file`) part. Uploads are read in chunks and bounded as they arrive."""

from __future__ import annotations

import json
from dataclasses import dataclass

from aiohttp import BodyPartReader, web

from bot.server.errors import VALIDATION_MESSAGE, ApiError

JSON_LIMIT = 1024 * 1024  # JSON bodies only carry a URL and a few options
_FORM_FIELD_LIMIT = 64 * 1024  # bytes of a text field in a multipart form
# The fields we use; Deepgram options the bot's client also sends (punctuate, ...) are ignored.
_FORM_FIELDS = frozenset({"model", "url", "language"})
_MULTIPART_SLACK = 1024 * 1024  # form overhead allowed on top of the upload limit
_CHUNK = 64 * 1024


@dataclass(frozen=True, slots=True)
class CreateForm:
    model: str | None = None
    url: str | None = None
    language: str | None = None
    audio: bytes | None = None
    filename: str | None = None
    content_type: str | None = None


async def read_create_form(request: web.Request, max_upload_bytes: int) -> CreateForm:
    content_type = request.content_type
    if content_type == "multipart/form-data":
        return await _read_multipart(request, max_upload_bytes)
    if content_type == "application/json":
        return await _read_json(request)
    if content_type == "application/x-www-form-urlencoded":
        fields = await request.post()
        return CreateForm(
            model=_text(fields.get("model")),
            url=_text(fields.get("url")),
            language=_text(fields.get("language")),
        )
    raise ApiError(400, f"{VALIDATION_MESSAGE} Expected application/json or multipart/form-data")


async def _read_multipart(request: web.Request, limit: int) -> CreateForm:
    if request.content_length is not None and request.content_length > limit + _MULTIPART_SLACK:
        raise ApiError(413, f"the upload is larger than {limit} bytes")
    fields: dict[str, str] = {}
    audio: bytes | None = None
    filename: str | None = None
    content_type: str | None = None
    field_bytes = 0
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            raise ApiError(400, f"{VALIDATION_MESSAGE} nested multipart is not supported")
        if part.name in ("audio", "file"):
            if audio is not None:
                raise ApiError(400, f"{VALIDATION_MESSAGE} send one audio file")
            audio = await _read_part(part, limit, 413, f"the upload is larger than {limit} bytes")
            filename = part.filename
            content_type = part.headers.get("Content-Type")
        elif part.name:
            raw = await _read_part(part, _FORM_FIELD_LIMIT, 400, f"{part.name} is too long")
            field_bytes += len(raw)
            if field_bytes > _MULTIPART_SLACK:  # many small fields add up too
                raise ApiError(413, "the form fields are too large")
            if part.name in _FORM_FIELDS:
                fields[part.name] = raw.decode("utf-8", "replace")
        else:
            await part.release()
    return CreateForm(
        model=fields.get("model"),
        url=fields.get("url") or None,
        language=fields.get("language") or None,
        audio=audio,
        filename=filename,
        content_type=content_type,
    )


async def _read_json(request: web.Request) -> CreateForm:
    if request.content_length is not None and request.content_length > JSON_LIMIT:
        raise ApiError(413, "the request body is too large")
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ApiError(400, f"{VALIDATION_MESSAGE} the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, f"{VALIDATION_MESSAGE} Expected object")
    values: dict[str, str | None] = {}
    for name in ("model", "url", "language"):
        value = body.get(name)
        if value is not None and not isinstance(value, str):
            raise ApiError(
                400, f"{VALIDATION_MESSAGE} {name}: Expected string, received {_json_type(value)}"
            )
        values[name] = value or None
    return CreateForm(model=values["model"], url=values["url"], language=values["language"])


async def _read_part(part: BodyPartReader, limit: int, status: int, message: str) -> bytes:
    data = bytearray()
    while chunk := await part.read_chunk(_CHUNK):
        data += chunk
        if len(data) > limit:
            raise ApiError(status, message)
    return bytes(data)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _json_type(value: object) -> str:
    names = {bool: "boolean", int: "number", float: "number", list: "array", dict: "object"}
    return names.get(type(value), type(value).__name__)
