-- Users who wrote to the bot, and the transcription jobs they started.
CREATE TABLE users (
    user_id       INTEGER PRIMARY KEY,
    first_name    TEXT,
    last_name     TEXT,
    username      TEXT,
    language_code TEXT,
    first_seen    TEXT NOT NULL,
    last_seen     TEXT NOT NULL
);

CREATE TABLE jobs (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    -- One job per request: a redelivered Telegram update must not start a second job.
    dedupe_key        TEXT NOT NULL UNIQUE,
    chat_id           INTEGER NOT NULL,
    chat_type         TEXT NOT NULL,
    message_id        INTEGER NOT NULL,
    user_id           INTEGER,
    file_id           TEXT NOT NULL,
    file_unique_id    TEXT NOT NULL,
    media_kind        TEXT NOT NULL,
    mime_type         TEXT,
    file_name         TEXT,
    duration          REAL,
    file_size         INTEGER,
    model             TEXT NOT NULL,
    language          TEXT,
    options           TEXT NOT NULL DEFAULT '{}',
    -- accepted -> submitted -> transcribed -> delivered, or -> failing -> failed
    state             TEXT NOT NULL,
    generation_id     TEXT,
    submitted_at      TEXT,
    status_message_id INTEGER,
    transcript        TEXT,
    delivered_parts   INTEGER NOT NULL DEFAULT 0,
    error             TEXT,
    submissions       INTEGER NOT NULL DEFAULT 0,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    finished_at       TEXT
);

CREATE INDEX jobs_open ON jobs (state) WHERE state NOT IN ('delivered', 'failed');
CREATE INDEX jobs_user ON jobs (user_id, created_at);
CREATE INDEX jobs_message ON jobs (chat_id, message_id);
