-- Bulk messages (a broadcast to hundreds of chats) go after everything else that is due:
-- a resident's answer or a leader's next question must not wait behind them.
ALTER TABLE outbox ADD COLUMN bulk INTEGER NOT NULL DEFAULT 0;
CREATE INDEX outbox_next ON outbox(bulk, id) WHERE status = 'pending';
