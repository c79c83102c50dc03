-- Telegram Stars payments: purchased seconds of audio, spent after the free quota.

-- The key that signs invoice payloads (bot/policy/payments.py), made here, once; like the
-- subject salt it never leaves the database.
INSERT INTO app_meta (name, value) VALUES ('invoice_key', lower(hex(randomblob(32))));

-- One row per payment Telegram confirmed, keyed by its charge id: a successful_payment seen
-- again (a redelivery, a replay after a crash) finds the row and credits nothing. The law
-- requires payment records, so /forget keeps these rows.
-- Of `seconds` bought, `spent` were drawn by jobs (held by a reservation or charged) and
-- `revoked` were taken back by a refund (what was still unspent then); the rest is the balance.
CREATE TABLE star_payments (
    id          INTEGER PRIMARY KEY,
    charge_id   TEXT NOT NULL UNIQUE,  -- telegram_payment_charge_id
    user_id     INTEGER NOT NULL,
    stars       INTEGER NOT NULL,      -- total_amount in XTR
    seconds     REAL NOT NULL,         -- bought; 0 for a payment no invoice of ours explains
    spent       REAL NOT NULL DEFAULT 0,
    revoked     REAL NOT NULL DEFAULT 0,
    paid_at     TEXT NOT NULL,
    refunded_at TEXT,
    refunded_by TEXT CHECK (refunded_by IN ('admin', 'telegram')),
    CHECK (spent >= 0 AND revoked >= 0)
);
CREATE INDEX star_payments_user ON star_payments (user_id, id);

-- Bought seconds an open reservation holds, per payment drawn on (oldest payment first), so a
-- failed job gives back exactly what it took. Deleted once the job is charged.
CREATE TABLE balance_holds (
    job_id     INTEGER NOT NULL,
    payment_id INTEGER NOT NULL REFERENCES star_payments (id),
    seconds    REAL NOT NULL,
    PRIMARY KEY (job_id, payment_id)
);

-- The part of a reservation paid from bought seconds; only the rest counts against the free
-- daily and monthly quota.
ALTER TABLE quota_ledger ADD COLUMN paid_seconds REAL NOT NULL DEFAULT 0;
