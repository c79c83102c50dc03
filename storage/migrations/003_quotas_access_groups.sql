-- Quotas, access rules, group settings, the transcript cache and usage statistics.

-- Facts about this database. 'subject_salt' keys the hash under which the quota ledger counts
-- usage: it is made here, once, and never leaves the database.
CREATE TABLE app_meta (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
INSERT INTO app_meta (name, value) VALUES ('subject_salt', lower(hex(randomblob(32))));

-- One row per admitted job: its seconds are reserved before anything is sent to the API, then
-- committed on success or refunded on failure. Rows count against quotas through `subject`,
-- a keyed hash of the payer's id, so /forget (which clears user_id) cannot reset a quota. Rows
-- are deleted once the monthly window they belong to has ended.
CREATE TABLE quota_ledger (
    job_id     INTEGER PRIMARY KEY,
    subject    TEXT NOT NULL,
    user_id    INTEGER,  -- the paying user, for their totals; NULL once forgotten
    model      TEXT NOT NULL,
    seconds    REAL NOT NULL,
    -- declared: Telegram's duration; measured: read from the file; estimated: from its size
    basis      TEXT NOT NULL CHECK (basis IN ('declared', 'measured', 'estimated')),
    state      TEXT NOT NULL CHECK (state IN ('reserved', 'committed', 'refunded')),
    created_at TEXT NOT NULL,
    settled_at TEXT
);
CREATE INDEX quota_ledger_subject ON quota_ledger (subject, created_at);
CREATE INDEX quota_ledger_user ON quota_ledger (user_id) WHERE user_id IS NOT NULL;

-- Rules an admin set for a user, or for a chat (negative ids). They are the operator's, not
-- the user's data, so /forget keeps them: a banned user cannot unban themselves.
CREATE TABLE access_rules (
    subject_id      INTEGER PRIMARY KEY,
    daily_seconds   INTEGER,  -- NULL: QUOTA_DAILY_SECONDS applies; 0: unlimited
    monthly_seconds INTEGER,  -- NULL: QUOTA_MONTHLY_SECONDS applies; 0: unlimited
    banned          INTEGER NOT NULL DEFAULT 0,
    allowed         INTEGER,  -- NULL: the environment decides; 1: allowed; 0: denied
    updated_at      TEXT NOT NULL
);

-- When a user (or, in groups, a chat) was last told that the bot is not open to them.
CREATE TABLE access_notices (
    subject_id  INTEGER PRIMARY KEY,
    notified_at TEXT NOT NULL
);

CREATE TABLE group_settings (
    chat_id    INTEGER PRIMARY KEY,
    mode       TEXT NOT NULL CHECK (mode IN ('auto', 'mention', 'off')),
    updated_at TEXT NOT NULL
);

-- Transcript text only, keyed by the file's file_unique_id (stable across forwards and bots),
-- for CACHE_TTL_HOURS. No user is linked to an entry.
CREATE TABLE transcript_cache (
    file_unique_id TEXT NOT NULL,
    model          TEXT NOT NULL,
    language       TEXT NOT NULL,  -- '' for automatic detection
    text           TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    expires_at     TEXT NOT NULL,
    PRIMARY KEY (file_unique_id, model, language)
);
CREATE INDEX transcript_cache_expiry ON transcript_cache (expires_at);

-- Per-user totals by model; /forget deletes them.
CREATE TABLE user_totals (
    user_id INTEGER NOT NULL,
    model   TEXT NOT NULL,
    jobs    INTEGER NOT NULL DEFAULT 0,  -- transcribed through the API
    cached  INTEGER NOT NULL DEFAULT 0,  -- answered from the cache
    seconds REAL NOT NULL DEFAULT 0,     -- charged to the quota
    PRIMARY KEY (user_id, model)
);

-- Anonymous daily statistics by model (UTC days), for /stats.
CREATE TABLE usage_stats (
    day      TEXT NOT NULL,
    model    TEXT NOT NULL,
    jobs     INTEGER NOT NULL DEFAULT 0,  -- transcribed through the API
    failures INTEGER NOT NULL DEFAULT 0,  -- admitted, then failed (refunded)
    refused  INTEGER NOT NULL DEFAULT 0,  -- refused by quota or flood control
    cached   INTEGER NOT NULL DEFAULT 0,  -- answered from the cache
    seconds  REAL NOT NULL DEFAULT 0,     -- audio sent to the API and paid for
    PRIMARY KEY (day, model)
);
