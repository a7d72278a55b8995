-- Residents change apart from the tree (a /join, an import of residents only): their own
-- counter lets a process cache who lives where and still see another process's changes.
CREATE TABLE residents_version (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL);
INSERT INTO residents_version VALUES (1, 0);
CREATE TRIGGER residents_i AFTER INSERT ON residents BEGIN UPDATE residents_version SET version = version + 1; END;
CREATE TRIGGER residents_u AFTER UPDATE ON residents BEGIN UPDATE residents_version SET version = version + 1; END;
CREATE TRIGGER residents_d AFTER DELETE ON residents BEGIN UPDATE residents_version SET version = version + 1; END;
