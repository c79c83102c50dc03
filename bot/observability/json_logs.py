"""LOG_FORMAT=json: one JSON object per line, for log collectors (Loki, Elasticsearch, ...).

Each object has `time` (UTC, ISO 8601), `level`, `logger` and `message`; `exception` when a
traceback was logged; and every field a record carries beyond the standard ones: the job id,
chat id and model of the job a line concerns (bot/log_fields.py), or anything
passed with `extra=`. The message and traceback are redacted before they get here (the handler's
RedactingFilter); string fields are redacted here, with the same Redactor.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

# Attributes every LogRecord has (plus those the formatting machinery adds): not fields.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "taskName",
}


class JsonFormatter(logging.Formatter):
    def __init__(self, redact: Callable[[str], str]) -> None:
        super().__init__()
        self._redact = redact

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, value in vars(record).items():
            if name in _STANDARD or name.startswith("_"):
                continue
            entry[name] = self._redact(value) if isinstance(value, str) else value
        if record.exc_info and not record.exc_text:
            record.exc_text = self._redact(self.formatException(record.exc_info))
        if record.exc_text:
            entry["exception"] = record.exc_text
        # An `extra=` value JSON cannot hold is written as its (redacted) text, not dropped.
        return json.dumps(entry, ensure_ascii=False, default=lambda value: self._redact(str(value)))
