"""Fields that tag every log line written while a piece of work is under way: the job id, chat
id and model of the job a line concerns. Set once where the work starts (the pipeline); the log
handlers copy them onto each record (`LogFieldsFilter`), and LOG_FORMAT=json writes them as
fields (bot/observability/json_logs.py). A base module, so any layer may tag its work.

A ContextVar rather than module state: every asyncio task runs in a copy of the context it was
created in, so a job's background task carries its own fields, and two jobs running at once
never mix theirs.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

LogValue = str | int | float | bool | None
Fields = tuple[tuple[str, LogValue], ...]

_FIELDS: ContextVar[Fields] = ContextVar("log_fields", default=())


def current_log_fields() -> dict[str, LogValue]:
    return dict(_FIELDS.get())


def _merged(fields: dict[str, LogValue]) -> Fields:
    return tuple({**current_log_fields(), **fields}.items())


def bind_log_fields(**fields: LogValue) -> None:
    """Tag every later line of the current task (an update's handler, once it has a job)."""
    _FIELDS.set(_merged(fields))


@contextmanager
def log_fields(**fields: LogValue) -> Iterator[None]:
    """Tag the lines written inside the block, and the tasks created inside it."""
    token = _FIELDS.set(_merged(fields))
    try:
        yield
    finally:
        _FIELDS.reset(token)


class LogFieldsFilter(logging.Filter):
    """Copies the current fields onto a record, at the moment (and in the task) it is logged.

    A value passed with `extra=` wins over the bound one.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in _FIELDS.get():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True
