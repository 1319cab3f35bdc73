-- OpenID Connect sign-in (relay schema v6).
-- Accounts created through OpenID Connect have no password: their `password_hash` is '' (the
-- column stays NOT NULL, which SQLite cannot relax in place), which no password verifies against.

-- An identity at an OpenID provider, keyed by the issuer and the provider's subject (never by the
-- e-mail, which can change hands), linked to exactly one account.
CREATE TABLE oidc_identities (
    issuer            TEXT NOT NULL,
    subject           TEXT NOT NULL,
    account_id        TEXT NOT NULL REFERENCES accounts (id),
    provider          TEXT NOT NULL,
    email             TEXT,
    created_at        BIGINT NOT NULL,
    last_login_at     BIGINT NOT NULL,
    last_login_device TEXT,
    PRIMARY KEY (issuer, subject)
);
CREATE INDEX oidc_identities_account ON oidc_identities (account_id);

-- Browser-flow logins between `start` and `finish`: kept in the database (not in memory) so any
-- instance sharing a PostgreSQL database can finish what another started. Single use: `finish`
-- deletes the row it uses (DELETE … RETURNING). `code_challenge` is the app's PKCE challenge; the
-- verifier never reaches the relay before `finish`.
CREATE TABLE oidc_logins (
    state          TEXT PRIMARY KEY,
    provider       TEXT NOT NULL,
    nonce          TEXT NOT NULL,
    redirect_uri   TEXT NOT NULL,
    code_challenge TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL
);
CREATE INDEX oidc_logins_expires ON oidc_logins (expires_at);

-- Nonces issued for the ID-token exchange (the app signs in with the platform SDK); single use.
CREATE TABLE oidc_nonces (
    nonce      TEXT PRIMARY KEY,
    provider   TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX oidc_nonces_expires ON oidc_nonces (expires_at);
