"""The job API's error answers: the AIML API's body (docs/aiml-stt-api.md §6), our own words.

Every refusal is `{"message", "path", "requestId", "statusCode", "timestamp"}`, so clients
written for the API read ours the same way. The messages are this server's, not aimlapi.com's:
a self-hosted server has no billing page to send anybody to.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime

from aiohttp import web

AUTH_MESSAGE = (
    "This request requires a valid API key for this server, sent as "
    "'Authorization: Bearer <key>'. Keys are issued by the server's operator."
)
VALIDATION_MESSAGE = "Body validation error!"
STATUS_MESSAGES: Mapping[int, str] = {
    400: VALIDATION_MESSAGE,
    401: AUTH_MESSAGE,
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Payload Too Large",
    417: "Expectation Failed",
    429: "Too Many Requests",
    500: "Internal server error",
    503: "Service unavailable",
}
# RFC 6750: a 401 names the scheme the client should use.
AUTH_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="stt-bot"'}


class ApiError(Exception):
    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


def unauthorised() -> ApiError:
    return ApiError(401, AUTH_MESSAGE, AUTH_CHALLENGE)


def error_body(request: web.Request, status: int, message: str) -> dict[str, object]:
    return {
        "message": message,
        "path": request.path,
        "requestId": str(uuid.uuid4()),
        "statusCode": status,
        "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }


def error_response(request: web.Request, error: ApiError) -> web.Response:
    return web.json_response(
        error_body(request, error.status, error.message),
        status=error.status,
        headers=error.headers,
    )
