-- The whole bot's seconds per UTC day, for the daily budget (BUDGET_DAILY_SECONDS), kept by
-- triggers on the quota ledger: checking the budget reads one row instead of summing every
-- reservation of the day, which the bot does for each note. A ledger row counts on the day of
-- its created_at (its first ten characters: storage keeps UTC) unless it is refunded.
CREATE TABLE bot_day_usage (
    day     TEXT PRIMARY KEY,  -- YYYY-MM-DD, UTC
    seconds REAL NOT NULL
);
INSERT INTO bot_day_usage (day, seconds)
    SELECT substr(created_at, 1, 10), SUM(seconds) FROM quota_ledger
    WHERE state != 'refunded' GROUP BY substr(created_at, 1, 10);

CREATE TRIGGER bot_day_usage_insert AFTER INSERT ON quota_ledger
WHEN NEW.state != 'refunded'
BEGIN
    INSERT INTO bot_day_usage (day, seconds) VALUES (substr(NEW.created_at, 1, 10), NEW.seconds)
    ON CONFLICT (day) DO UPDATE SET seconds = seconds + excluded.seconds;
END;

CREATE TRIGGER bot_day_usage_update AFTER UPDATE OF seconds, state, created_at ON quota_ledger
BEGIN
    UPDATE bot_day_usage SET seconds = seconds - OLD.seconds
        WHERE OLD.state != 'refunded' AND day = substr(OLD.created_at, 1, 10);
    -- WHERE before ON CONFLICT: SQLite's rule for an upsert fed by a SELECT.
    INSERT INTO bot_day_usage (day, seconds)
        SELECT substr(NEW.created_at, 1, 10), NEW.seconds WHERE NEW.state != 'refunded'
    ON CONFLICT (day) DO UPDATE SET seconds = seconds + excluded.seconds;
END;

CREATE TRIGGER bot_day_usage_delete AFTER DELETE ON quota_ledger
WHEN OLD.state != 'refunded'
BEGIN
    UPDATE bot_day_usage SET seconds = seconds - OLD.seconds
        WHERE day = substr(OLD.created_at, 1, 10);
END;
