-- Working-time deadlines and residents' personal information (issue 18).
-- A deadline counted in working time that a holiday pushed later keeps the holidays'
-- names ("国庆节、中秋节"), so a card can say 「遇国庆假期顺延至 10月9日」.
ALTER TABLE deadlines ADD COLUMN deferred_by TEXT;
