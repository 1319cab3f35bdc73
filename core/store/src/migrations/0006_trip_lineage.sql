-- 0006: merge and split of trips by reference (ADR 0013). A merged trip
-- names its sources, a split part its source and time window; a source names the trips
-- that replace it. Lists are JSON arrays of trip ids; instants are unix ms.
ALTER TABLE trip ADD COLUMN merged_from TEXT;
ALTER TABLE trip ADD COLUMN split_from TEXT;
ALTER TABLE trip ADD COLUMN window_from INTEGER;
ALTER TABLE trip ADD COLUMN window_until INTEGER;
ALTER TABLE trip ADD COLUMN replaced_by TEXT;
