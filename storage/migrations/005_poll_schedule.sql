-- What the STT poll schedule has learnt (bot/stt/schedule.py): a JSON snapshot of the recent
-- jobs of each model, saved now and then and at shutdown, loaded at start, so a restart polls
-- as well as the process before it. One row per schedule; the bot has one, named 'aiml'.
CREATE TABLE poll_schedule (
    name       TEXT PRIMARY KEY,
    state      TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
