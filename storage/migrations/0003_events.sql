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

-- Community events (社区活动) with RSVPs, a waiting list, reminders and recurrence.
CREATE TABLE events (
    id          INTEGER PRIMARY KEY,             -- the event's number, #id
    creator_id  INTEGER NOT NULL,
    node_id     INTEGER NOT NULL REFERENCES nodes(id),   -- announced to every bound chat below
    title       TEXT    NOT NULL,
    description TEXT,
    place       TEXT    NOT NULL,
    starts_at   TEXT    NOT NULL,
    ends_at     TEXT    NOT NULL,
    capacity    INTEGER,                         -- NULL: no limit
    recurrence  TEXT    NOT NULL DEFAULT 'none' CHECK (recurrence IN ('none', 'weekly', 'monthly')),
    previous_id INTEGER REFERENCES events(id),   -- the occurrence this one follows
    state       TEXT    NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'cancelled')),
    shown       TEXT,                            -- the counts line last put on the posts
    edit_after  TEXT,                            -- the posts' next edit goes out no sooner
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL
);
CREATE INDEX events_upcoming ON events(state, starts_at);

CREATE TABLE event_rsvps (
    event_id   INTEGER NOT NULL REFERENCES events(id),
    user_id    INTEGER NOT NULL,
    answer     TEXT    NOT NULL CHECK (answer IN ('going', 'maybe', 'no', 'waiting')),
    seq        INTEGER NOT NULL,                 -- order of arrival: the waiting list's order
    updated_at TEXT    NOT NULL,
    PRIMARY KEY (event_id, user_id)
);

-- Holiday drafts offered to leaders (once per holiday, year and leader).
CREATE TABLE holiday_offers (
    holiday    TEXT    NOT NULL,
    year       INTEGER NOT NULL,
    user_id    INTEGER NOT NULL,
    offered_at TEXT    NOT NULL,
    PRIMARY KEY (holiday, year, user_id)
);

-- 最美家庭: nominations by residents, one vote per resident of the scope, a results post.
CREATE TABLE family_selections (
    id          INTEGER PRIMARY KEY,
    creator_id  INTEGER NOT NULL,
    node_id     INTEGER NOT NULL REFERENCES nodes(id),
    title       TEXT    NOT NULL,
    state       TEXT    NOT NULL DEFAULT 'nominating'
                CHECK (state IN ('nominating', 'voting', 'closed')),
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL
);

CREATE TABLE family_nominations (
    id           INTEGER PRIMARY KEY,
    selection_id INTEGER NOT NULL REFERENCES family_selections(id),
    nominator_id INTEGER NOT NULL,
    household    TEXT    NOT NULL,
    reason       TEXT    NOT NULL,
    created_at   TEXT    NOT NULL,
    UNIQUE (selection_id, nominator_id)           -- one nomination per resident
);

CREATE TABLE family_votes (
    selection_id  INTEGER NOT NULL REFERENCES family_selections(id),
    voter_id      INTEGER NOT NULL,
    nomination_id INTEGER NOT NULL REFERENCES family_nominations(id),
    voted_at      TEXT    NOT NULL,
    PRIMARY KEY (selection_id, voter_id)          -- one vote per resident
);
