-- Foundation: organisation, users, chats, invites, the notification outbox.
-- Timestamps are UTC, ISO-8601 text ending in 'Z' (see storage/timeutil.py).

CREATE TABLE nodes (
    id         INTEGER PRIMARY KEY,
    key        TEXT    NOT NULL UNIQUE,
    name       TEXT    NOT NULL,
    level      TEXT    NOT NULL,
    parent_id  INTEGER REFERENCES nodes(id) ON DELETE RESTRICT,
    created_at TEXT    NOT NULL,
    updated_at TEXT    NOT NULL
);
CREATE INDEX nodes_parent ON nodes(parent_id);

-- Everyone the bot has met; language and reachability in private chat.
CREATE TABLE users (
    user_id       INTEGER PRIMARY KEY,
    first_name    TEXT,
    last_name     TEXT,
    username      TEXT,
    language_code TEXT,                      -- as Telegram reports it
    language      TEXT,                      -- the user's /lang choice
    started       INTEGER NOT NULL DEFAULT 0, -- has opened a private chat with the bot
    unreachable   INTEGER NOT NULL DEFAULT 0, -- 403 in private: never started or blocked
    updated_at    TEXT    NOT NULL
);

CREATE TABLE leaders (
    id         INTEGER PRIMARY KEY,
    node_id    INTEGER NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL,
    name       TEXT,
    source     TEXT    NOT NULL CHECK (source IN ('file', 'invite')),
    created_at TEXT    NOT NULL,
    UNIQUE (node_id, user_id)
);
CREATE INDEX leaders_user ON leaders(user_id);

CREATE TABLE partners (
    id         INTEGER PRIMARY KEY,
    node_id    INTEGER NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,
    kind       TEXT    NOT NULL CHECK (kind IN ('property', 'owners_committee')),
    name       TEXT    NOT NULL,
    categories TEXT    NOT NULL DEFAULT '[]',   -- JSON list of report categories
    created_at TEXT    NOT NULL,
    UNIQUE (node_id, kind)
);

CREATE TABLE partner_members (
    partner_id INTEGER NOT NULL REFERENCES partners(id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL,
    PRIMARY KEY (partner_id, user_id)
);
CREATE INDEX partner_members_user ON partner_members(user_id);

CREATE TABLE residents (
    user_id    INTEGER PRIMARY KEY,
    node_id    INTEGER NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,
    unit       TEXT,
    source     TEXT    NOT NULL CHECK (source IN ('file', 'join')),
    created_at TEXT    NOT NULL,
    updated_at TEXT    NOT NULL
);
CREATE INDEX residents_node ON residents(node_id);

-- Group chats the bot is in, and the node each is bound to.
CREATE TABLE chats (
    chat_id    INTEGER PRIMARY KEY,
    node_id    INTEGER REFERENCES nodes(id) ON DELETE SET NULL,
    title      TEXT,
    type       TEXT,
    is_forum   INTEGER NOT NULL DEFAULT 0,
    active     INTEGER NOT NULL DEFAULT 1,   -- 0 once the bot was removed
    bound_by   INTEGER,
    bound_at   TEXT,
    updated_at TEXT    NOT NULL
);
CREATE INDEX chats_node ON chats(node_id);

CREATE TABLE invites (
    token      TEXT    PRIMARY KEY,
    node_id    INTEGER NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,
    role       TEXT    NOT NULL,
    created_by INTEGER NOT NULL,
    created_at TEXT    NOT NULL,
    expires_at TEXT    NOT NULL,
    used_by    INTEGER,
    used_at    TEXT
);

-- Questions the bot asked a user, awaiting the answer (guided flows, drafts).
CREATE TABLE pending_inputs (
    user_id    INTEGER NOT NULL,
    kind       TEXT    NOT NULL,
    chat_id    INTEGER NOT NULL,                 -- where the answer is expected
    payload    TEXT    NOT NULL DEFAULT '{}',
    asked_at   TEXT    NOT NULL,
    expires_at TEXT    NOT NULL,
    PRIMARY KEY (user_id, kind)
);

-- Every message the bot sends is recorded here first (transactional outbox).
CREATE TABLE outbox (
    id          INTEGER PRIMARY KEY,
    dedup_key   TEXT    UNIQUE,               -- the same notification is never queued twice
    chat_id     INTEGER NOT NULL,
    method      TEXT    NOT NULL,             -- send_message, send_photo, edit_message_text, ...
    payload     TEXT    NOT NULL,             -- JSON arguments
    fallback    TEXT,                         -- JSON: a message to queue if chat_id is unreachable
    ref         TEXT,                         -- domain reference, e.g. report:12:prompt
    status      TEXT    NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'unreachable')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    not_before  TEXT    NOT NULL,
    created_at  TEXT    NOT NULL,
    sent_at     TEXT,
    message_ids TEXT,                          -- JSON list: the messages it became
    error       TEXT
);
CREATE INDEX outbox_due ON outbox(status, not_before) WHERE status IN ('pending', 'sending');
CREATE INDEX outbox_ref ON outbox(ref) WHERE ref IS NOT NULL;

-- Bumped by every change to the organisation (from any process), so the bot's
-- in-memory copy of the tree knows when to reload.
CREATE TABLE org_version (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL);
INSERT INTO org_version VALUES (1, 0);
CREATE TRIGGER nodes_i AFTER INSERT ON nodes BEGIN UPDATE org_version SET version = version + 1; END;
CREATE TRIGGER nodes_u AFTER UPDATE ON nodes BEGIN UPDATE org_version SET version = version + 1; END;
CREATE TRIGGER nodes_d AFTER DELETE ON nodes BEGIN UPDATE org_version SET version = version + 1; END;
CREATE TRIGGER leaders_i AFTER INSERT ON leaders BEGIN UPDATE org_version SET version = version + 1; END;
CREATE TRIGGER leaders_u AFTER UPDATE ON leaders BEGIN UPDATE org_version SET version = version + 1; END;
CREATE TRIGGER leaders_d AFTER DELETE ON leaders BEGIN UPDATE org_version SET version = version + 1; END;
CREATE TRIGGER partners_i AFTER INSERT ON partners BEGIN UPDATE org_version SET version = version + 1; END;
CREATE TRIGGER partners_u AFTER UPDATE ON partners BEGIN UPDATE org_version SET version = version + 1; END;
CREATE TRIGGER partners_d AFTER DELETE ON partners BEGIN UPDATE org_version SET version = version + 1; END;
CREATE TRIGGER partner_members_i AFTER INSERT ON partner_members BEGIN UPDATE org_version SET version = version + 1; END;
CREATE TRIGGER partner_members_d AFTER DELETE ON partner_members BEGIN UPDATE org_version SET version = version + 1; END;
CREATE TRIGGER chats_i AFTER INSERT ON chats BEGIN UPDATE org_version SET version = version + 1; END;
CREATE TRIGGER chats_u AFTER UPDATE ON chats BEGIN UPDATE org_version SET version = version + 1; END;
CREATE TRIGGER chats_d AFTER DELETE ON chats BEGIN UPDATE org_version SET version = version + 1; END;
