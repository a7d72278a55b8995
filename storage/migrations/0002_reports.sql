-- Reports (诉求) climbing the leader chain, their event log, and deadlines.

CREATE TABLE reports (
    id              INTEGER PRIMARY KEY,         -- the report's number, #id
    reporter_id     INTEGER NOT NULL,
    node_id         INTEGER NOT NULL REFERENCES nodes(id),   -- where the reporter lives
    category        TEXT    NOT NULL,
    text            TEXT    NOT NULL,
    photo_file_id   TEXT,
    latitude        REAL,
    longitude       REAL,
    source_chat_id  INTEGER,                     -- where it was filed
    state           TEXT    NOT NULL DEFAULT 'open'
                    CHECK (state IN ('open', 'acknowledged', 'resolved', 'reopened', 'closed')),
    rung_node_id    INTEGER NOT NULL REFERENCES nodes(id),   -- the level handling it now
    partner_id      INTEGER REFERENCES partners(id),         -- set while a partner handles it
    owner_id        INTEGER,                     -- the handler who acknowledged it
    version         INTEGER NOT NULL DEFAULT 1,  -- bumps on every change; buttons carry it
    unsatisfied     INTEGER NOT NULL DEFAULT 0,  -- "unsatisfied" ratings so far
    overdue         INTEGER NOT NULL DEFAULT 0,  -- flagged 超期 at the top of the chain
    rating          TEXT CHECK (rating IN ('satisfied', 'acceptable', 'unsatisfied', 'unrated')),
    resolution      TEXT,
    created_at      TEXT    NOT NULL,
    rung_since      TEXT    NOT NULL,            -- when it reached the current level
    acknowledged_at TEXT,
    resolved_at     TEXT,
    closed_at       TEXT,
    updated_at      TEXT    NOT NULL
);
CREATE INDEX reports_reporter ON reports(reporter_id, id);
CREATE INDEX reports_rung ON reports(rung_node_id, state);
CREATE INDEX reports_open ON reports(state) WHERE state != 'closed';
CREATE INDEX reports_created ON reports(created_at);

-- Append-only: who did what to a report, when.
CREATE TABLE report_events (
    id         INTEGER PRIMARY KEY,
    report_id  INTEGER NOT NULL REFERENCES reports(id),
    at         TEXT    NOT NULL,
    actor_id   INTEGER,                          -- NULL: the bot itself (a deadline)
    action     TEXT    NOT NULL,                 -- filed, acknowledged, resolved, escalated, ...
    from_state TEXT,
    to_state   TEXT,
    node_id    INTEGER,                          -- the level handling it after the event
    note       TEXT
);
CREATE INDEX report_events_report ON report_events(report_id, id);
CREATE INDEX report_events_action ON report_events(action, at);
CREATE TRIGGER report_events_append_only_u BEFORE UPDATE ON report_events
BEGIN SELECT RAISE(ABORT, 'report_events is append-only'); END;
CREATE TRIGGER report_events_append_only_d BEFORE DELETE ON report_events
BEGIN SELECT RAISE(ABORT, 'report_events is append-only'); END;

-- Every deadline of every feature. The scheduler is only an alarm clock: this
-- table is the truth, and a deadline is claimed (armed → fired) before acting.
CREATE TABLE deadlines (
    id         INTEGER PRIMARY KEY,
    subject    TEXT    NOT NULL,                 -- report, follow_up, care_visit, ...
    subject_id INTEGER NOT NULL,
    kind       TEXT    NOT NULL,                 -- acknowledge, resolve, rating, digest, ...
    due_at     TEXT    NOT NULL,
    state      TEXT    NOT NULL DEFAULT 'armed' CHECK (state IN ('armed', 'fired', 'cancelled')),
    created_at TEXT    NOT NULL,
    fired_at   TEXT
);
CREATE INDEX deadlines_due ON deadlines(due_at) WHERE state = 'armed';
CREATE INDEX deadlines_subject ON deadlines(subject, subject_id, state);
