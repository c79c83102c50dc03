"""Logging: stdlib, one logger per module, and no secret ever written.

httpx logs every request URL at INFO, and PTB at DEBUG logs its base URL: both contain the bot
token. We keep those loggers at WARNING, and every handler also carries a filter that redacts
the token, the API keys and anything shaped like a bot token, in case some other path prints one.

Nor a transcript or a name, even at DEBUG: aiosqlite logs every statement with its parameters
(transcripts, users' names) at DEBUG, so it is kept at WARNING too, and our own lines name jobs
and chats by id only. LOG_FORMAT=json writes one JSON object per line (bot/observability/
json_logs.py), with the job id, chat id and model as fields where a line concerns a job.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from typing import TextIO

from bot.log_fields import LogFieldsFilter
from bot.observability.json_logs import JsonFormatter
from bot.redaction import REDACTED, Redactor

__all__ = ["REDACTED", "RedactingFilter", "configure_logging"]

# Third-party loggers that print URLs (with the token) or request details below WARNING;
# aiosqlite's DEBUG lines hold every SQL statement's parameters.
NOISY_LOGGERS = ("httpx", "httpcore", "telegram", "apscheduler", "aiohttp.access", "aiosqlite")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class RedactingFilter(logging.Filter):
    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.redact = Redactor(secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        redacted = self.redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        return True


def configure_logging(
    level: str, secrets: Iterable[str], log_format: str = "text", stream: TextIO | None = None
) -> None:
    """Send every record to `stream` (stderr), redacted, as text or as JSON lines."""
    handler = logging.StreamHandler(sys.stderr if stream is None else stream)
    redacting = RedactingFilter(secrets)
    handler.addFilter(redacting)
    handler.addFilter(LogFieldsFilter())
    if log_format == "json":
        handler.setFormatter(JsonFormatter(redacting.redact))
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    quiet_third_party_loggers()


def quiet_third_party_loggers() -> None:
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
