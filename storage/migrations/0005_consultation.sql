-- Consultation (恳谈会): proposals, topic polls, meetings, decisions tracked to the end.

CREATE TABLE proposals (
    id             INTEGER PRIMARY KEY,          -- the topic's number, #id
    node_id        INTEGER NOT NULL REFERENCES nodes(id),   -- the proposer's home node
    proposer_id    INTEGER NOT NULL,
    text           TEXT    NOT NULL,
    state          TEXT    NOT NULL DEFAULT 'open'
                   CHECK (state IN ('open', 'merged', 'declined', 'polled')),
    merged_into    INTEGER REFERENCES proposals(id),
    decline_reason TEXT,
    source_chat_id INTEGER,
    created_at     TEXT    NOT NULL,
    updated_at     TEXT    NOT NULL
);
CREATE INDEX proposals_node ON proposals(node_id, state);

-- +1 from residents: once each (the proposer counts as a supporter).
CREATE TABLE proposal_supports (
    proposal_id INTEGER NOT NULL REFERENCES proposals(id),
    user_id     INTEGER NOT NULL,
    created_at  TEXT    NOT NULL,
    PRIMARY KEY (proposal_id, user_id)
);

-- A Telegram poll over 2–12 proposals, posted in a bound chat; closed by a deadline.
CREATE TABLE topic_polls (
    id          INTEGER PRIMARY KEY,
    node_id     INTEGER NOT NULL REFERENCES nodes(id),  -- the scope: only its residents count
    chat_id     INTEGER NOT NULL,
    thread_id   INTEGER,
    created_by  INTEGER NOT NULL,
    closes_at   TEXT    NOT NULL,
    state       TEXT    NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'closed')),
    tg_poll_id  TEXT    UNIQUE,                  -- Telegram's poll id, once it is posted
    message_id  INTEGER,                         -- the poll message in chat_id
    created_at  TEXT    NOT NULL,
    closed_at   TEXT
);

CREATE TABLE topic_poll_options (
    poll_id     INTEGER NOT NULL REFERENCES topic_polls(id),
    position    INTEGER NOT NULL,                -- Telegram's option id
    proposal_id INTEGER NOT NULL REFERENCES proposals(id),
    PRIMARY KEY (poll_id, position)
);

-- The latest answer of each voter (a changed vote replaces it, a retracted one empties it).
CREATE TABLE topic_poll_votes (
    poll_id    INTEGER NOT NULL REFERENCES topic_polls(id),
    user_id    INTEGER NOT NULL,
    option_ids TEXT    NOT NULL,                 -- JSON list of positions
    counted    INTEGER NOT NULL,                 -- 1: a resident of the scope
    updated_at TEXT    NOT NULL,
    PRIMARY KEY (poll_id, user_id)
);

CREATE TABLE meetings (
    id         INTEGER PRIMARY KEY,              -- the meeting's number, #id
    node_id    INTEGER NOT NULL REFERENCES nodes(id),
    chat_id    INTEGER NOT NULL,
    thread_id  INTEGER,                          -- its forum topic, once opened
    poll_id    INTEGER REFERENCES topic_polls(id),
    created_by INTEGER NOT NULL,
    title      TEXT    NOT NULL,
    place      TEXT    NOT NULL,
    starts_at  TEXT    NOT NULL,
    state      TEXT    NOT NULL DEFAULT 'scheduled'
               CHECK (state IN ('scheduled', 'decided', 'completed')),
    created_at TEXT    NOT NULL
);

CREATE TABLE meeting_agenda (
    meeting_id  INTEGER NOT NULL REFERENCES meetings(id),
    position    INTEGER NOT NULL,                -- 1, 2, ... as shown
    proposal_id INTEGER REFERENCES proposals(id),
    text        TEXT    NOT NULL,
    PRIMARY KEY (meeting_id, position)
);

CREATE TABLE meeting_rsvps (
    meeting_id INTEGER NOT NULL REFERENCES meetings(id),
    user_id    INTEGER NOT NULL,
    answer     TEXT    NOT NULL CHECK (answer IN ('going', 'maybe', 'no')),
    updated_at TEXT    NOT NULL,
    PRIMARY KEY (meeting_id, user_id)
);

-- A decision of a meeting, followed up until done; escalates up the chain like a report.
CREATE TABLE decisions (
    id           INTEGER PRIMARY KEY,            -- the decision's number, #id
    meeting_id   INTEGER NOT NULL REFERENCES meetings(id),
    position     INTEGER NOT NULL,               -- the agenda item it answers
    text         TEXT    NOT NULL,
    owner_id     INTEGER NOT NULL,               -- the leader or partner member in charge
    partner_id   INTEGER REFERENCES partners(id),
    rung_node_id INTEGER NOT NULL REFERENCES nodes(id),  -- whose chain follows it up now
    due_at       TEXT    NOT NULL,
    state        TEXT    NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'done')),
    escalations  INTEGER NOT NULL DEFAULT 0,
    overdue      INTEGER NOT NULL DEFAULT 0,
    done_note    TEXT,
    done_by      INTEGER,
    done_at      TEXT,
    created_at   TEXT    NOT NULL
);
CREATE INDEX decisions_meeting ON decisions(meeting_id, position);
