-- Tacho relay schema v8: one registry of third-party connections (server/relay/src/connections/,
-- ADR 0011), replacing the Zammad-only tables of v4. Plain SQL both engines accept.

-- A person's connection to a provider (`zammad` today; Toggl, Tempo, Kimai with the connectors).
-- Provider-specific, non-secret options live in `settings` (a JSON object, validated by the
-- provider's code). Secrets live in sealed_secrets under provider `<provider>/<id>` (e.g.
-- `zammad/<id>`), the name v4 already used, so the associated data of existing sealed values
-- (owner, `zammad/<id>`, field) is unchanged and they open without re-sealing.
CREATE TABLE connections (
    id         TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    provider   TEXT NOT NULL,
    label      TEXT,
    base_url   TEXT,
    settings   TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX connections_account ON connections (account_id, provider);

-- Verified webhook deliveries of any provider, deduplicated per connection on the provider's
-- delivery id (stable across its retries). `event` is the provider's event or trigger name,
-- `subject` the id of the object it is about (Zammad: the ticket id), both optional.
CREATE TABLE connection_events (
    id            TEXT PRIMARY KEY,
    connection_id TEXT NOT NULL REFERENCES connections (id),
    delivery_id   TEXT NOT NULL,
    event         TEXT,
    subject       TEXT,
    received_at   BIGINT NOT NULL,
    body          TEXT NOT NULL,
    UNIQUE (connection_id, delivery_id)
);

-- Carry v4's rows over with their ids, so webhook URLs already set in Zammad keep working.
-- time_unit is one of four plain words (checked on creation), so it needs no JSON escaping.
INSERT INTO connections (id, account_id, provider, label, base_url, settings, created_at, updated_at)
SELECT id, account_id, 'zammad', NULL, base_url, '{"time_unit":"' || time_unit || '"}',
       created_at, created_at
FROM zammad_connections;

INSERT INTO connection_events (id, connection_id, delivery_id, event, subject, received_at, body)
SELECT id, connection_id, delivery_id, trigger_name, CAST(ticket_id AS TEXT), received_at, body
FROM zammad_events;

DROP TABLE zammad_events;
DROP INDEX zammad_connections_account;
DROP TABLE zammad_connections;

-- Read-only view in v4's shape, for queries written against zammad_events (operators' scripts,
-- older tests). Nothing in the relay writes or reads it.
CREATE VIEW zammad_events AS
SELECT e.id, e.connection_id, e.delivery_id, e.event AS trigger_name,
       CAST(e.subject AS BIGINT) AS ticket_id, e.received_at, e.body
FROM connection_events e
JOIN connections c ON c.id = e.connection_id
WHERE c.provider = 'zammad';
