-- 0003: sync. Merged state per synced entity (field clocks, tombstones) as
-- the shared merge code keeps it; the relay session and cursors; parked ops.
CREATE TABLE entity_state (
    entity    TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    state     TEXT NOT NULL,
    PRIMARY KEY (entity, entity_id)
) WITHOUT ROWID;

CREATE TABLE sync_state (
    id                INTEGER PRIMARY KEY CHECK (id = 1),
    relay_url         TEXT NOT NULL,
    account_id        TEXT NOT NULL,
    space_id          TEXT NOT NULL,
    access_token      TEXT NOT NULL,
    access_expires_at INTEGER NOT NULL,
    refresh_token     TEXT NOT NULL,
    pull_cursor       INTEGER NOT NULL DEFAULT 0,
    pushed_seq        INTEGER NOT NULL DEFAULT 0,
    last_sync_at      INTEGER,
    last_error        TEXT
);

CREATE TABLE parked_op (
    op_id      TEXT PRIMARY KEY,
    device_seq INTEGER NOT NULL,
    body       TEXT NOT NULL,
    code       TEXT NOT NULL,
    message    TEXT NOT NULL,
    parked_at  INTEGER NOT NULL
);

CREATE UNIQUE INDEX trip_edit_once ON trip_edit (trip_id, field, at, device, ifnull(new_value, ''));

-- Two devices may start timers offline: the merged state can briefly hold
-- two running entries until the running-timer rule stops one (as an op), so
-- the rule moves from this index to the store's code (sync.rs, work.rs).
DROP INDEX one_running_timer;
