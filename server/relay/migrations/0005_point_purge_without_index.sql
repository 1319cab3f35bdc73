-- Tacho relay schema v5: the insert path stops paying for a second index on the op log.
--
-- `ops_trip_points` (0003) made every op insert maintain a partial index so that the GPS
-- retention purge and a hook trip's end could find a trip's point chunks; it cost about 6 % of
-- the relay's write throughput. Those two readers now find them another way:
-- * the purge walks `point_writers` (one row per trip that has points), remembers when it emptied
--   a trip (`points_purged_at`; a late chunk clears it again) and deletes per space in one pass
--   over that space's log;
-- * a hook trip remembers the space's head when it started (`first_seq`), so its end reads only
--   the log written since.
DROP INDEX ops_trip_points;
ALTER TABLE point_writers ADD COLUMN points_purged_at BIGINT;
ALTER TABLE hook_trips ADD COLUMN first_seq BIGINT NOT NULL DEFAULT 0;
