"""Keep secrets out of text: log lines, error messages, tracebacks.

A real secret is long and random: it is replaced wherever it appears, even glued to other text
(a token in a URL follows "/bot"). A short one (a test key, a lazy password) is replaced only
where it stands as a whole token, so it can never garble ordinary words: a one-character key
"k" must not turn "known" into "***nown". Anything shaped like a bot token is replaced too, in
case a token we were not told about gets printed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

REDACTED = "[REDACTED]"
_BOT_TOKEN_SHAPE = re.compile(r"(?<!\d)\d{5,}:[A-Za-z0-9_-]{30,}")
# Characters a token is made of: a secret next to one of these is part of a longer word.
_TOKEN_CHARS = r"A-Za-z0-9_\-"


# From this length on, a secret is too random to occur inside an ordinary word.
LONG_SECRET = 12


def _alternation(secrets: list[str]) -> str:
    return "|".join(map(re.escape, secrets))


class Redactor:
    def __init__(self, secrets: Iterable[str]) -> None:
        # Longest first, so a secret that contains another is replaced whole.
        ordered = sorted({secret for secret in secrets if secret}, key=len, reverse=True)
        long = [secret for secret in ordered if len(secret) >= LONG_SECRET]
        short = [secret for secret in ordered if len(secret) < LONG_SECRET]
        alternatives = []
        if long:
            alternatives.append(_alternation(long))
        if short:
            alternatives.append(
                rf"(?<![{_TOKEN_CHARS}])(?:{_alternation(short)})(?![{_TOKEN_CHARS}])"
            )
        self._pattern = re.compile("|".join(alternatives)) if alternatives else None

    def __call__(self, text: str) -> str:
        if self._pattern is not None:
            text = self._pattern.sub(REDACTED, text)
        return _BOT_TOKEN_SHAPE.sub(REDACTED, text)
