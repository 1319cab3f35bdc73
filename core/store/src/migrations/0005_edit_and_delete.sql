-- 0005: every entity can be edited, archived or retired, deleted and restored
-- (issue 12). Archived projects and retired cars stay for their entries and
-- trips but are hidden from default lists; every edit of a time entry is kept
-- in its append-only history, like trip edits.
ALTER TABLE project ADD COLUMN archived INTEGER NOT NULL DEFAULT 0;
ALTER TABLE car ADD COLUMN retired INTEGER NOT NULL DEFAULT 0;
CREATE TABLE time_entry_edit (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    entry_id  TEXT NOT NULL,
    field     TEXT NOT NULL,
    old_value TEXT,
    new_value TEXT,
    at        INTEGER NOT NULL,
    device    TEXT NOT NULL,
    arrived_after_lock TEXT
);
CREATE INDEX time_entry_edit_by_entry ON time_entry_edit (entry_id, id);
CREATE UNIQUE INDEX time_entry_edit_once ON time_entry_edit (entry_id, field, at, device, ifnull(new_value, ''));
CREATE INDEX time_entry_by_project ON time_entry (project_id);
CREATE INDEX trip_by_car ON trip (car_id);
