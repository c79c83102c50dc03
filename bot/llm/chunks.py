"""Cutting a text into pieces that fit a model's context, at sentence and word boundaries.

The bot does not know the model's tokenizer (it may be any server's), so it estimates: a token
per three bytes of UTF-8. Tokenizers give English about four characters a token, Cyrillic about
two to three bytes' worth, and CJK about one character (three bytes): the estimate errs on the
long side for all of them. Where it still errs short, the server's context-length error makes
the caller split again.
"""

from __future__ import annotations

import re

BYTES_PER_TOKEN = 3
# After these a sentence ends (with the closing quotes and brackets that may follow them).
_SENTENCE_END = re.compile(r"(?<=[.!?…。！？؟])[\"'»”)\]]*\s+")


def estimate_tokens(text: str) -> int:
    return len(text.encode("utf-8")) // BYTES_PER_TOKEN + 1


def split_text(text: str, max_tokens: int) -> list[str]:
    """`text` in pieces of at most `max_tokens` (estimated), cut between sentences where it
    can, else between words, else anywhere. Empty pieces are dropped."""
    if max_tokens < 1:
        raise ValueError("max_tokens must be at least 1")
    pieces: list[str] = []
    current = ""
    for glue, unit in _units(text, max_tokens):
        joined = f"{current}{glue}{unit}" if current else unit
        if estimate_tokens(joined) <= max_tokens:
            current = joined
            continue
        if current:
            pieces.append(current)
        current = unit
    if current:
        pieces.append(current)
    return pieces


def _units(text: str, max_tokens: int) -> list[tuple[str, str]]:
    """(what joins it to the one before, unit): sentences, each cut further into words, or
    into runs of characters, when alone it is too long."""
    units: list[tuple[str, str]] = []
    for sentence in _SENTENCE_END.split(text.strip()):
        sentence = sentence.strip()
        if not sentence:
            continue
        if estimate_tokens(sentence) <= max_tokens:
            units.append((" ", sentence))
            continue
        for word in sentence.split():
            runs = _cut(word, max_tokens)
            units.append((" ", runs[0]))
            units.extend(("", run) for run in runs[1:])  # a word cut: no space inside it
    return units


def _cut(word: str, max_tokens: int) -> list[str]:
    """A "word" longer than a piece (a script without spaces): cut by characters."""
    if estimate_tokens(word) <= max_tokens:
        return [word]
    size = max(1, (max_tokens - 1) * BYTES_PER_TOKEN // 4)  # up to 4 bytes a character
    return [word[i : i + size] for i in range(0, len(word), size)]
