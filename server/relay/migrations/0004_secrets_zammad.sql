-- Secrets at rest and Zammad webhooks (relay schema v4). Version 3 belongs to the automation-hooks
-- branch; sqlx applies whatever versions are missing in order, so the gap is harmless.

-- Third-party credentials, each sealed with XChaCha20-Poly1305 under a versioned master key with
-- (owner, provider, field) as associated data: `sealed` is `tk1.v<key>.<nonce>.<ciphertext>`.
CREATE TABLE sealed_secrets (
    owner       TEXT NOT NULL,
    provider    TEXT NOT NULL,
    field       TEXT NOT NULL,
    key_version BIGINT NOT NULL,
    sealed      TEXT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (owner, provider, field)
);

-- A person's Zammad instance. Its API token and webhook secret live in sealed_secrets under
-- provider `zammad/<id>`.
CREATE TABLE zammad_connections (
    id         TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    base_url   TEXT NOT NULL,
    time_unit  TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE INDEX zammad_connections_account ON zammad_connections (account_id);

-- Verified webhook deliveries, deduplicated on Zammad's X-Zammad-Delivery (stable across retries).
CREATE TABLE zammad_events (
    id            TEXT PRIMARY KEY,
    connection_id TEXT NOT NULL REFERENCES zammad_connections (id),
    delivery_id   TEXT NOT NULL,
    trigger_name  TEXT,
    ticket_id     BIGINT,
    received_at   BIGINT NOT NULL,
    body          TEXT NOT NULL,
    UNIQUE (connection_id, delivery_id)
);
