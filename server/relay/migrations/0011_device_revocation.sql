-- 0011: a device can be revoked (`DELETE /v1/devices/{id}`): its refresh tokens are revoked
-- and its access tokens refused from then on, and its id can't sign in again. The row stays
-- (its ops stay in the log and name it), so revocation is a time, not a deletion.
ALTER TABLE devices ADD COLUMN revoked_at BIGINT;
