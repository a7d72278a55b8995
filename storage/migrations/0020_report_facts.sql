-- What the assessment reads, kept current with every report event (triggers, in the same
-- transaction as the change), so that /stats, the desk and the monthly report read a few
-- indexed rows per report instead of each report's whole event log. The facts are exactly
-- what storage/stats.py computed from the log before; tests/test_stats.py compares the
-- two on random histories.

-- one row per report: its figures
-- clustered by filing time: a period's rows lie together, read in one sequential range
CREATE TABLE report_facts (
    created_at         TEXT    NOT NULL,
    report_id          INTEGER NOT NULL UNIQUE REFERENCES reports(id),
    node_id            INTEGER NOT NULL,   -- where the reporter lives (the scope)
    state              TEXT    NOT NULL,
    rating             TEXT,
    acknowledge_s      REAL,               -- to the first acknowledgement (or resolution)
    resolve_s          REAL,               -- to the last resolution
    resolved_level     TEXT,               -- the level that resolved it last
    missed_acknowledge INTEGER NOT NULL,
    missed             INTEGER NOT NULL,   -- any deadline missed (超期)
    flagged            INTEGER NOT NULL,   -- flagged at the top of the chain
    PRIMARY KEY (created_at, report_id)
) WITHOUT ROWID;

-- per event: what it counts for a node or a leader: reached, missed (a node); acknowledged
-- (with the seconds since the report reached that rung), resolved, rated and satisfied (the
-- leader who resolved it last)
CREATE TABLE report_leader_facts (
    created_at TEXT    NOT NULL,           -- the report's
    event_id   INTEGER NOT NULL,
    kind       TEXT    NOT NULL,
    report_id  INTEGER NOT NULL,
    node_id    INTEGER NOT NULL,           -- the report's reporter node (the scope)
    key        INTEGER,                    -- a node (reached, missed) or a user
    seconds    REAL,                       -- acknowledged: since the report reached the rung
    PRIMARY KEY (created_at, event_id, kind),
    UNIQUE (event_id, kind)
) WITHOUT ROWID;

CREATE VIEW report_facts_computed AS
SELECT r.created_at, r.id AS report_id, r.node_id, r.state, r.rating,
  (julianday(min(CASE WHEN e.action IN ('acknowledged', 'resolved') THEN e.at END))
     - julianday(r.created_at)) * 86400.0 AS acknowledge_s,
  (julianday(max(CASE WHEN e.action = 'resolved' THEN e.at END))
     - julianday(r.created_at)) * 86400.0 AS resolve_s,
  CASE WHEN r.state IN ('resolved', 'closed') THEN
    (SELECT n.level FROM report_events x JOIN nodes n ON n.id = x.node_id
     WHERE x.report_id = r.id AND x.action = 'resolved' ORDER BY x.at DESC, x.id DESC LIMIT 1)
  END AS resolved_level,
  max(e.action IN ('escalated', 'overdue') AND e.note = 'missed:acknowledge')
    AS missed_acknowledge,
  max(e.action IN ('escalated', 'overdue') AND e.note LIKE 'missed:%') AS missed,
  max(e.action = 'overdue') AS flagged
FROM reports r JOIN report_events e ON e.report_id = r.id
GROUP BY r.id;

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
SELECT r.created_at, e.id, e.action, e.report_id, r.node_id, e.actor_id,
       CASE WHEN e.action = 'acknowledged' THEN
         (julianday(e.at) - julianday((SELECT p.at FROM report_events p
            WHERE p.report_id = e.report_id AND p.id < e.id
              AND p.action IN ('filed', 'escalated', 'reassigned', 'recategorised', 'reopened')
            ORDER BY p.id DESC LIMIT 1))) * 86400.0 END
  FROM report_events e JOIN reports r ON r.id = e.report_id
  WHERE e.action IN ('acknowledged', 'resolved') AND e.actor_id IS NOT NULL
UNION ALL
SELECT r.created_at, e.id, k.kind, e.report_id, r.node_id,
       (SELECT p.actor_id FROM report_events p WHERE p.report_id = e.report_id AND p.id < e.id
          AND p.action = 'resolved' ORDER BY p.id DESC LIMIT 1), NULL
  FROM report_events e JOIN reports r ON r.id = e.report_id
  JOIN (SELECT 'rated' AS kind UNION ALL SELECT 'satisfied') k
    ON k.kind = 'rated' OR e.note IN ('satisfied', 'acceptable')
  WHERE e.action = 'rated' AND e.note IN ('satisfied', 'acceptable', 'unsatisfied');

CREATE TRIGGER report_facts_on_event AFTER INSERT ON report_events BEGIN
  INSERT OR REPLACE INTO report_facts
    SELECT * FROM report_facts_computed WHERE report_id = NEW.report_id;
  INSERT OR REPLACE INTO report_leader_facts
    SELECT * FROM report_leader_facts_computed WHERE event_id = NEW.id;
END;

CREATE TRIGGER report_facts_on_change AFTER UPDATE OF state, rating ON reports BEGIN
  INSERT OR REPLACE INTO report_facts
    SELECT * FROM report_facts_computed WHERE report_id = NEW.id;
END;

INSERT INTO report_facts SELECT * FROM report_facts_computed;
INSERT INTO report_leader_facts SELECT * FROM report_leader_facts_computed;
