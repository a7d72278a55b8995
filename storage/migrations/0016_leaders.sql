-- Leaders work in their own words (issue 14).
-- Residents by name: the name the org file gives ([[residents]] name = "..."), and residents
-- without Telegram, put on the care list by a leader with name and unit only: they get a
-- negative user id (never a Telegram user; nothing is ever sent to it) and source 'leader'.
-- SQLite cannot widen a CHECK in place: the table is rebuilt, its triggers with it.
CREATE TABLE residents_new (
    user_id    INTEGER PRIMARY KEY,
    node_id    INTEGER NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,
    unit       TEXT,
    source     TEXT    NOT NULL CHECK (source IN ('file', 'join', 'leader')),
    created_at TEXT    NOT NULL,
    updated_at TEXT    NOT NULL,
    name       TEXT
);
INSERT INTO residents_new(user_id, node_id, unit, source, created_at, updated_at)
    SELECT user_id, node_id, unit, source, created_at, updated_at FROM residents;
DROP TABLE residents;
ALTER TABLE residents_new RENAME TO residents;
CREATE INDEX residents_node ON residents(node_id);
CREATE INDEX residents_name ON residents(node_id, name);
CREATE TRIGGER residents_i AFTER INSERT ON residents BEGIN UPDATE residents_version SET version = version + 1; END;
CREATE TRIGGER residents_u AFTER UPDATE ON residents BEGIN UPDATE residents_version SET version = version + 1; END;
CREATE TRIGGER residents_d AFTER DELETE ON residents BEGIN UPDATE residents_version SET version = version + 1; END;
