-- The working calendar an office keeps without a new release: a year's official calendar
-- imported from a file (holiday-cn JSON, as given), local exceptions (a typhoon day off,
-- a local holiday, an extra working day), and the years the community secretary was told
-- that next year's calendar is missing (once each).
CREATE TABLE calendar_years (
    year INTEGER PRIMARY KEY,
    data TEXT NOT NULL,
    imported_at TEXT NOT NULL
);
CREATE TABLE calendar_exceptions (
    day TEXT PRIMARY KEY,  -- YYYY-MM-DD, local
    off INTEGER NOT NULL CHECK (off IN (0, 1)),
    reason TEXT NOT NULL,
    added_by INTEGER,
    added_at TEXT NOT NULL
);
CREATE TABLE calendar_warnings (
    year INTEGER PRIMARY KEY,  -- the year found missing
    warned_at TEXT NOT NULL
);
-- counts changes, so a running bot sees what `linli calendar` did in another process
CREATE TABLE calendar_version (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL);
INSERT INTO calendar_version VALUES (1, 0);
CREATE TRIGGER calendar_years_i AFTER INSERT ON calendar_years BEGIN UPDATE calendar_version SET version = version + 1; END;
CREATE TRIGGER calendar_years_u AFTER UPDATE ON calendar_years BEGIN UPDATE calendar_version SET version = version + 1; END;
CREATE TRIGGER calendar_exceptions_i AFTER INSERT ON calendar_exceptions BEGIN UPDATE calendar_version SET version = version + 1; END;
CREATE TRIGGER calendar_exceptions_u AFTER UPDATE ON calendar_exceptions BEGIN UPDATE calendar_version SET version = version + 1; END;
CREATE TRIGGER calendar_exceptions_d AFTER DELETE ON calendar_exceptions BEGIN UPDATE calendar_version SET version = version + 1; END;
