-- What an escalation changes in the facts, written as such (storage/migrations/0027), once
-- for all the escalations an INSERT logs (a statement-level trigger over the new rows: a
-- batch of deadlines logs its escalations in one statement).
DROP TRIGGER report_facts_on_event ON report_events;
CREATE TRIGGER report_facts_on_event AFTER INSERT ON report_events
    FOR EACH ROW WHEN (NEW.action IS DISTINCT FROM 'escalated')
    EXECUTE FUNCTION report_facts_on_event();

CREATE FUNCTION report_facts_on_escalations() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE report_facts f SET missed_acknowledge = greatest(f.missed_acknowledge, e.acknowledge),
                            missed = greatest(f.missed, e.missed)
  FROM (SELECT report_id,
               max(coalesce(note = 'missed:acknowledge', false)::INTEGER) AS acknowledge,
               max(coalesce(note LIKE 'missed:%', false)::INTEGER) AS missed
        FROM logged WHERE action = 'escalated' GROUP BY report_id) e
  WHERE f.report_id = e.report_id;
  INSERT INTO report_leader_facts
  SELECT r.created_at, e.id, 'reached'::TEXT, e.report_id, r.node_id, e.node_id,
         NULL::DOUBLE PRECISION
    FROM logged e JOIN reports r ON r.id = e.report_id WHERE e.action = 'escalated'
  UNION ALL
  SELECT r.created_at, e.id, 'missed'::TEXT, e.report_id, r.node_id,
         (SELECT p.node_id FROM report_events p WHERE p.report_id = e.report_id AND p.id < e.id
          ORDER BY p.id DESC LIMIT 1), NULL
    FROM logged e JOIN reports r ON r.id = e.report_id
    WHERE e.action = 'escalated' AND e.note LIKE 'missed:%';
  RETURN NULL;
END $$;
CREATE TRIGGER report_facts_on_escalations AFTER INSERT ON report_events
    REFERENCING NEW TABLE AS logged FOR EACH STATEMENT
    EXECUTE FUNCTION report_facts_on_escalations();
