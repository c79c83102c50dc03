-- The bot-wide spend ceiling, the API's reported cost per job, and the health probe's row.

-- What the API reported a job cost (its x-aimlapi-credits-used and x-aimlapi-usd-spent
-- headers, summed over the job's requests); NULL when it reported nothing (the local engine,
-- or an API that sends no such header).
ALTER TABLE quota_ledger ADD COLUMN api_credits REAL;
ALTER TABLE quota_ledger ADD COLUMN api_usd REAL;

-- The ceiling (BUDGET_DAILY_SECONDS) sums every payer's seconds since the start of the UTC day,
-- inside the reservation's own transaction.
CREATE INDEX quota_ledger_created ON quota_ledger (created_at);

-- One row per UTC day on which the ceiling was reached: the admins are told once that day.
CREATE TABLE budget_alerts (
    day     TEXT PRIMARY KEY,
    sent_at TEXT NOT NULL
);

-- /healthz proves the database writable by updating this one row.
CREATE TABLE heartbeat (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    beat_at TEXT NOT NULL
);
INSERT INTO heartbeat (id, beat_at) VALUES (1, '');
