"""`stt-bot backup PATH`: a consistent copy of the bot's database, safe while the bot runs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.config.settings import Settings
from storage.backup import BackupError, back_up


def backup_command(args: argparse.Namespace, settings: Settings | None = None) -> int:
    """Raises SettingsError for a bad configuration (the CLI's exit status 2)."""
    source: Path = args.database or (settings or Settings.from_env()).database_path
    try:
        result = back_up(source, Path(args.target))
    except BackupError as error:
        print(f"stt-bot: backup: {error}", file=sys.stderr)
        return 1
    print(f"backed up {source} to {result.path} ({result.size} bytes, integrity ok)")
    return 0
