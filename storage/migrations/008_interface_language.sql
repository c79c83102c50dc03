-- The interface language (bot/policy/interface_language.py): the user's choice in /settings,
-- a group's (set by its administrators), and the one each job answers in.

-- NULL: follow the language of the user's Telegram app.
ALTER TABLE user_settings ADD COLUMN interface_language TEXT;

-- Groups whose administrators chose the language the bot answers in; without a row, the bot
-- answers each member in their own. Its own table rather than a column of group_settings,
-- whose mode a group that only chose a language has not chosen.
CREATE TABLE group_languages (
    chat_id    INTEGER PRIMARY KEY,
    language   TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- The language a job's messages are in (status, transcript captions and buttons, failures),
-- fixed when it is accepted, so a delivery replanned after a restart says the same thing.
-- NULL for jobs accepted before this migration: they answer in English, as they would have.
ALTER TABLE jobs ADD COLUMN locale TEXT;
