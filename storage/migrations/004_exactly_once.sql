-- Durable intake and recorded sends (exactly once).

-- Every update from Telegram is saved here before it is confirmed (the next getUpdates offset,
-- or the webhook's 2xx). `state`: received -> started -> done, or poisoned when it cannot be
-- parsed or keeps failing. `attempts` counts starts, so an update that crashes the process
-- every time is poisoned instead of crashing it forever.
CREATE TABLE inbox (
    update_id   INTEGER PRIMARY KEY,
    payload     TEXT NOT NULL,
    state       TEXT NOT NULL DEFAULT 'received',
    attempts    INTEGER NOT NULL DEFAULT 0,
    error       TEXT,
    received_at TEXT NOT NULL,
    finished_at TEXT
);
CREATE INDEX inbox_pending ON inbox (update_id) WHERE state IN ('received', 'started');

-- One row per non-idempotent message a job sends (its status message, a transcript sent as a
-- new message, a file). Written before each attempt and after its answer, so a restart knows
-- whether a send may have arrived. `state`: in_flight (an attempt is under way or was when the
-- process died), retry_wait (the last attempt surely did not arrive), confirmed, ambiguous
-- (it may have arrived: never sent again).
CREATE TABLE sends (
    job_id     INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    step       TEXT NOT NULL,
    state      TEXT NOT NULL,
    message_id INTEGER,
    attempts   INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (job_id, step)
);

-- Read by no query (findings): the dedupe key already identifies a job's message.
DROP INDEX jobs_message;
