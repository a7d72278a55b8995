-- How many times a leader changed an event (its time, its place, a cancellation): the
-- .ics file's SEQUENCE, so a calendar that imported the event replaces it with the news.
ALTER TABLE events ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
