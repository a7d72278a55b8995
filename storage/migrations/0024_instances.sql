-- Leases: what one instance of the bot does for all of them (sending, issue 17). The
-- holder renews its row every few seconds; once ``until`` has passed, another takes over.
CREATE TABLE leases (
    name   TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    until  TEXT NOT NULL
);

-- Several instances behind one webhook: each update is claimed by the instance that took
-- it (renewed while it works; a dead instance's claims run out and another adopts them),
-- and ``chat_id`` keeps a chat's updates in order across instances.
ALTER TABLE updates ADD COLUMN chat_id INTEGER;
ALTER TABLE updates ADD COLUMN claimed_by TEXT;
ALTER TABLE updates ADD COLUMN claimed_until TEXT;
CREATE INDEX updates_chat_waiting ON updates(chat_id, update_id) WHERE status = 'new';
