"""What people type, made safe to parse and to echo back.

Command arguments and callback data come from anyone. Ids are Telegram's signed 64-bit
integers in ASCII digits only (`str.isdigit` also accepts "²" and Arabic-Indic digits, which
`int()` then rejects or reads as another number); text echoed in a reply is clipped, so a
4,000-character argument cannot push the reply past Telegram's 4,096-character limit.
"""

from __future__ import annotations

import re

_ID = re.compile(r"-?[0-9]{1,19}", re.ASCII)
_INT64 = range(-(2**63), 2**63)
# Long enough for any real model id or language code; short enough for any reply.
ECHO_LIMIT = 64


def parse_id(raw: str) -> int | None:
    """A Telegram user or chat id, or None if `raw` is not one."""
    raw = raw.strip()
    if not _ID.fullmatch(raw):
        return None
    value = int(raw)
    return value if value in _INT64 else None


def parse_count(raw: str) -> int | None:
    """A non-negative whole number of reasonable size (seconds, a job id), or None."""
    value = parse_id(raw)
    return value if value is not None and value >= 0 else None


def echo(raw: str) -> str:
    """User text to quote back in a reply: one line, clipped."""
    flat = " ".join(raw.split())
    return flat if len(flat) <= ECHO_LIMIT else flat[: ECHO_LIMIT - 1] + "…"
