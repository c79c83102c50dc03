# The bot's image. By default it embeds the offline Whisper engine (EXTRAS=local, about 600 MB
# more). Build with --build-arg EXTRAS= for a slim image that uses the AIML API only (then run
# it with AIMLAPI_KEY set). .ci/check-dockerfile-install checks the install line for both.
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
# No brackets at all when EXTRAS is empty: pip rejects ".[]".
RUN pip install ".${EXTRAS:+[$EXTRAS]}"
# The interface's translations, compiled once here rather than in memory at every start.
RUN pybabel compile -D messages \
    -d "$(python -c 'import pathlib, bot; print(pathlib.Path(bot.__file__).parent / "locales")')"

USER bot
VOLUME ["/data"]
# SIGTERM stops polling and leaves in-flight jobs in the database; they resume on start.
STOPSIGNAL SIGTERM
ENTRYPOINT ["stt-bot"]
CMD ["run"]
