"""The chaos suite, small: every voice note is answered exactly once, whatever breaks.

The same scenarios as `benchmarks/chaos.py` at its --small sizes: the real bot process against
the fakes in a process of their own, SIGKILLed, stormed and cut off. Each asserts the goal of
issue 9: every note answered exactly once (nothing lost, nothing twice) and a quota ledger that
counts exactly the seconds transcribed. A failure prints the table row, what happened when, and
every note that went wrong with the messages it got.

    .venv/bin/python -m pytest -m chaos tests/test_chaos.py
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.chaos import SCENARIOS, run_scenario

pytestmark = pytest.mark.chaos

SEED = 20261130  # the notes, fault draws and kill moments of every run


@pytest.mark.parametrize("name", list(SCENARIOS))
async def test_every_note_is_answered_exactly_once(name: str, tmp_path: Path) -> None:
    result = await run_scenario(SCENARIOS[name], "small", seed=SEED, workdir=tmp_path)
    report = result.report()

    assert result.notes == SCENARIOS[name].plans["small"].notes, report
    assert result.never == 0, f"{result.never} note(s) never answered\n{report}"
    assert result.more == 0, f"{result.more} note(s) answered more than once\n{report}"
    assert result.exactly_once == result.notes, report
    assert result.ledger_exact, f"the quota ledger is not exact\n{report}"
    assert not result.fake_errors, report
