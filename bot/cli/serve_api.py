"""`stt-bot serve-api`: the AIML job API on this machine, backed by the local engine."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from bot.config.settings import Settings, local_extra_installed
from bot.local.backend import LocalBackend
from bot.local.config import LocalConfig
from bot.server.app import ServerConfig, create_app

logger = logging.getLogger(__name__)

# The docs' example clients poll every 10 s; holding a poll this long lets a short note's
# result reach them on the first poll instead of one period later.
POLL_HOLD_SECONDS = 8.0


def serve_command(args: argparse.Namespace, settings: Settings | None = None) -> int:
    """Raises SettingsError for a bad configuration (the CLI's exit status 2)."""
    if settings is None:
        settings = Settings.from_env()
    keys = settings.server_keys
    problem = _refusal(args, keys)
    if problem is not None:
        print(f"stt-bot: serve-api: {problem}", file=sys.stderr)
        return 2
    if not keys:
        print("stt-bot: serve-api: WARNING: serving without authentication", file=sys.stderr)
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )

    backend = LocalBackend(
        LocalConfig(
            size=settings.local_model,
            model_dir=settings.local_model_dir,
            workers=settings.local_workers,
            queue_size=settings.local_queue_size,
        )
    )
    config = ServerConfig(
        keys=keys,
        allow_private_urls=args.allow_private_urls,
        max_upload_bytes=args.max_upload_bytes,
        poll_hold_seconds=POLL_HOLD_SECONDS,
        models=frozenset(settings.server_models),
        max_audio_seconds=settings.server_max_audio_seconds or None,
        key_jobs_per_minute=settings.server_key_jobs_per_minute,
        key_jobs_in_flight=settings.server_key_jobs_in_flight,
    )
    app = create_app(backend, config)

    async def lifecycle(_app: web.Application) -> AsyncIterator[None]:
        # Load the default model before the first request rather than during it.
        await backend.default_engine().load()
        yield
        await backend.close()

    app.cleanup_ctx.append(lifecycle)
    web.run_app(app, host=args.host, port=args.port, print=_announce(args))
    return 0


def _refusal(args: argparse.Namespace, keys: frozenset[str]) -> str | None:
    if args.max_upload_bytes < 1:
        return "--max-upload-bytes must be at least 1"
    if keys and args.insecure_no_auth:
        return "--insecure-no-auth conflicts with STT_SERVER_KEYS; unset one of them"
    if not keys and not args.insecure_no_auth:
        return "set STT_SERVER_KEYS (comma-separated bearer keys), or pass --insecure-no-auth"
    if not local_extra_installed():
        return "the local engine is not installed: pip install 'stt-bot[local]'"
    return None


def _announce(args: argparse.Namespace) -> Callable[[str], None]:
    def announce(_message: str) -> None:
        print(
            f"stt-bot: serving the STT job API on http://{args.host}:{args.port}/v1",
            file=sys.stderr,
            flush=True,
        )

    return announce
