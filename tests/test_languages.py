from __future__ import annotations

import pytest

from bot.presentation.texts import LANGUAGE_NAMES
from bot.stt.languages import COMMON_LANGUAGES, ISO_639_1, InvalidLanguageError, parse_language


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("auto", None),
        (" AUTO ", None),
        ("de", "de"),
        ("DE", "de"),
        ("pt-BR", "pt-BR"),
        ("pt_br", "pt-BR"),
        ("es-419", "es-419"),
        ("uk", "uk"),
    ],
)
def test_valid_codes_are_normalised(typed: str, expected: str | None) -> None:
    assert parse_language(typed) == expected


@pytest.mark.parametrize(
    "typed", ["", "xx", "deu", "german", "de-", "de-Berlin", "pt-BR-x", "12", "en us", "d"]
)
def test_invalid_codes_are_refused(typed: str) -> None:
    with pytest.raises(InvalidLanguageError):
        parse_language(typed)


def test_the_keyboard_offers_named_iso_codes() -> None:
    assert len(ISO_639_1) == 183
    assert 12 <= len(COMMON_LANGUAGES) <= 16
    assert len(set(COMMON_LANGUAGES)) == len(COMMON_LANGUAGES)
    assert set(COMMON_LANGUAGES) <= ISO_639_1
    assert set(COMMON_LANGUAGES) <= set(LANGUAGE_NAMES)
