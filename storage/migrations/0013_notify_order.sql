-- A busy group is not starved, and a failing deadline does not spin.
-- edit_of: the message an edit changes (NULL for a new message). Edits of one message
-- are coalesced into the one still queued, and new messages go before edits.
ALTER TABLE outbox ADD COLUMN edit_of INTEGER;
CREATE INDEX outbox_edits ON outbox(chat_id, edit_of) WHERE status = 'pending' AND edit_of IS NOT NULL;
-- messages waiting out a retry (they hold back what their chat queued after them)
CREATE INDEX outbox_held ON outbox(chat_id, id) WHERE status = 'pending' AND error IS NOT NULL;
-- a deadline whose action raised is tried again at retry_at, later after each failure
ALTER TABLE deadlines ADD COLUMN failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE deadlines ADD COLUMN retry_at TEXT;
CREATE INDEX deadlines_next ON deadlines(coalesce(retry_at, due_at)) WHERE state = 'armed';
