-- 0012: signing out (`POST /v1/auth/logout`) ends the device's session at once: access tokens
-- issued up to this time are refused from then on (they carry their issue time), not only
-- the refresh tokens. A later sign-in of the same device gets tokens issued after it.
ALTER TABLE devices ADD COLUMN signed_out_at BIGINT;
