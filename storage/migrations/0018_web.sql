-- The web dashboard's sign-ins. A one-time login link is stored as the hash of its token
-- (the token itself is only in the link), used once, within minutes. A Mini App's initData
-- is remembered by its hash so that a captured one cannot be replayed.
CREATE TABLE web_logins (
    token_hash  TEXT PRIMARY KEY,
    user_id     INTEGER NOT NULL,
    created_at  TEXT    NOT NULL,
    expires_at  TEXT    NOT NULL,
    used_at     TEXT
);
CREATE TABLE web_init_data_seen (
    data_hash   TEXT PRIMARY KEY,
    seen_at     TEXT    NOT NULL
);
