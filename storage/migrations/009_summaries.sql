-- Summaries and translations of transcripts by a language model (README, "Summaries and
-- translations").

-- The text under a Summary or Translate button, kept so that a tap can find it once the job's
-- own copy is gone (storage/jobs.py drops that at delivery). It goes with its job: after
-- JOB_RETENTION_DAYS, or at /forget (ON DELETE CASCADE).
CREATE TABLE transcript_texts (
    job_id     INTEGER PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    text       TEXT NOT NULL,
    language   TEXT,  -- as detected (or as asked for), when known
    created_at TEXT NOT NULL
);

-- One row per summary or translation asked for: the per-user daily quota
-- (QUOTA_DAILY_SUMMARIES) counts these rows, and the unique key makes a second tap, or one
-- handled again, find the first request instead of starting another. Like the quota ledger,
-- rows count under `subject`, a keyed hash of the payer's id, so /forget cannot reset the
-- quota. chat_id and reply_to say where the answer goes; they are cleared once it is settled,
-- and settled rows are deleted once no daily window needs them.
CREATE TABLE summary_requests (
    request_key TEXT PRIMARY KEY,  -- '<kind>:<job id>:<language>'
    job_id      INTEGER NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('summary', 'translation')),
    language    TEXT NOT NULL,     -- of the answer
    subject     TEXT NOT NULL,
    chat_id     INTEGER,
    reply_to    INTEGER,
    bulk        INTEGER NOT NULL DEFAULT 0,  -- 1: posted unasked (a group's auto-summary)
    attempt     INTEGER NOT NULL DEFAULT 1,  -- a new try after a failure counts up
    state       TEXT NOT NULL CHECK (state IN ('reserved', 'done', 'refunded')),
    created_at  TEXT NOT NULL,
    settled_at  TEXT
);
CREATE INDEX summary_requests_subject ON summary_requests (subject, created_at);
CREATE INDEX summary_requests_open ON summary_requests (state) WHERE state = 'reserved';

-- Groups whose admins asked for a summary under every voice note longer than min_seconds.
CREATE TABLE group_summaries (
    chat_id     INTEGER PRIMARY KEY,
    min_seconds INTEGER NOT NULL,
    updated_at  TEXT NOT NULL
);
