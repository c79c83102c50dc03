-- Per-user choices: model, language (NULL = detect), and output options.
CREATE TABLE user_settings (
    user_id       INTEGER PRIMARY KEY,
    model         TEXT,
    language      TEXT,
    timestamps    INTEGER NOT NULL DEFAULT 0,
    speakers      INTEGER NOT NULL DEFAULT 0,
    attach        TEXT,
    show_language INTEGER NOT NULL DEFAULT 0,
    updated_at    TEXT NOT NULL
);
