-- What a fired deadline still owes ("owed": a report moved up: its leaders and its reporter are
-- told): recorded in the transaction that fires it, done right after in transactions of
-- their own, so that a burst of deadlines fires at once and its messages follow. A crash
-- in between leaves the rows here; the next sweep does them, once.
CREATE TABLE owed (
    id         INTEGER PRIMARY KEY,
    subject    TEXT    NOT NULL,
    subject_id INTEGER NOT NULL,
    kind       TEXT    NOT NULL,
    payload    TEXT    NOT NULL,           -- JSON, what the work needs to know
    created_at TEXT    NOT NULL,
    failures   INTEGER NOT NULL DEFAULT 0,
    retry_at   TEXT                        -- after a failure: not before then
);
CREATE INDEX owed_subject ON owed(subject, subject_id);

-- the facts change only with the state or the rating: a move up the chain (open to open)
-- recomputed them for nothing, a tenth of a burst of deadlines
DROP TRIGGER report_facts_on_change;
CREATE TRIGGER report_facts_on_change AFTER UPDATE OF state, rating ON reports
WHEN OLD.state IS NOT NEW.state OR OLD.rating IS NOT NEW.rating BEGIN
  INSERT OR REPLACE INTO report_facts
    SELECT * FROM report_facts_computed WHERE report_id = NEW.id;
END;
