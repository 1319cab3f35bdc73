-- 0013: when a device's ops last reached the relay (`DeviceInfo.last_push_at`, so a person can
-- tell a lost or silent device from a syncing one). Written by the push path in the statement
-- that already moves `last_seq` (once per batch, no per-op work), so it changes exactly when
-- `last_seq` does: a batch that stored or refused a new op; replays of known ops leave it.
ALTER TABLE devices ADD COLUMN last_push_at BIGINT;

-- Devices that pushed before this migration: their latest op, stored or refused, in one grouped
-- pass over each log (no per-device scan; UPDATE … FROM is PostgreSQL's and SQLite ≥ 3.33's).
UPDATE devices SET last_push_at = latest.last_at
FROM (
    SELECT device_id, MAX(received_at) AS last_at FROM (
        SELECT device_id, received_at FROM ops
        UNION ALL
        SELECT device_id, received_at FROM rejected_ops
    ) AS received
    GROUP BY device_id
) AS latest
WHERE devices.id = latest.device_id;
