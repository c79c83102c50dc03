"""The composition root: settings, one aiohttp session, the database, the services, the
Application and its handlers. Nothing else in the code base builds these."""

from __future__ import annotations

import logging
from types import TracebackType
from typing import Any

import aiohttp
from telegram import BotCommand, Update
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, ContextTypes

from bot.config.settings import Settings
from bot.observability.logging import configure_logging
from bot.pipeline.delivery import DeliveryService
from bot.pipeline.supervisor import TaskSupervisor
from bot.pipeline.transcription import TranscriptionService
from bot.policy.preferences import PreferencesService
from bot.policy.users import UserService
from bot.presentation import texts
from bot.services import Services
from bot.stt.aiml_backend import AimlBackend, PollPlanner, RetryPolicy
from bot.stt.backend import SttBackend
from bot.stt.schedule import PollSchedule
from bot.telegram.gateway import ChatGateway
from bot.wiring import build_metering
from handlers import register_handlers
from handlers.context import BotContext, BotData
from storage.clock import Clock, utc_now
from storage.db import Database
from storage.jobs import JobRepository
from storage.preferences import PreferenceRepository
from storage.users import UserRepository

log = logging.getLogger(__name__)

BotApplication = Application[Any, BotContext, Any, Any, BotData, Any]

# The STT API is slow to answer only when it is busy; a request that hangs longer is retried.
STT_HTTP_TIMEOUT = aiohttp.ClientTimeout(total=120, connect=10, sock_read=60)


class BotRuntime:
    """Owns the resources whose life spans the Application's: built on start, closed on stop.

    `run_polling` drives it through post_init / post_stop / post_shutdown; tests drive the same
    methods with `async with runtime:` around a manually started Application.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        backend: SttBackend | None = None,
        schedule: PollPlanner | None = None,
        stt_retry: RetryPolicy | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self.settings = settings
        # Quota windows, statistics and stored times follow this clock (injectable for tests).
        self.clock = clock
        self._injected_backend = backend
        self.schedule: PollPlanner = schedule or PollSchedule()
        self._stt_retry = stt_retry
        self.application: BotApplication = self._build_application()
        self._session: aiohttp.ClientSession | None = None
        self._database: Database | None = None
        self.backend: SttBackend | None = None
        self.services: Services | None = None

    def _build_application(self) -> BotApplication:
        settings = self.settings
        application: BotApplication = (
            ApplicationBuilder()
            .token(settings.telegram_bot_token)
            .base_url(settings.telegram_base_url)
            .base_file_url(settings.telegram_base_file_url)
            .context_types(ContextTypes(context=BotContext, bot_data=BotData))
            # Honours RetryAfter and keeps under Telegram's flood limits for every call we make.
            .rate_limiter(AIORateLimiter(max_retries=3))
            # Accepting a job is a database write and one message; let several run at once.
            .concurrent_updates(16)
            .post_init(self.start_services)
            .post_stop(self.stop_background_work)
            .post_shutdown(self.close_resources)
            .build()
        )
        register_handlers(application)
        return application

    def _make_backend(self, session: aiohttp.ClientSession) -> SttBackend:
        if self._injected_backend is not None:
            return self._injected_backend
        if self.settings.backend == "local":
            from bot.local.backend import LocalBackend

            return LocalBackend.from_settings(self.settings)
        from bot.stt.client import AimlSttClient

        assert self.settings.aimlapi_key is not None
        client = AimlSttClient(session, self.settings.aimlapi_base_url, self.settings.aimlapi_key)
        return AimlBackend(client, self.schedule, retry=self._stt_retry)

    async def start_services(self, application: BotApplication) -> None:
        settings = self.settings
        self._session = aiohttp.ClientSession(timeout=STT_HTTP_TIMEOUT)
        self._database = await Database.open(settings.database_path)
        self.backend = self._make_backend(self._session)
        jobs = JobRepository(self._database, self.clock)
        gateway = ChatGateway(application.bot)
        supervisor = TaskSupervisor(settings.max_concurrent_transfers)
        preferences = PreferencesService(
            PreferenceRepository(self._database),
            default_model=settings.default_model,
            allowed_models=settings.allowed_models,
            local_backend=settings.backend == "local",
        )
        users = UserRepository(self._database, self.clock)
        metering = build_metering(
            self._database,
            settings,
            gateway=gateway,
            preferences=preferences,
            users=users,
            clock=self.clock,
        )
        transcription = TranscriptionService(
            jobs=jobs,
            backend=self.backend,
            gateway=gateway,
            delivery=DeliveryService(gateway, jobs),
            preferences=preferences,
            supervisor=supervisor,
            max_file_bytes=settings.max_file_bytes,
            job_timeout=settings.job_timeout_seconds,
            clock=self.clock,
            admission=metering.admission,
        )
        self.services = Services(
            settings=settings,
            users=UserService(users),
            preferences=preferences,
            transcription=transcription,
            supervisor=supervisor,
            access=metering.access,
            quota=metering.quota,
            admin=metering.admin,
            groups=metering.groups,
            account=metering.account,
        )
        application.bot_data.services = self.services
        await application.bot.set_my_commands(
            [BotCommand(name, description) for name, description in texts.COMMAND_DESCRIPTIONS]
        )
        resumed = await transcription.resume_open_jobs()
        log.info("bot started with the %s backend; resumed %d job(s)", settings.backend, resumed)

    async def stop_background_work(self, application: BotApplication) -> None:
        if self.services is not None:
            await self.services.supervisor.shutdown()

    async def close_resources(self, application: BotApplication) -> None:
        if self.backend is not None:
            await self.backend.close()
        if self._session is not None:
            await self._session.close()
        if self._database is not None:
            await self._database.close()
        log.info("bot stopped")

    async def __aenter__(self) -> BotRuntime:
        """Start the Application by hand, as run_polling would (for tests and embedding)."""
        application = self.application
        await application.initialize()
        await self.start_services(application)
        assert application.updater is not None
        await application.updater.start_polling(
            timeout=1, poll_interval=0, allowed_updates=Update.ALL_TYPES
        )
        await application.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        application = self.application
        assert application.updater is not None
        if application.updater.running:
            await application.updater.stop()
        if application.running:
            await application.stop()
        await self.stop_background_work(application)
        await application.shutdown()
        await self.close_resources(application)


def run_bot() -> int:
    settings = Settings.from_env()
    secrets = [settings.telegram_bot_token, settings.aimlapi_key or ""]
    configure_logging(settings.log_level, secrets)
    runtime = BotRuntime(settings)
    # SIGINT/SIGTERM stop polling, then post_stop cancels the jobs (they stay in the database
    # and resume at the next start), then post_shutdown closes the session and the database.
    runtime.application.run_polling(allowed_updates=Update.ALL_TYPES)
    return 0
