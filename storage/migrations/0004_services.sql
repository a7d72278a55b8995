-- Services and care (服务暖邻): volunteers, help requests, the care list and its visits.

CREATE TABLE volunteers (
    user_id    INTEGER PRIMARY KEY,
    node_id    INTEGER NOT NULL REFERENCES nodes(id),   -- where the volunteer lives
    hours      TEXT,                                    -- when they are usually free (free text)
    state      TEXT    NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'paused', 'left')),
    created_at TEXT    NOT NULL,
    updated_at TEXT    NOT NULL
);

CREATE TABLE volunteer_skills (
    user_id INTEGER NOT NULL REFERENCES volunteers(user_id) ON DELETE CASCADE,
    skill   TEXT    NOT NULL,   -- legal, health, repair, housekeeping, companionship
    PRIMARY KEY (skill, user_id)
);

CREATE TABLE help_requests (
    id             INTEGER PRIMARY KEY,                  -- the request's number, #id
    requester_id   INTEGER NOT NULL,
    node_id        INTEGER NOT NULL REFERENCES nodes(id),
    skill          TEXT    NOT NULL,
    text           TEXT    NOT NULL,
    state          TEXT    NOT NULL DEFAULT 'open'
                   CHECK (state IN ('open', 'accepted', 'handed_over', 'done', 'cancelled')),
    volunteer_id   INTEGER,
    consent        INTEGER NOT NULL DEFAULT 0,           -- the requester agreed to share contact
    requester_done INTEGER NOT NULL DEFAULT 0,
    volunteer_done INTEGER NOT NULL DEFAULT 0,
    created_at     TEXT    NOT NULL,
    accepted_at    TEXT,
    done_at        TEXT,
    updated_at     TEXT    NOT NULL
);
CREATE INDEX help_requests_requester ON help_requests(requester_id, id);
CREATE INDEX help_requests_created ON help_requests(created_at);

-- Who was offered a request; the offers not taken are withdrawn (their message edited).
CREATE TABLE help_offers (
    request_id   INTEGER NOT NULL REFERENCES help_requests(id),
    volunteer_id INTEGER NOT NULL,
    rank         INTEGER NOT NULL,                       -- 0: nearest
    state        TEXT    NOT NULL DEFAULT 'offered'
                 CHECK (state IN ('offered', 'accepted', 'withdrawn', 'declined')),
    PRIMARY KEY (request_id, volunteer_id)
);

-- The care list (leaders only): residents visited on a cadence.
CREATE TABLE care_entries (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL,                        -- the resident cared for
    node_id     INTEGER NOT NULL REFERENCES nodes(id),
    kind        TEXT    NOT NULL CHECK (kind IN ('elderly_alone', 'disabled', 'low_income')),
    cadence_s   INTEGER NOT NULL CHECK (cadence_s > 0),
    note        TEXT,
    active      INTEGER NOT NULL DEFAULT 1,
    next_due_at TEXT    NOT NULL,
    created_by  INTEGER NOT NULL,
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL,
    UNIQUE (user_id, kind)
);
CREATE INDEX care_entries_node ON care_entries(node_id);

-- One row per visit due; checked in (done) with a note, or escalated when overdue.
CREATE TABLE care_visits (
    id          INTEGER PRIMARY KEY,
    entry_id    INTEGER NOT NULL REFERENCES care_entries(id),
    node_id     INTEGER NOT NULL,                        -- the resident's node when it fell due
    due_at      TEXT    NOT NULL,
    state       TEXT    NOT NULL DEFAULT 'due' CHECK (state IN ('due', 'done', 'cancelled')),
    escalations INTEGER NOT NULL DEFAULT 0,
    rung_node_id INTEGER NOT NULL,                       -- who is asked now (grid, then up)
    visited_by  INTEGER,
    visited_at  TEXT,
    note        TEXT,
    UNIQUE (entry_id, due_at)
);
CREATE INDEX care_visits_due ON care_visits(due_at);

-- The assessment reads the report log by period.
CREATE INDEX report_events_report_action ON report_events(report_id, action, at);
