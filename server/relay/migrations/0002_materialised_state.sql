-- Tacho relay schema v2: the merged state of each space (shared merge code),
-- the owner of each trip's GPS points, and ops refused as invalid (their
-- device_seq is consumed so the device's queue moves on).

CREATE TABLE entity_state (
    space_id  TEXT NOT NULL REFERENCES spaces (id),
    entity    TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    state     TEXT NOT NULL,
    PRIMARY KEY (space_id, entity, entity_id)
);

CREATE TABLE point_writers (
    space_id  TEXT NOT NULL REFERENCES spaces (id),
    trip_id   TEXT NOT NULL,
    device_id TEXT NOT NULL,
    PRIMARY KEY (space_id, trip_id)
);

CREATE TABLE rejected_ops (
    op_id       TEXT PRIMARY KEY,
    space_id    TEXT NOT NULL REFERENCES spaces (id),
    device_id   TEXT NOT NULL,
    device_seq  BIGINT NOT NULL,
    reason      TEXT NOT NULL,
    received_at BIGINT NOT NULL
);
