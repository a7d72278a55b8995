-- Leases: what one instance of the bot does for all of them (sending, issue 17). The
-- holder renews its row every few seconds; once ``until`` has passed, another takes over.
CREATE TABLE leases (
    name   TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    until  TEXT NOT NULL
);
