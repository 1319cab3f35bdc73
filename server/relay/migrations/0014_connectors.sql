-- Tacho relay schema v14: the timesheet connectors (server/relay/src/connectors/, issue 13).
-- Plain SQL both engines accept, as in v7/v8.

-- A connection's life: `active`, `paused` (by its owner), `disabled` (the service refused its
-- credentials; `state_reason` says why; rotating the token or resuming clears it). Toggl's spent
-- quota is not a state but a time: nothing is sent before `quota_until` (Unix ms).
ALTER TABLE connections ADD COLUMN state TEXT NOT NULL DEFAULT 'active';
ALTER TABLE connections ADD COLUMN state_reason TEXT;
ALTER TABLE connections ADD COLUMN quota_until BIGINT;
-- The incremental pull's cursor (tacho_integrations PullCursor as JSON) and the last runs.
ALTER TABLE connections ADD COLUMN pull_cursor TEXT;
ALTER TABLE connections ADD COLUMN last_push_at BIGINT;
ALTER TABLE connections ADD COLUMN last_pull_at BIGINT;
-- A pull asked for (run now, a drained push, a webhook) after the last one started: the
-- scheduler runs another, so a request arriving while a pull runs is never lost.
ALTER TABLE connections ADD COLUMN pull_requested_at BIGINT;
-- Labels name a connector in the CLI (`connector map NAME …`), so they are unique per account
-- for the kinds added with the connectors (Zammad labels predate the rule and stay optional).
CREATE UNIQUE INDEX connections_label ON connections (account_id, label)
    WHERE provider IN ('toggl', 'tempo', 'kimai');

-- The server-side device writing a connection's pulled entries, conflicts and statuses.
CREATE TABLE connector_devices (
    connection_id TEXT PRIMARY KEY,
    account_id    TEXT NOT NULL,
    device_id     TEXT NOT NULL,
    last_hlc      BIGINT NOT NULL
);

-- Where a Tacho project's hours go on a connection: a tacho_integrations Target as JSON.
CREATE TABLE connector_mappings (
    connection_id TEXT NOT NULL,
    project_id    TEXT NOT NULL,
    target        TEXT NOT NULL,
    updated_at    BIGINT NOT NULL,
    PRIMARY KEY (connection_id, project_id)
);

-- The exactly-once bookkeeping, one row per (connection, Tacho entry): the remote record
-- (`remote_id` at `remote_target`), the hash of the Entry last written (`pushed_hash`), and
-- the write in flight (`intent`, JSON, persisted before the request is sent, cleared in the
-- transaction that records its outcome; a leftover intent means "reconcile before sending").
-- `remote_hash` hashes the record as the service last answered or was pulled, so a pull tells
-- the echo of Tacho's own write from a remote edit whatever the service normalises.
-- origin: `local` (pushed from Tacho) or `remote` (pulled). state: pending|synced|conflict|error.
CREATE TABLE connector_links (
    connection_id TEXT NOT NULL,
    entry_id      TEXT NOT NULL,
    remote_id     TEXT,
    remote_target TEXT,
    pushed_hash   TEXT,
    remote_hash   TEXT,
    origin        TEXT NOT NULL,
    state         TEXT NOT NULL,
    intent        TEXT,
    intent_at     BIGINT,
    synced_at     BIGINT,
    message       TEXT,
    PRIMARY KEY (connection_id, entry_id)
);
CREATE INDEX connector_links_remote ON connector_links (connection_id, remote_id);

-- Work to push, coalesced: many edits of one entry are one row (the worker reads the entry's
-- current merged state, never the op). state: queued | error (retries spent; kept for status).
CREATE TABLE connector_work (
    connection_id TEXT NOT NULL,
    entry_id      TEXT NOT NULL,
    state         TEXT NOT NULL,
    due_at        BIGINT NOT NULL,
    attempts      BIGINT NOT NULL DEFAULT 0,
    last_error    TEXT,
    changed_at    BIGINT NOT NULL,
    PRIMARY KEY (connection_id, entry_id)
);
CREATE INDEX connector_work_due ON connector_work (connection_id, state, due_at);

-- The conflict inbox. kind: refused (the service said no), both_changed (pull met a local
-- edit), gone (the remote record vanished under a local edit), auth (credentials refused).
-- local/remote: JSON of the values each side holds, or NULL.
CREATE TABLE connector_conflicts (
    id            TEXT PRIMARY KEY,
    connection_id TEXT NOT NULL,
    account_id    TEXT NOT NULL,
    entry_id      TEXT,
    remote_id     TEXT,
    kind          TEXT NOT NULL,
    local_values  TEXT,
    remote_values TEXT,
    message       TEXT NOT NULL,
    raised_at     BIGINT NOT NULL,
    state         TEXT NOT NULL,
    resolution    TEXT,
    resolved_at   BIGINT
);
CREATE INDEX connector_conflicts_open ON connector_conflicts (account_id, state);
CREATE INDEX connector_conflicts_connection ON connector_conflicts (connection_id, state);

-- Every outbound call and pull result, per connection; pruned after --connector-audit-days.
-- The sliding-hour request budget (Toggl) counts the rows with `request = 1`.
CREATE TABLE connector_audit (
    id            TEXT PRIMARY KEY,
    connection_id TEXT NOT NULL,
    at            BIGINT NOT NULL,
    operation     TEXT NOT NULL,
    entry_id      TEXT,
    remote_id     TEXT,
    status        TEXT NOT NULL,
    latency_ms    BIGINT NOT NULL,
    request       BIGINT NOT NULL,
    message       TEXT
);
CREATE INDEX connector_audit_connection ON connector_audit (connection_id, at);
CREATE INDEX connector_audit_at ON connector_audit (at);

-- Picker lists (projects, tasks, …) as fetched, kept 10 minutes.
CREATE TABLE connector_lookups (
    connection_id TEXT NOT NULL,
    what          TEXT NOT NULL,
    items         TEXT NOT NULL,
    fetched_at    BIGINT NOT NULL,
    PRIMARY KEY (connection_id, what)
);
