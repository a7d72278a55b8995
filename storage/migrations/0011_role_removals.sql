-- Someone stopped being a leader of a node (the org file, `linli org import --prune`,
-- /remove_leader) or a member of a partner (a re-import without them). Kept as the log
-- of the change; a deadline of subject 'role_removal' on the row hands on the reports
-- they held, in the running bot, whichever process made the change.
CREATE TABLE role_removals (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL,
    node_id    INTEGER,           -- a leader's node
    partner_id INTEGER,           -- or the partner they belonged to
    name       TEXT,
    source     TEXT    NOT NULL CHECK (source IN ('file', 'prune', 'command')),
    removed_by INTEGER,
    removed_at TEXT    NOT NULL,
    CHECK ((node_id IS NULL) <> (partner_id IS NULL))
);
CREATE INDEX role_removals_user ON role_removals(user_id);
