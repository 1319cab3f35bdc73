-- 0009: refused ops keep the code they were refused with (`invalid_op`, or
-- `period_locked` for a change to a month locked before it was made), so a
-- replayed push is answered alike, and the trip or time entry they belong
-- to: a trip whose creation was refused for a lock can't be completed later
-- by ops that don't carry its date (points, its end, its history).
ALTER TABLE rejected_ops ADD COLUMN code TEXT NOT NULL DEFAULT 'invalid_op';
ALTER TABLE rejected_ops ADD COLUMN entity_id TEXT;
CREATE INDEX rejected_ops_by_entity ON rejected_ops (space_id, entity_id);
