"""The `stt-bot` command line: run the bot, transcribe a file, serve the job API, or back up
the database."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from bot import package_version
from bot.config.settings import SettingsError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stt-bot", description="A Telegram bot that turns voice messages into text."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    commands.add_parser("run", help="run the bot with long polling")

    transcribe = commands.add_parser(
        "transcribe", help="transcribe a file or URL through the configured backend"
    )
    transcribe.add_argument("source", metavar="PATH_OR_URL")
    transcribe.add_argument("--model", help="model id (default: DEFAULT_MODEL or the backend's)")
    transcribe.add_argument("--language", help="language code, or 'auto' (the default)")
    transcribe.add_argument(
        "--format", choices=("text", "json", "srt", "vtt"), default="text", dest="output_format"
    )

    serve = commands.add_parser("serve-api", help="serve the AIML speech-to-text job API locally")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--insecure-no-auth",
        action="store_true",
        help="serve without bearer keys (only when STT_SERVER_KEYS is unset)",
    )
    serve.add_argument(
        "--allow-private-urls",
        action="store_true",
        help="let jobs fetch audio from private and loopback addresses",
    )
    serve.add_argument("--max-upload-bytes", type=int, default=25_000_000)

    backup = commands.add_parser(
        "backup", help="copy the database to a new file, safely while the bot runs"
    )
    backup.add_argument("target", metavar="PATH", help="the new file (never overwritten)")
    backup.add_argument(
        "--database", type=Path, help="the database to copy (default: DATABASE_PATH)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # PTB 22 reports durations as timedelta when this is set, and warns on every access when it
    # is not; our code reads both. It must be set before telegram is imported.
    os.environ.setdefault("PTB_TIMEDELTA", "true")
    args = build_parser().parse_args(argv)
    try:
        if args.command == "run":
            from bot.app import run_bot

            return run_bot()
        if args.command == "transcribe":
            from bot.cli.transcribe import transcribe_command

            return transcribe_command(args)
        if args.command == "backup":
            from bot.cli.backup import backup_command

            return backup_command(args)
        from bot.cli.serve_api import serve_command

        return serve_command(args)
    except SettingsError as error:
        print(f"stt-bot: configuration error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
