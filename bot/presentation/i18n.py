"""Translators: one per interface language, over the gettext catalogues in bot/locales/.

The English texts of presentation/texts.py are the message ids. A `Translator` turns one into
the reader's language (`tr(texts.START)`), picks the plural form their language needs
(`tr.plural(texts.JOB_COUNT, n)`), and formats numbers and dates the way they write them, with
Babel and the CLDR data it carries. Nothing here knows whose language it is: callers get a
translator for a locale (`translator("ru")`) and pass it down, so no "current language" lives
in a global.

Catalogues: bot/locales/<locale>/LC_MESSAGES/messages.po are the sources, in the repository
and in the installed package. The Docker image compiles them to messages.mo at build time
(`pybabel compile`, in the Dockerfile). Anywhere else (a source checkout, an editable install,
CI) there is no .mo, or a stale one: a .po without a .mo at least as new is compiled in memory
when it is first loaded (a few milliseconds each), so an edited .po shows at the next start
with no build step, and nothing compiled is ever committed (`*.mo` is ignored).
"""

from __future__ import annotations

import functools
import gettext
import io
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

from babel import Locale
from babel.dates import format_skeleton
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

from bot.policy.interface_language import DEFAULT_LOCALE, INTERFACE_LOCALES

LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
DOMAIN = "messages"

# Dates and numbers in English are written the British way ("2 June 2025"), as the texts are.
_FORMATTING_LOCALE = {"en": "en_GB"}

# Unicode's first-strong isolate and its end: a value inside lays out on its own, so a model
# id or a Latin name in Persian or Arabic text keeps its own direction and does not drag the
# punctuation around it along. Telegram renders right-to-left text itself; these only keep
# the inserted values from being reordered with their surroundings.
_ISOLATE_START = "\u2068"
_ISOLATE_END = "\u2069"
_LATIN = re.compile("[A-Za-z]")


class Plural(NamedTuple):
    """A text with a count: English singular and plural; each catalogue has its own forms.

    Extraction finds these calls (the `Plural:1,2` keyword), so they are written literally in
    texts.py: `JOB_COUNT = Plural("{n} job", "{n} jobs")`.
    """

    singular: str
    plural: str


def N_(message: str) -> str:
    """Mark a text for translation where it is defined; it is translated where it is shown."""
    return message


@dataclass(frozen=True, slots=True)
class Translator:
    """The interface texts of one language, and its way of writing numbers and dates."""

    locale: str  # one of INTERFACE_LOCALES: "en", "pt_BR", "ar", ...
    catalogue: gettext.NullTranslations
    formatting: Locale

    def __call__(self, message: str) -> str:
        return self.catalogue.gettext(message)

    def plural(self, forms: Plural, n: int) -> str:
        """The form of `forms` that this language uses for `n` (Russian has 3, Arabic 6)."""
        return self.catalogue.ngettext(forms.singular, forms.plural, n)

    def render(self, message: str, **values: object) -> str:
        """Translate `message` and fill in its placeholders."""
        return self(message).format(**self._isolated(values))

    def render_plural(self, forms: Plural, n: int, **values: object) -> str:
        """The plural form for `n`, filled in; `{n}` is `n` written as this language does."""
        return self.plural(forms, n).format(**self._isolated({"n": self.number(n), **values}))

    @property
    def right_to_left(self) -> bool:
        return self.formatting.character_order == "right-to-left"

    def isolate(self, value: str) -> str:
        """`value` set apart from the text around it where the text runs right to left and the
        value has Latin letters (a model id, a name, a code). Numbers and text in the reader's
        own script need nothing: they lay out right as they are."""
        if self.right_to_left and _LATIN.search(value):
            return f"{_ISOLATE_START}{value}{_ISOLATE_END}"
        return value

    def _isolated(self, values: dict[str, object]) -> dict[str, object]:
        if not self.right_to_left:
            return values
        return {name: self.isolate(str(value)) for name, value in values.items()}

    def number(self, value: float, decimals: int | None = None) -> str:
        """1200 -> "1,200" (en), "1.200" (de), "1 200" (ru); `decimals` fixes the places."""
        pattern = None if decimals is None else "0." + "0" * decimals if decimals else "0"
        return format_decimal(value, format=pattern, locale=self.formatting)

    def date(self, when: datetime) -> str:
        """The date as the language writes it: "2 June 2025", "2 июня 2025 г."."""
        return format_skeleton("yMMMMd", when, locale=self.formatting)

    def time(self, when: datetime) -> str:
        """The time of day on the 24-hour clock, as the language writes it: "07:05"."""
        return format_skeleton("Hm", when, locale=self.formatting)


def catalogue_path(locale: str, suffix: str = ".po") -> Path:
    return LOCALES_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}{suffix}"


def _load(locale: str) -> gettext.NullTranslations:
    if locale == DEFAULT_LOCALE:
        return gettext.NullTranslations()  # the message ids are the English texts
    source, compiled = catalogue_path(locale), catalogue_path(locale, ".mo")
    if compiled.exists() and (
        not source.exists() or compiled.stat().st_mtime >= source.stat().st_mtime
    ):
        with compiled.open("rb") as file:
            return gettext.GNUTranslations(file)
    return gettext.GNUTranslations(io.BytesIO(compile_catalogue(source, locale)))


def compile_catalogue(source: Path, locale: str) -> bytes:
    """A .po file as .mo bytes (what `pybabel compile` writes)."""
    with source.open("rb") as file:
        catalog = read_po(file, locale=locale, domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    return buffer.getvalue()


@functools.cache
def translator(locale: str | None) -> Translator:
    """The translator of one of INTERFACE_LOCALES (English for None or any other, such as the
    locale of a job accepted before there was a choice).

    Cached: catalogues are read once and never change while the bot runs.
    """
    if locale is None or locale not in INTERFACE_LOCALES:
        locale = DEFAULT_LOCALE
    formatting = Locale.parse(_FORMATTING_LOCALE.get(locale, locale))
    return Translator(locale, _load(locale), formatting)


ENGLISH = translator(DEFAULT_LOCALE)
