"""Logging: stdlib, one logger per module, and no secret ever written.

httpx logs every request URL at INFO, and PTB at DEBUG logs its base URL: both contain the bot
token. We keep those loggers at WARNING, and every handler also carries a filter that redacts
the token, the API keys and anything shaped like a bot token, in case some other path prints one.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable

from bot.redaction import REDACTED, Redactor

# Third-party loggers that print URLs (with the token) or request details below WARNING.
__all__ = ["REDACTED", "RedactingFilter", "configure_logging"]

NOISY_LOGGERS = ("httpx", "httpcore", "telegram", "apscheduler", "aiohttp.access")


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


def configure_logging(level: str, secrets: Iterable[str]) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter(secrets))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    quiet_third_party_loggers()


def quiet_third_party_loggers() -> None:
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
