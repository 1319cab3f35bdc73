-- The current schema, used to create a fresh database in one step.
-- Every change here needs a new file in migrations/ that takes the previous
-- version to this one; a test checks that both paths give the same schema.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE car (
    id             TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    make           TEXT,
    model          TEXT,
    plate          TEXT NOT NULL,
    available_from TEXT,
    available_to   TEXT,
    connect_hint   TEXT,
    deleted        INTEGER NOT NULL DEFAULT 0,
    retired        INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE place (
    id       TEXT PRIMARY KEY,
    name     TEXT NOT NULL,
    kind     TEXT NOT NULL,
    lat      REAL NOT NULL,
    lon      REAL NOT NULL,
    radius_m REAL NOT NULL,
    address  TEXT,
    deleted  INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE trip (
    id               TEXT PRIMARY KEY,
    car_id           TEXT,
    state            TEXT NOT NULL,
    source           TEXT NOT NULL,
    car_hint         TEXT,
    started_at       INTEGER NOT NULL,
    ended_at         INTEGER,
    time_zone        TEXT NOT NULL,
    start_lat        REAL,
    start_lon        REAL,
    end_lat          REAL,
    end_lon          REAL,
    start_address    TEXT,
    end_address      TEXT,
    start_place      TEXT,
    end_place        TEXT,
    distance_m       REAL NOT NULL DEFAULT 0,
    point_count      INTEGER NOT NULL DEFAULT 0,
    purpose          TEXT,
    purpose_by       TEXT,
    business_partner TEXT,
    note             TEXT,
    recovered        INTEGER NOT NULL DEFAULT 0,
    route_distance_m REAL,
    merged_from      TEXT,
    split_from       TEXT,
    window_from      INTEGER,
    window_until     INTEGER,
    replaced_by      TEXT
);
CREATE INDEX trip_by_start ON trip (started_at);
CREATE INDEX trip_by_car ON trip (car_id);

CREATE TABLE trip_point (
    trip_id     TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    at          INTEGER NOT NULL,
    lat         REAL NOT NULL,
    lon         REAL NOT NULL,
    accuracy_m  REAL,
    speed_mps   REAL,
    heading_deg REAL,
    altitude_m  REAL,
    counted     INTEGER NOT NULL,
    PRIMARY KEY (trip_id, seq)
) WITHOUT ROWID;

CREATE TABLE trip_edit (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    trip_id   TEXT NOT NULL,
    field     TEXT NOT NULL,
    old_value TEXT,
    new_value TEXT,
    at        INTEGER NOT NULL,
    device    TEXT NOT NULL,
    arrived_after_lock TEXT
);
CREATE INDEX trip_edit_by_trip ON trip_edit (trip_id, id);

CREATE TABLE odometer_reading (
    id         TEXT PRIMARY KEY,
    car_id     TEXT NOT NULL,
    at         INTEGER NOT NULL,
    odometer_m INTEGER NOT NULL,
    source     TEXT NOT NULL,
    trip_id    TEXT,
    trip_end   TEXT
);
CREATE INDEX reading_by_car ON odometer_reading (car_id, at);

CREATE TABLE project (
    id       TEXT PRIMARY KEY,
    name     TEXT NOT NULL,
    client   TEXT,
    billable INTEGER NOT NULL,
    rounding TEXT NOT NULL,
    deleted  INTEGER NOT NULL DEFAULT 0,
    archived INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE time_entry (
    id          TEXT PRIMARY KEY,
    project_id  TEXT,
    description TEXT NOT NULL,
    start       INTEGER NOT NULL,
    stop        INTEGER,
    tags        TEXT NOT NULL,
    billable    INTEGER NOT NULL,
    source      TEXT NOT NULL,
    trip_id     TEXT,
    deleted     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX time_entry_by_start ON time_entry (start);
CREATE INDEX time_entry_by_project ON time_entry (project_id);

CREATE TABLE time_entry_edit (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    entry_id  TEXT NOT NULL,
    field     TEXT NOT NULL,
    old_value TEXT,
    new_value TEXT,
    at        INTEGER NOT NULL,
    device    TEXT NOT NULL,
    arrived_after_lock TEXT
);
CREATE INDEX time_entry_edit_by_entry ON time_entry_edit (entry_id, id);
CREATE UNIQUE INDEX time_entry_edit_once ON time_entry_edit (entry_id, field, at, device, ifnull(new_value, ''));

CREATE TABLE period_lock (
    month     TEXT PRIMARY KEY,
    locked_at INTEGER NOT NULL,
    device    TEXT NOT NULL,
    in_log    INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE outbox (
    device_seq INTEGER PRIMARY KEY,
    op_id      TEXT NOT NULL UNIQUE,
    hlc        INTEGER NOT NULL,
    entity     TEXT NOT NULL,
    entity_id  TEXT NOT NULL,
    body       TEXT NOT NULL
);

CREATE TABLE recorder (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    trip_id     TEXT,
    next_seq    INTEGER NOT NULL,
    chunked_seq INTEGER NOT NULL,
    detector    TEXT NOT NULL
);

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

CREATE TABLE late_op (
    op_id      TEXT PRIMARY KEY,
    entity     TEXT NOT NULL,
    entity_id  TEXT NOT NULL,
    month      TEXT NOT NULL,
    device     TEXT NOT NULL,
    stamped_at INTEGER NOT NULL
);
CREATE INDEX late_op_by_month ON late_op (month);
