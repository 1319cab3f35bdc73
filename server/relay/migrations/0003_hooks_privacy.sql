-- Tacho relay schema v3: automation hooks (Shortcuts: trip start / ping / end).
-- Hook tokens are kept only as SHA-256 hashes; each account gets one "automation" device whose
-- ops go through the ordinary push path; hook_trips is the hooks' own view of the trips they
-- opened; hook_events dedupes event ids.

CREATE TABLE hook_tokens (
    id           TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL REFERENCES accounts (id),
    hash         TEXT NOT NULL UNIQUE,
    label        TEXT NOT NULL,
    car_id       TEXT,
    car_name     TEXT,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT
);
CREATE INDEX hook_tokens_account ON hook_tokens (account_id);

CREATE TABLE automation_devices (
    account_id TEXT PRIMARY KEY REFERENCES accounts (id),
    device_id  TEXT NOT NULL REFERENCES devices (id),
    last_hlc   BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE hook_trips (
    trip_id    TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    car_id     TEXT,
    started_at BIGINT NOT NULL,
    ended_at   BIGINT,
    next_point BIGINT NOT NULL DEFAULT 0,
    header     TEXT NOT NULL
);
CREATE INDEX hook_trips_account ON hook_trips (account_id, ended_at);

CREATE TABLE hook_events (
    account_id  TEXT NOT NULL REFERENCES accounts (id),
    event_id    TEXT NOT NULL,
    answer      TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, event_id)
);

-- A trip's point chunks, read when a hook trip ends (its distance), by the GPS retention job and
-- by the export. Partial, so only point chunks pay for it on insert; queries name the entity
-- literally so both engines use it.
CREATE INDEX ops_trip_points ON ops (space_id, entity_id) WHERE entity = 'trip_points';
