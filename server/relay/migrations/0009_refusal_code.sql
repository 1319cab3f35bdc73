-- 0009: refused ops keep the code they were refused with (`invalid_op`, or
-- `period_locked` for a change to a month locked before it was made), so a
-- replayed push is answered alike.
ALTER TABLE rejected_ops ADD COLUMN code TEXT NOT NULL DEFAULT 'invalid_op';
