-- Residents talk the way they talk (issue 13): voice reports, "me too" supporters, merges.

-- A voice message or video note kept with the report: its Telegram file_id (sent again
-- to every handler up the chain), its length, and a machine transcript when an engine
-- is configured ([speech]); the report's text stays 「（语音）」 until someone adds words.
ALTER TABLE reports ADD COLUMN voice_file_id TEXT;
ALTER TABLE reports ADD COLUMN voice_duration INTEGER;
ALTER TABLE reports ADD COLUMN voice_kind TEXT CHECK (voice_kind IN ('voice', 'video_note'));
ALTER TABLE reports ADD COLUMN transcript TEXT;
-- How many residents besides the reporter said 我也遇到 (or had a duplicate merged in):
-- shown on the card; changing it bumps the version, so the cards are redrawn.
ALTER TABLE reports ADD COLUMN supporters INTEGER NOT NULL DEFAULT 0;
-- A duplicate a leader merged into another report: closed, and counted once by /stats.
ALTER TABLE reports ADD COLUMN merged_into INTEGER REFERENCES reports(id);

-- Residents who have the same problem as the reporter: told of every change like the
-- reporter, asked to rate too (their rating is theirs; the reporter's decides the state).
CREATE TABLE report_supporters (
    report_id  INTEGER NOT NULL REFERENCES reports(id),
    user_id    INTEGER NOT NULL,
    via        TEXT    NOT NULL CHECK (via IN ('me_too', 'merged')),
    rating     TEXT CHECK (rating IN ('satisfied', 'acceptable', 'unsatisfied')),
    since      TEXT    NOT NULL,
    PRIMARY KEY (report_id, user_id)
);
CREATE INDEX report_supporters_user ON report_supporters(user_id);
CREATE INDEX reports_node_open ON reports(node_id, created_at)
    WHERE state IN ('open', 'acknowledged', 'reopened');
