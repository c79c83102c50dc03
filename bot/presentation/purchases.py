"""The pack buttons of /buy and of every over-quota refusal.

A button carries its pack's seconds and price ("buy:600:50") rather than a position in
STARS_PACKS: a button sent before the operator changes the packs still means what it showed,
and the handler finds out that it is gone instead of selling another pack.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.policy.payments import Pack
from bot.presentation import replies
from bot.presentation.i18n import Translator
from bot.presentation.keyboards import Buttons

BUY_PREFIX = "buy:"
BUY_DATA = re.compile(r"^buy:(\d{1,9}):(\d{1,9})$")


def pack_buttons(tr: Translator, packs: Sequence[Pack]) -> Buttons:
    """One pack per row, fewest seconds first; empty when nothing is on sale."""
    return [
        [(replies.pack_label(tr, pack), f"{BUY_PREFIX}{pack.seconds}:{pack.stars}")]
        for pack in packs
    ]


def parse_pack(data: str) -> Pack | None:
    match = BUY_DATA.match(data)
    return None if match is None else Pack(int(match.group(1)), int(match.group(2)))
