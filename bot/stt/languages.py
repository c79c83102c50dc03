"""Language codes users may choose: validation, normalisation and the short list we offer."""

from __future__ import annotations

import re

AUTO = "auto"

# ISO 639-1, the codes every family's language parameter understands (docs/aiml-stt-api.md §3).
_ISO_639_1_CODES = """
    aa ab ae af ak am an ar as av ay az ba be bg bi bm bn bo br bs ca ce ch co cr cs cu cv cy
    da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht
    hu hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky
    la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no nr nv ny
    oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr ss
    st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi yo
    za zh zu
"""
ISO_639_1 = frozenset(_ISO_639_1_CODES.split())

# Offered on the /language keyboard, in this order; any other code can be typed.
COMMON_LANGUAGES = (
    "en", "de", "es", "fr", "it", "pt", "nl", "pl", "ru", "uk", "tr", "ar", "hi", "ja", "zh",
)  # fmt: skip

# A primary code, optionally a region (ISO 3166 letters or a UN M.49 number such as 419).
# ASCII only: in Unicode mode \d takes Arabic-Indic digits and [a-z] with IGNORECASE takes the
# Kelvin sign, and such a "code" would reach the API.
_CODE = re.compile(
    r"^(?P<primary>[a-z]{2})(?:[-_](?P<region>[a-z]{2}|[0-9]{3}))?$", re.IGNORECASE | re.ASCII
)


class InvalidLanguageError(ValueError):
    """Not "auto" and not an ISO 639-1 code (with an optional region)."""


def parse_language(raw: str) -> str | None:
    """The canonical code ("de", "pt-BR"), or None for automatic detection.

    Raises InvalidLanguageError for anything else.
    """
    text = raw.strip()
    if text.lower() == AUTO:
        return None
    match = _CODE.match(text)
    if match is None or match["primary"].lower() not in ISO_639_1:
        raise InvalidLanguageError(raw)
    primary = match["primary"].lower()
    region = match["region"]
    return f"{primary}-{region.upper()}" if region else primary


def primary_code(language: str) -> str:
    """The language without its region, the form every STT family takes: "pt-BR" -> "pt".

    The one normalisation of language codes: the catalogue, the keyboards and the local engine
    all use it, so " PT_br " means the same language everywhere.
    """
    return language.strip().replace("_", "-").split("-")[0].lower()
