-- 0004: period locks hold for the whole space (tacho_model::lock). A lock
-- counts against pulled ops once its op has been read from the relay's log
-- (`in_log`); ops stamped before a lock that reached the log after it are
-- kept and marked.
ALTER TABLE period_lock ADD COLUMN in_log INTEGER NOT NULL DEFAULT 0;
ALTER TABLE trip_edit ADD COLUMN arrived_after_lock TEXT;
CREATE TABLE late_op (
    op_id      TEXT PRIMARY KEY,
    entity     TEXT NOT NULL,
    entity_id  TEXT NOT NULL,
    month      TEXT NOT NULL,
    device     TEXT NOT NULL,
    stamped_at INTEGER NOT NULL
);
CREATE INDEX late_op_by_month ON late_op (month);
