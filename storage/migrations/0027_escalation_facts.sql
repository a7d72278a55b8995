-- An escalation (a missed deadline, a leader's 上报) changes two flags of a report's facts
-- and adds what it counts for the rungs (reached; missed, for a missed deadline): written
-- as such instead of recomputing the report's facts from its whole log, which was most of
-- the database's share of a burst of deadlines. The facts stay exactly the views'
-- (tests/test_stats.py compares them on random histories).
DROP TRIGGER report_facts_on_event;
CREATE TRIGGER report_facts_on_event AFTER INSERT ON report_events
WHEN NEW.action IS NOT 'escalated' BEGIN
  INSERT OR REPLACE INTO report_facts
    SELECT * FROM report_facts_computed WHERE report_id = NEW.report_id;
  INSERT OR REPLACE INTO report_leader_facts
    SELECT * FROM report_leader_facts_computed WHERE event_id = NEW.id;
END;

CREATE TRIGGER report_facts_on_escalation AFTER INSERT ON report_events
WHEN NEW.action = 'escalated' BEGIN
  UPDATE report_facts SET
    missed_acknowledge = missed_acknowledge OR coalesce(NEW.note = 'missed:acknowledge', 0),
    missed = missed OR coalesce(NEW.note LIKE 'missed:%', 0)
  WHERE report_id = NEW.report_id;
  INSERT INTO report_leader_facts
    SELECT r.created_at, NEW.id, 'reached', NEW.report_id, r.node_id, NEW.node_id, NULL
    FROM reports r WHERE r.id = NEW.report_id;
  INSERT INTO report_leader_facts
    SELECT r.created_at, NEW.id, 'missed', NEW.report_id, r.node_id,
      (SELECT p.node_id FROM report_events p WHERE p.report_id = NEW.report_id
       AND p.id < NEW.id ORDER BY p.id DESC LIMIT 1), NULL
    FROM reports r WHERE r.id = NEW.report_id AND NEW.note LIKE 'missed:%';
END;
