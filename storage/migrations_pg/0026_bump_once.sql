-- A version counter is bumped once per transaction, not once per statement: an import of
-- 20,000 residents updated the same row 20,000 times in one transaction, each update a
-- new row version to step over (4.9 s of a 6.6 s import). Readers only compare the number
-- across transactions, so once is enough; the mark is transaction-local (set_config).
CREATE OR REPLACE FUNCTION bump_org_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF current_setting('linli.org_bumped', true) IS DISTINCT FROM '1' THEN
    UPDATE org_version SET version = version + 1;
    PERFORM set_config('linli.org_bumped', '1', true);
  END IF;
  RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION bump_residents_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF current_setting('linli.residents_bumped', true) IS DISTINCT FROM '1' THEN
    UPDATE residents_version SET version = version + 1;
    PERFORM set_config('linli.residents_bumped', '1', true);
  END IF;
  RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION bump_calendar_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF current_setting('linli.calendar_bumped', true) IS DISTINCT FROM '1' THEN
    UPDATE calendar_version SET version = version + 1;
    PERFORM set_config('linli.calendar_bumped', '1', true);
  END IF;
  RETURN NULL;
END $$;
