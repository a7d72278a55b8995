-- Working-time deadlines and residents' personal information (issue 18).
-- A deadline counted in working time that a holiday pushed later keeps the holidays'
-- names ("国庆节、中秋节"), so a card can say 「遇国庆假期顺延至 10月9日」.
ALTER TABLE deadlines ADD COLUMN deferred_by TEXT;

-- A resident's consent: to being registered (purpose 'join', after the notice /join shows)
-- and to being on the care list ('care': sensitive, asked separately). ``how``: the
-- resident pressed 同意 ('pressed'), or a leader recorded it given in person ('in_person').
CREATE TABLE consents (
    user_id     INTEGER NOT NULL,
    purpose     TEXT    NOT NULL CHECK (purpose IN ('join', 'care')),
    how         TEXT    NOT NULL CHECK (how IN ('pressed', 'in_person')),
    recorded_by INTEGER NOT NULL,
    given_at    TEXT    NOT NULL,
    PRIMARY KEY (user_id, purpose)
);
-- Residents who used /forget: what they left (reports, votes, RSVPs) carries -(10^15 + id)
-- instead of their Telegram id, one number per person, linked to nobody.
CREATE TABLE forgotten (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL
);
-- Retention: when a closed report lost its photo and when its text (storage/privacy.py).
ALTER TABLE reports ADD COLUMN media_removed_at TEXT;
ALTER TABLE reports ADD COLUMN text_removed_at TEXT;
-- A care entry records the resident's consent (consents, purpose 'care').
ALTER TABLE care_entries ADD COLUMN consent TEXT CHECK (consent IN ('pressed', 'in_person'));
-- The history stays append-only, except that personal words may be blanked: a note (or who
-- did it) may become NULL or a forgotten resident's pseudonym (/forget, retention).
DROP TRIGGER report_events_append_only_u;
CREATE TRIGGER report_events_append_only_u BEFORE UPDATE ON report_events
WHEN NEW.id IS NOT OLD.id OR NEW.report_id IS NOT OLD.report_id OR NEW.at IS NOT OLD.at
  OR NEW.action IS NOT OLD.action OR NEW.from_state IS NOT OLD.from_state
  OR NEW.to_state IS NOT OLD.to_state OR NEW.node_id IS NOT OLD.node_id
  OR (NEW.note IS NOT OLD.note AND NEW.note IS NOT NULL)
  OR (NEW.actor_id IS NOT OLD.actor_id AND NEW.actor_id > -1000000000000000)
BEGIN SELECT RAISE(ABORT, 'report_events is append-only'); END;
