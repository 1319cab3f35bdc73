-- Tacho relay schema v7: a persisted job queue (server/relay/src/jobs/, ADR 0010).
-- Plain portable SQL: the two engines differ only in how a job is claimed (PostgreSQL adds
-- FOR UPDATE SKIP LOCKED; SQLite claims inside its single writer transaction), not in the table.
--
-- state: queued -> running -> done | failed (or back to queued for a retry). A running job whose
-- lease_until has passed is free to claim again: its instance (locked_by) died or stalled.
-- dedupe_key is unique (NULLs never collide), so a periodic job is enqueued once per time slot
-- however many instances try (INSERT ... ON CONFLICT DO NOTHING). Done rows are kept a day and
-- failed rows 30 days (the built-in `jobs.prune` job), long enough for the keys to dedupe.
CREATE TABLE jobs (
    id           TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    payload      TEXT NOT NULL,
    dedupe_key   TEXT UNIQUE,
    state        TEXT NOT NULL,
    run_at       BIGINT NOT NULL,
    attempts     BIGINT NOT NULL DEFAULT 0,
    max_attempts BIGINT NOT NULL,
    lease_until  BIGINT,
    locked_by    TEXT,
    last_error   TEXT,
    created_at   BIGINT NOT NULL,
    finished_at  BIGINT
);
-- The claim's search: queued jobs by due time, and running jobs by lease.
CREATE INDEX jobs_due ON jobs (state, run_at);
