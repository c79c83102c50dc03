"""The composition root: settings, one aiohttp session, the database, the services, the
Application and its handlers, the intake. Nothing else in the code base builds these."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import sqlite3
import sys
from collections.abc import Callable
from types import TracebackType
from typing import Any

import aiohttp
from prometheus_client import CollectorRegistry
from telegram import BotCommand, Update
from telegram.error import InvalidToken, TelegramError
from telegram.ext import Application, ApplicationBuilder, BaseRateLimiter, ContextTypes

from bot import package_version
from bot.config.settings import Settings
from bot.observability.http import OperatorServer
from bot.observability.logging import configure_logging
from bot.observability.metrics import BotMetrics, LiveState
from bot.pipeline.delivery import DeliveryService
from bot.pipeline.progress import PROGRESS_INTERVAL
from bot.pipeline.retention import RetentionRules, RetentionSweeper
from bot.pipeline.schedule_memory import ScheduleMemory
from bot.pipeline.speech_translation import WhisperTranslator
from bot.pipeline.status_policy import StatusPolicy
from bot.pipeline.supervisor import TaskSupervisor
from bot.pipeline.temp_files import TempFiles
from bot.pipeline.transcription import TranscriptionService
from bot.policy.interface_language import DEFAULT_LOCALE, INTERFACE_LOCALES, InterfaceLanguages
from bot.policy.preferences import PreferencesService
from bot.policy.users import UserService
from bot.presentation.i18n import ENGLISH, translator
from bot.presentation.keyboards import redo_button
from bot.presentation.replies import command_menu
from bot.redaction import Redactor
from bot.retry import RetryPolicy
from bot.services import Services
from bot.stt.aiml_backend import AimlBackend, PollPlanner
from bot.stt.backend import SttBackend
from bot.stt.reports import JobReports
from bot.stt.schedule import PollSchedule
from bot.telegram.flood_schedule import FloodLimits
from bot.telegram.gateway import ChatGateway
from bot.telegram.intake import UpdateIntake
from bot.telegram.polling import UpdatePoller
from bot.telegram.rate_limiter import NoRateLimiter, PriorityRateLimiter
from bot.telegram.request import AiohttpRequest
from bot.telegram.webhook import WebhookEndpoint, set_webhook
from bot.wiring import build_policy_services, build_summaries
from handlers import register_handlers
from handlers.context import BotContext, BotData
from storage.clock import Clock, utc_now
from storage.db import Database
from storage.groups import GroupSettingsRepository
from storage.health import Heartbeat
from storage.inbox import InboxRepository
from storage.jobs import JobRepository
from storage.preferences import PreferenceRepository
from storage.retention import RetentionRepository
from storage.schedule_state import ScheduleStateRepository
from storage.sends import SendJournal
from storage.users import UserRepository

log = logging.getLogger(__name__)

BotApplication = Application[Any, BotContext, Any, Any, BotData, Any]

# Allocations between two collections of the youngest generation (Python's default: 700).
GC_YOUNG_THRESHOLD = 10_000

# The STT API is slow to answer only when it is busy; a request that hangs longer is retried.
STT_HTTP_TIMEOUT = aiohttp.ClientTimeout(total=120, connect=10, sock_read=60)

# One retry policy per remote service (bot/retry.py). Telegram: keep trying with jitter, each
# caller bounding it by its own deadline (seconds for a reply, hours for a transcript).
TELEGRAM_RETRY = RetryPolicy(base_delay=1.0, max_delay=30.0, attempts=None)
# The STT API: a few tries for a create (it may bill twice); polls go on until the job's limit.
STT_RETRY = RetryPolicy(base_delay=0.5, max_delay=15.0, attempts=4)
# The language model (summaries, translations): a few tries; a person waits for the answer.
LLM_RETRY = RetryPolicy(base_delay=1.0, max_delay=20.0, attempts=3, deadline=120.0)

# A transcript waits out Telegram trouble this long before its job gives up on delivery.
DELIVERY_PATIENCE = 6 * 3600.0
# A slow answer to a send is not a failed send: wait long for it rather than guess.
TELEGRAM_READ_TIMEOUT = 60.0
# Waiting for a free connection costs nothing; failing and retrying costs a backoff.
TELEGRAM_POOL_TIMEOUT = 30.0

# The updates the handlers act on; Telegram sends nothing else. Without pre_checkout_query
# every Stars checkout would time out.
ALLOWED_UPDATES = (Update.MESSAGE, Update.CALLBACK_QUERY, Update.PRE_CHECKOUT_QUERY)


class StartupError(Exception):
    """The bot cannot start; the message is one line for the operator, free of secrets."""


class BotRuntime:
    """Owns the resources whose life spans the Application's: built on start, closed on stop.

    `async with runtime:` starts everything (the CLI and the tests use the same path), and
    leaving the block stops it: the poller first, then the handlers in flight, then the jobs
    (which resume at the next start), then the connections.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        backend: SttBackend | None = None,
        schedule: PollPlanner | None = None,
        stt_retry: RetryPolicy | None = None,
        llm_retry: RetryPolicy | None = None,
        telegram_retry: RetryPolicy | None = None,
        clock: Clock = utc_now,
        long_poll_seconds: int = 30,
        flood_limits: FloodLimits | None = None,
        progress_interval: float = PROGRESS_INTERVAL,
    ) -> None:
        self.settings = settings
        # Quota windows, statistics and stored times follow this clock (injectable for tests).
        self.clock = clock
        self._injected_backend = backend
        self.schedule: PollPlanner = schedule or PollSchedule()
        self._stt_retry = stt_retry or STT_RETRY
        self._llm_retry = llm_retry or LLM_RETRY
        self._telegram_retry = telegram_retry or TELEGRAM_RETRY
        self._long_poll_seconds = long_poll_seconds
        self._progress_interval = progress_interval  # between edits of a long job's status
        # Interactive answers first, under Telegram's limits; None when TELEGRAM_RATE_LIMIT=off.
        self.rate_limiter: PriorityRateLimiter | None = (
            PriorityRateLimiter(flood_limits) if settings.telegram_rate_limit else None
        )
        self.application: BotApplication = self._build_application()
        self._session: aiohttp.ClientSession | None = None
        self._database: Database | None = None
        self._poller_task: asyncio.Task[None] | None = None
        self.retention: RetentionSweeper | None = None
        self._retention_task: asyncio.Task[None] | None = None
        self.schedule_memory: ScheduleMemory | None = None
        self._schedule_task: asyncio.Task[None] | None = None
        self.backend: SttBackend | None = None
        self.services: Services | None = None
        self.intake: UpdateIntake | None = None
        # The operator's view: metrics on a registry of this runtime's own, what the STT API
        # reported per job, and the HTTP server for /healthz, /metrics and the webhook.
        self.metrics = BotMetrics(
            CollectorRegistry(), daily_budget_seconds=settings.budget_daily_seconds
        )
        self._reports = JobReports()
        self.http: OperatorServer | None = None

    def _build_application(self) -> BotApplication:
        settings = self.settings
        self._requests = (
            AiohttpRequest(
                read_timeout=TELEGRAM_READ_TIMEOUT,
                write_timeout=TELEGRAM_READ_TIMEOUT,
                pool_timeout=TELEGRAM_POOL_TIMEOUT,
            ),
            # getUpdates: one at a time; the poller passes a read timeout beyond the long poll.
            AiohttpRequest(connection_pool_size=1),
        )
        application: BotApplication = (
            ApplicationBuilder()
            .token(settings.telegram_bot_token)
            .base_url(settings.telegram_base_url)
            .base_file_url(settings.telegram_base_file_url)
            # A local-mode telegram-bot-api server: getFile names files on this disk.
            .local_mode(settings.telegram_local_mode)
            .context_types(ContextTypes(context=BotContext, bot_data=BotData))
            # Keeps under Telegram's flood limits, interactive answers first; a 429 that still
            # comes is the gateway's to retry, under the one Telegram retry policy.
            .rate_limiter(self._rate_limiter_or_none())
            # aiohttp, as for every other HTTP call: a third to a sixth of httpx's CPU per call
            # (benchmarks/transport.py).
            .request(self._requests[0])
            .get_updates_request(self._requests[1])
            # Our own intake (bot/telegram/intake.py) replaces the Updater, which confirms
            # updates to Telegram before anything is saved.
            .updater(None)
            .build()
        )
        register_handlers(application)
        return application

    def _rate_limiter_or_none(self) -> BaseRateLimiter[Any]:
        # NoRateLimiter still takes the gateway's `rate_limit_args`; having none would reject them.
        return self.rate_limiter if self.rate_limiter is not None else NoRateLimiter()

    def _status_policy(self) -> StatusPolicy:
        # The poll schedule estimates the API's jobs; the local engine's queue it does not know.
        estimate = self.schedule if isinstance(self.schedule, PollSchedule) else None
        return StatusPolicy(
            congestion=self.rate_limiter,
            estimate=estimate if self.settings.backend == "aiml" else None,
            quick_seconds=self.settings.quick_answer_seconds,
        )

    def _make_backend(
        self, session: aiohttp.ClientSession, supervisor: TaskSupervisor
    ) -> SttBackend:
        if self._injected_backend is not None:
            return self._injected_backend
        if self.settings.backend == "local":
            from bot.local.backend import LocalBackend
            from bot.local.config import LocalConfig

            settings = self.settings
            return LocalBackend(
                LocalConfig(
                    size=settings.local_model,
                    model_dir=settings.local_model_dir,
                    workers=settings.local_workers,
                    queue_size=settings.local_queue_size,
                )
            )
        if self.settings.backend == "openai":
            from bot.stt.openai_backend import OpenAiBackend
            from bot.stt.openai_client import OpenAiSttClient

            # The server transcribes within the request: no poll schedule, no transfer slot
            # held through it; the job's own time limit bounds the wait.
            return OpenAiBackend(
                OpenAiSttClient(session, self.settings.openai_url, self.settings.openai_api_key),
                retry=self._stt_retry,
            )
        from bot.stt.client import AimlSttClient

        assert self.settings.aimlapi_key is not None
        client = AimlSttClient(
            session,
            self.settings.aimlapi_base_url,
            self.settings.aimlapi_key,
            on_cost=self._reports.add_cost,
        )
        return AimlBackend(
            client,
            self.schedule,
            retry=self._stt_retry,
            transfer_slots=supervisor.transfer_slots,
            on_resubmit=self._possible_duplicate,
            on_polled=self._reports.polled,
            on_error=self.metrics.stt_error,
        )

    def _possible_duplicate(self) -> None:
        log.warning("a create request is repeated: it may bill twice")
        self.metrics.possible_duplicate()

    async def _open_database(self) -> Database:
        path = self.settings.database_path
        try:
            return await Database.open(path)
        except (OSError, sqlite3.Error) as error:
            raise StartupError(f"cannot open the database at {path}: {error}") from None

    def _temp_files(self) -> TempFiles:
        """The recordings' folder, emptied of what a crash left, before any job runs."""
        temp_files = TempFiles(self.settings.temp_folder)
        try:
            temp_files.sweep()
        except OSError as error:
            raise StartupError(
                f"cannot use {temp_files.folder} for recordings (TEMP_DIR): "
                f"{error.strerror or type(error).__name__}"
            ) from None
        return temp_files

    async def start_services(self, application: BotApplication) -> None:
        settings = self.settings
        self._database = await self._open_database()
        temp_files = self._temp_files()
        self._session = aiohttp.ClientSession(timeout=STT_HTTP_TIMEOUT)
        jobs = JobRepository(self._database, self.clock)
        gateway = ChatGateway(
            application.bot,
            self._telegram_retry,
            on_ambiguous=self.metrics.ambiguous_send,
            on_error=self.metrics.telegram_error,
            download_session=self._session,
            local_mode=settings.telegram_local_mode,
        )
        supervisor = TaskSupervisor(settings.max_concurrent_transfers)
        self.backend = self._make_backend(self._session, supervisor)
        stored_preferences = PreferenceRepository(self._database)
        preferences = PreferencesService(
            stored_preferences,
            default_model=settings.default_model,
            allowed_models=settings.allowed_models,
            models=settings.offered_models,
        )
        users = UserRepository(self._database, self.clock)
        policies = build_policy_services(
            self._database,
            settings,
            gateway=gateway,
            preferences=preferences,
            users=users,
            clock=self.clock,
            observer=self.metrics,
        )
        delivery = DeliveryService(
            gateway,
            jobs,
            SendJournal(self._database, self.clock),
            patience=DELIVERY_PATIENCE,
            status_policy=self._status_policy(),
        )
        languages = InterfaceLanguages(
            stored_preferences, GroupSettingsRepository(self._database, self.clock), users
        )
        summaries = build_summaries(
            self._database,
            settings,
            session=self._session,
            retry=self._llm_retry,
            jobs=jobs,
            delivery=delivery,
            supervisor=supervisor,
            groups=policies.groups,
            languages=languages,
            # Without a language model, the local engine still translates into English.
            speech=WhisperTranslator(
                self.backend,
                gateway,
                temp_files,
                supervisor,
                max_file_bytes=settings.max_file_bytes,
            )
            if settings.backend == "local"
            else None,
            clock=self.clock,
        )
        transcription = TranscriptionService(
            jobs=jobs,
            backend=self.backend,
            gateway=gateway,
            delivery=delivery,
            preferences=preferences,
            supervisor=supervisor,
            max_file_bytes=settings.max_file_bytes,
            max_audio_seconds=settings.max_audio_seconds,
            temp_files=temp_files,
            progress_interval=self._progress_interval,
            job_timeout=settings.job_timeout_seconds,
            clock=self.clock,
            admission=policies.admission,
            buttons_for=redo_button,
            extras=summaries.summaries,
            observer=self.metrics,
            reports=self._reports,
            one_commit=self._database.one_commit,
        )
        self.services = Services(
            settings=settings,
            users=UserService(users),
            preferences=preferences,
            transcription=transcription,
            supervisor=supervisor,
            access=policies.access,
            quota=policies.quota,
            admin=policies.admin,
            groups=policies.groups,
            account=policies.account,
            payments=policies.payments,
            summaries=summaries.summaries,
            group_summaries=summaries.group_summaries,
            gateway=gateway,
            languages=languages,
        )
        application.bot_data.services = self.services
        self.intake = UpdateIntake(
            InboxRepository(self._database, self.clock),
            application,
            on_event=self.metrics.inbox_event,
        )
        self._start_retention(self._database)
        await self._remember_schedule(self._database)
        await self._set_commands(application, payments=policies.payments.enabled)

    async def _set_commands(self, application: BotApplication, *, payments: bool) -> None:
        """The command menu in each interface language, which Telegram shows to each user in
        theirs, and in English for everyone else (no language_code)."""
        bot = application.bot
        english = command_menu(ENGLISH, payments=payments)
        await bot.set_my_commands([BotCommand(name, text) for name, text in english])
        for locale in INTERFACE_LOCALES:
            if locale == DEFAULT_LOCALE:
                continue
            menu = command_menu(translator(locale), payments=payments)
            await bot.set_my_commands(
                [BotCommand(name, text) for name, text in menu],
                # Telegram takes a two-letter code only: Brazilian Portuguese is "pt".
                language_code=locale.split("_")[0],
            )

    async def _remember_schedule(self, database: Database) -> None:
        """What the poll schedule learnt survives a restart: restored before any job resumes,
        saved every few minutes and at stop (bot/pipeline/schedule_memory.py)."""
        if not isinstance(self.schedule, PollSchedule):
            return
        self.schedule_memory = ScheduleMemory(self.schedule, ScheduleStateRepository(database))
        await self.schedule_memory.restore()
        self._schedule_task = asyncio.create_task(
            self.schedule_memory.run(), name="schedule-memory"
        )

    def _start_retention(self, database: Database) -> None:
        """Sweep now and every so often: what the README says is deleted, is (retention.py)."""
        rules = RetentionRules.from_settings(
            self.settings.cache_ttl_hours, self.settings.job_retention_days
        )
        self.retention = RetentionSweeper(RetentionRepository(database), rules, clock=self.clock)
        self._retention_task = asyncio.create_task(self.retention.run(), name="retention")

    async def _begin(self) -> None:
        """Start the jobs and the updates left over from the last run, then take new ones:
        from Telegram's calls to WEBHOOK_URL in webhook mode, else by polling."""
        assert self.services is not None and self.intake is not None
        application = self.application
        webhook_mode = self.settings.webhook_url is not None
        if not webhook_mode:
            # Polling and a webhook exclude each other; pending updates are kept for us.
            await application.bot.delete_webhook(drop_pending_updates=False)
        resumed = await self.services.transcription.resume_open_jobs()
        await self.services.summaries.resume_open()
        replayed = await self.intake.replay_pending()
        await self._start_http()
        if webhook_mode:
            await self._set_webhook()
        else:
            poller = UpdatePoller(
                application.bot,
                self.intake,
                self._telegram_retry,
                allowed_updates=ALLOWED_UPDATES,
                long_poll_seconds=self._long_poll_seconds,
            )
            self._poller_task = asyncio.create_task(poller.run(), name="telegram-poller")
        log.info(
            "bot started: version %s, backend %s, %s, database %s; resumed %d job(s), "
            "%d update(s)",
            package_version(),
            self.settings.backend,
            "webhook" if webhook_mode else "polling",
            self.settings.database_path,
            resumed,
            replayed,
        )

    async def _start_http(self) -> None:
        """The operator's HTTP server (/healthz, /metrics, the webhook), when it has a port."""
        settings = self.settings
        port = settings.serving_port
        if port is None:
            return
        assert self._database is not None and self.intake is not None
        path, secret = settings.webhook_path, settings.webhook_secret_token
        routes = (
            WebhookEndpoint(self.intake, secret, on_request=self.metrics.webhook_request).routes(
                path
            )
            if path is not None and secret is not None
            else []
        )
        server = OperatorServer(
            settings.http_host,
            port,
            probe=Heartbeat(self._database, self.clock).beat,
            metrics=self.metrics,
            live_state=self._live_state,
            routes=routes,
        )
        try:
            await server.start()
        except OSError as error:
            raise StartupError(
                f"cannot listen on {settings.http_host}:{port} (HTTP_HOST, HTTP_PORT): "
                f"{error.strerror or type(error).__name__}"
            ) from None
        self.http = server

    async def _set_webhook(self) -> None:
        settings = self.settings
        assert settings.webhook_url is not None and settings.webhook_secret_token is not None
        try:
            await set_webhook(
                self.application.bot,
                settings.webhook_url,
                secret_token=settings.webhook_secret_token,
                allowed_updates=ALLOWED_UPDATES,
                max_connections=settings.webhook_max_connections,
            )
        except TelegramError as error:
            raise StartupError(f"Telegram refused the webhook (WEBHOOK_URL): {error}") from None

    async def _live_state(self) -> LiveState:
        """The levels /metrics reports, read at each scrape."""
        assert self.services is not None and self.intake is not None
        supervisor = self.services.supervisor
        spend = await self.services.admin.spend()
        return LiveState(
            jobs_in_flight=supervisor.active,
            transfer_queue=supervisor.transfer_slots.waiting,
            inbox_backlog=await self.intake.backlog(),
            spend_today_seconds=spend.today.seconds if spend is not None else 0.0,
            spend_month_seconds=spend.month.seconds if spend is not None else 0.0,
        )

    async def stop_background_work(self) -> None:
        # First stop taking updates: a webhook request in progress finishes saving its update.
        # The webhook stays set, so Telegram keeps what comes meanwhile for the next start.
        if self.http is not None:
            await self.http.stop()
        if self._retention_task is not None:
            self._retention_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._retention_task
        if self._poller_task is not None:
            self._poller_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, TelegramError):
                await self._poller_task
        if self.intake is not None:
            await self.intake.stop()
        if self.services is not None:
            await self.services.supervisor.shutdown()
        if self._schedule_task is not None:
            self._schedule_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._schedule_task
        if self.schedule_memory is not None:
            await self.schedule_memory.save()

    async def close_resources(self) -> None:
        if self.backend is not None:
            await self.backend.close()
        if self._session is not None:
            await self._session.close()
        if self._database is not None:
            await self._database.close()
            log.info("bot stopped")

    async def _initialize(self, application: BotApplication) -> None:
        # PTB leaves the transports open when initialize() fails (a rejected token).
        try:
            await application.initialize()
        except BaseException:
            for request in self._requests:
                await request.shutdown()
            raise

    @property
    def poller(self) -> asyncio.Task[None] | None:
        """The polling task: it ends only when cancelled or when the token stops working."""
        return self._poller_task

    async def __aenter__(self) -> BotRuntime:
        application = self.application
        try:
            await self._initialize(application)
        except InvalidToken:
            raise StartupError("Telegram rejected the bot token (TELEGRAM_BOT_TOKEN)") from None
        except TelegramError as error:
            raise StartupError(
                f"cannot reach Telegram at {self.settings.telegram_api_url}: "
                f"{type(error).__name__}"
            ) from None
        try:
            await self.start_services(application)
            await application.start()
            await self._begin()
        except BaseException:
            await self.__aexit__(None, None, None)
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        application = self.application
        await self.stop_background_work()
        if application.running:
            await application.stop()
        await application.shutdown()
        await self.close_resources()


async def serve(runtime: BotRuntime) -> None:
    """Run until SIGINT or SIGTERM, or until the poller (in polling mode) stops for good."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    log.debug("event loop: %s.%s", type(loop).__module__, type(loop).__name__)
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with runtime:
        # What start-up made (modules, settings, handlers) lives as long as the process: out of
        # the collector's sight, its full collections walk only what the work itself makes.
        gc.freeze()
        # A note allocates some thousands of objects, nearly all freed by their reference
        # counts; at the default 700 allocations a young collection ran several times a note
        # and walked whatever was alive just then. At 10,000, about 2 % less CPU per note
        # (`benchmarks/load.py --scenario cpu`, side by side), for cycles that wait a little
        # longer to be freed.
        gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
        stopping = asyncio.create_task(stop.wait())
        poller = runtime.poller  # None in webhook mode
        watched = {stopping} if poller is None else {stopping, poller}
        await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if poller is not None and poller.done() and not poller.cancelled():
            error = poller.exception()
            if isinstance(error, InvalidToken):
                raise StartupError("Telegram no longer accepts the bot token")
            if error is not None:
                raise StartupError(f"polling stopped: {type(error).__name__}")


def _event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    """uvloop's loop where it is installed (not on Windows): the same asyncio API for less CPU
    per call: 12 % less CPU per note in one A/B run of `benchmarks/load.py --scenario cpu`."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop
    return uvloop.new_event_loop


def run_bot() -> int:
    settings = Settings.from_env().require_telegram()
    secrets = [
        settings.telegram_bot_token,
        settings.aimlapi_key or "",
        settings.openai_api_key or "",
        settings.llm_api_key or "",
        settings.webhook_secret_token or "",
    ]
    configure_logging(settings.log_level, secrets, settings.log_format)
    try:
        with asyncio.Runner(loop_factory=_event_loop_factory()) as runner:
            runner.run(serve(BotRuntime(settings)))
    except StartupError as error:
        # One line, no traceback: the token must never reach the terminal, and the operator
        # needs the cause, not 200 lines of stack.
        print(f"stt-bot: {Redactor(secrets)(str(error))}", file=sys.stderr)
        return 1
    return 0
