-- Broadcasts (群发通知): one-off or recurring, each run delivered per chat with a report.

CREATE TABLE broadcasts (
    id           INTEGER PRIMARY KEY,           -- the broadcast's number, #id
    sender_id    INTEGER NOT NULL,
    node_id      INTEGER NOT NULL REFERENCES nodes(id),   -- goes to every bound chat below
    text         TEXT    NOT NULL,
    photo_file_id TEXT,
    repeat       TEXT    NOT NULL DEFAULT 'once'
                 CHECK (repeat IN ('once', 'daily', 'weekly', 'monthly')),
    at_time      TEXT,                          -- local HH:MM of a recurring broadcast
    weekdays     TEXT,                          -- weekly: "0,3" (Monday = 0)
    month_day    INTEGER,                       -- monthly: 1..31 (the last day in short months)
    next_at      TEXT,                          -- the next run (UTC); NULL once done
    state        TEXT    NOT NULL DEFAULT 'scheduled'
                 CHECK (state IN ('scheduled', 'done', 'cancelled')),
    created_at   TEXT    NOT NULL,
    updated_at   TEXT    NOT NULL
);
CREATE INDEX broadcasts_sender ON broadcasts(sender_id, state);

CREATE TABLE broadcast_runs (
    id           INTEGER PRIMARY KEY,
    broadcast_id INTEGER NOT NULL REFERENCES broadcasts(id),
    started_at   TEXT    NOT NULL,
    chats        INTEGER NOT NULL,
    reported_at  TEXT                            -- when the sender got the delivery report
);

CREATE TABLE broadcast_deliveries (
    run_id       INTEGER NOT NULL REFERENCES broadcast_runs(id),
    chat_id      INTEGER NOT NULL,
    status       TEXT    NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'sent', 'failed', 'unreachable')),
    error        TEXT,
    finished_at  TEXT,
    PRIMARY KEY (run_id, chat_id)
);
