-- Tacho relay schema v1. Append-only: never edit a shipped migration, add a new file.
-- Written in the subset of SQL that both SQLite and PostgreSQL accept: ids are TEXT (UUIDs),
-- times are BIGINT Unix milliseconds, flags are BIGINT 0/1, op bodies are JSON TEXT.

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE spaces (
    id         TEXT PRIMARY KEY,
    head       BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);

CREATE TABLE accounts (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    space_id      TEXT NOT NULL REFERENCES spaces (id),
    created_at    BIGINT NOT NULL
);

CREATE TABLE devices (
    id         TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    space_id   TEXT NOT NULL REFERENCES spaces (id),
    name       TEXT NOT NULL,
    last_seq   BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);

CREATE TABLE refresh_tokens (
    hash       TEXT PRIMARY KEY,
    family     TEXT NOT NULL,
    device_id  TEXT NOT NULL REFERENCES devices (id),
    account_id TEXT NOT NULL REFERENCES accounts (id),
    spent      BIGINT NOT NULL DEFAULT 0,
    revoked    BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family);
CREATE INDEX refresh_tokens_device ON refresh_tokens (device_id);

CREATE TABLE ops (
    space_id    TEXT NOT NULL REFERENCES spaces (id),
    seq         BIGINT NOT NULL,
    op_id       TEXT NOT NULL UNIQUE,
    device_id   TEXT NOT NULL REFERENCES devices (id),
    device_seq  BIGINT NOT NULL,
    hlc         BIGINT NOT NULL,
    entity      TEXT NOT NULL,
    entity_id   TEXT NOT NULL,
    body        TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (space_id, seq)
);
