-- Tacho relay schema v9: op ids are unique per space, no longer across the whole relay.
--
-- With one relay-wide UNIQUE (op_id), a push re-using an op id of another account was refused
-- ("op_id already used by another device"), which told the pusher that the id exists somewhere.
-- Scoped per space, such an op is what it would be for any unknown id: a new op of the pusher's
-- own space. Replays stay idempotent (same space, same id: a duplicate). Both tables are rebuilt
-- (SQLite can't drop a table's UNIQUE constraint in place); the new unique index replaces the old
-- one, so an insert maintains as many indexes as before.
CREATE TABLE ops_v9 (
    space_id    TEXT NOT NULL REFERENCES spaces (id),
    seq         BIGINT NOT NULL,
    op_id       TEXT NOT NULL,
    device_id   TEXT NOT NULL REFERENCES devices (id),
    device_seq  BIGINT NOT NULL,
    hlc         BIGINT NOT NULL,
    entity      TEXT NOT NULL,
    entity_id   TEXT NOT NULL,
    body        TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (space_id, seq),
    UNIQUE (space_id, op_id)
);
INSERT INTO ops_v9 (space_id, seq, op_id, device_id, device_seq, hlc, entity, entity_id, body, received_at)
SELECT space_id, seq, op_id, device_id, device_seq, hlc, entity, entity_id, body, received_at FROM ops;
DROP TABLE ops;
ALTER TABLE ops_v9 RENAME TO ops;

CREATE TABLE rejected_ops_v9 (
    space_id    TEXT NOT NULL REFERENCES spaces (id),
    op_id       TEXT NOT NULL,
    device_id   TEXT NOT NULL,
    device_seq  BIGINT NOT NULL,
    reason      TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (space_id, op_id)
);
INSERT INTO rejected_ops_v9 (space_id, op_id, device_id, device_seq, reason, received_at)
SELECT space_id, op_id, device_id, device_seq, reason, received_at FROM rejected_ops;
DROP TABLE rejected_ops;
ALTER TABLE rejected_ops_v9 RENAME TO rejected_ops;
