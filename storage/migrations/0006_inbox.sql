-- Updates as Telegram delivered them, recorded before the next getUpdates confirms them
-- (or before a webhook request is answered), so a crash loses none and, handled once,
-- none is handled again when Telegram delivers it a second time.
CREATE TABLE updates (
    update_id   INTEGER PRIMARY KEY,
    payload     TEXT,                         -- the Update as JSON; dropped once handled
    status      TEXT NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'done')),
    received_at TEXT NOT NULL,
    done_at     TEXT
);
CREATE INDEX updates_waiting ON updates(update_id) WHERE status = 'new';
