-- Leaders away, reports filed for residents without Telegram, common replies (issue 14,
-- items 5, 6 and 7).

-- A leader away: between starts_at and ends_at their new prompts go to the stand-in. One
-- setting per leader; ending it early sets ends_at to the moment it ended.
CREATE TABLE leader_away (
    user_id     INTEGER PRIMARY KEY,
    stand_in_id INTEGER NOT NULL,
    starts_at   TEXT    NOT NULL,
    ends_at     TEXT    NOT NULL,
    set_by      INTEGER NOT NULL,
    created_at  TEXT    NOT NULL
);
CREATE INDEX leader_away_stand_in ON leader_away(stand_in_id);

-- Who an action was taken for: a stand-in's action counts as the absent leader's.
ALTER TABLE report_events ADD COLUMN on_behalf_of INTEGER;
-- The per-leader facts (migration 0020) credit it so: the same view, its acknowledged and
-- resolved rows keyed by the absent leader when a stand-in acted, its rated and satisfied
-- rows by the one the last resolution counts for (the trigger reads the view by name).
DROP VIEW report_leader_facts_computed;
CREATE VIEW report_leader_facts_computed AS
SELECT r.created_at, e.id AS event_id, 'reached' AS kind, e.report_id, r.node_id,
       e.node_id AS key, NULL AS seconds
  FROM report_events e JOIN reports r ON r.id = e.report_id
  WHERE e.action IN ('filed', 'escalated', 'reassigned', 'recategorised')
UNION ALL
SELECT r.created_at, e.id, 'missed', e.report_id, r.node_id,
       CASE WHEN e.action = 'overdue' THEN e.node_id ELSE
         (SELECT p.node_id FROM report_events p WHERE p.report_id = e.report_id AND p.id < e.id
          ORDER BY p.id DESC LIMIT 1) END, NULL
  FROM report_events e JOIN reports r ON r.id = e.report_id
  WHERE e.action IN ('escalated', 'overdue') AND e.note LIKE 'missed:%'
UNION ALL
SELECT r.created_at, e.id, e.action, e.report_id, r.node_id,
       coalesce(e.on_behalf_of, e.actor_id),
       CASE WHEN e.action = 'acknowledged' THEN
         (julianday(e.at) - julianday((SELECT p.at FROM report_events p
            WHERE p.report_id = e.report_id AND p.id < e.id
              AND p.action IN ('filed', 'escalated', 'reassigned', 'recategorised', 'reopened')
            ORDER BY p.id DESC LIMIT 1))) * 86400.0 END
  FROM report_events e JOIN reports r ON r.id = e.report_id
  WHERE e.action IN ('acknowledged', 'resolved') AND e.actor_id IS NOT NULL
UNION ALL
SELECT r.created_at, e.id, k.kind, e.report_id, r.node_id,
       (SELECT coalesce(p.on_behalf_of, p.actor_id) FROM report_events p
          WHERE p.report_id = e.report_id AND p.id < e.id
          AND p.action = 'resolved' ORDER BY p.id DESC LIMIT 1), NULL
  FROM report_events e JOIN reports r ON r.id = e.report_id
  JOIN (SELECT 'rated' AS kind UNION ALL SELECT 'satisfied') k
    ON k.kind = 'rated' OR e.note IN ('satisfied', 'acceptable')
  WHERE e.action = 'rated' AND e.note IN ('satisfied', 'acceptable', 'unsatisfied');

-- A report a leader filed for a resident without Telegram: the leader is asked the rating
-- (a phone call-back). And the photo a leader sent as proof with the resolution note.
ALTER TABLE reports ADD COLUMN filed_by INTEGER;
ALTER TABLE reports ADD COLUMN resolution_photo TEXT;
CREATE INDEX reports_filed_for ON reports(created_at) WHERE filed_by IS NOT NULL;

-- A resident without Telegram may be known by a phone number only.
ALTER TABLE residents ADD COLUMN phone TEXT;

-- Resolution notes a leader saved for reuse, per category.
CREATE TABLE saved_replies (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL,
    category   TEXT    NOT NULL,
    text       TEXT    NOT NULL,
    created_at TEXT    NOT NULL,
    UNIQUE (user_id, category, text)
);
