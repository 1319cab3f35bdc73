-- 0002: route distance from maps lookups, and time entries listed by start.
ALTER TABLE trip ADD COLUMN route_distance_m REAL;
CREATE INDEX time_entry_by_start ON time_entry (start);
