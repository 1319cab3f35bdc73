//! Tacho's generic CSV, for anything the other formats don't cover (docs/import.md):
//!
//! `start,stop,project,description,tags,billable`
//!
//! `start` and `stop` are required: RFC 3339 (`2024-03-05T09:00:00+01:00`, the offset is
//! used) or a wall time `YYYY-MM-DD HH:MM[:SS]` read in the import's time zone. The others
//! may be left out or empty; `tags` is comma-separated (quote the cell), `billable` yes/no
//! (empty: the project's setting). Any other column is refused, so a misspelt name is caught
//! instead of silently dropping its data.

use chrono_tz::Tz;

use super::{
    Cells, EntryFormat, EntryImportError, EntryRow, Table, cells, check_span, find, missing,
};

/// The columns, in the documented order.
pub const COLUMNS: [&str; 6] = [
    "start",
    "stop",
    "project",
    "description",
    "tags",
    "billable",
];

pub(crate) fn read(table: &Table, zone: Tz) -> Result<Vec<EntryRow>, EntryImportError> {
    let format = EntryFormat::Generic;
    let h = &table.header;
    if let Some(unknown) = h
        .iter()
        .map(|name| super::strip_bom(name).trim())
        .find(|name| !COLUMNS.iter().any(|c| c.eq_ignore_ascii_case(name)))
    {
        return Err(EntryImportError {
            format: Some(format),
            row: Some(1),
            column: Some(unknown.to_owned()),
            message: format!(
                "unknown column; the generic format has {}",
                COLUMNS.join(", ")
            ),
        });
    }
    let col = |name: &str| find(h, &[name]);
    let start = col("start").ok_or_else(|| missing(format, h, "start"))?;
    let stop = col("stop").ok_or_else(|| missing(format, h, "stop"))?;
    let (project, description, tags, billable) = (
        col("project"),
        col("description"),
        col("tags"),
        col("billable"),
    );
    let mut out = Vec::with_capacity(table.rows.len());
    for (row, cells) in &table.rows {
        let c = Cells {
            format,
            header: h,
            row: *row,
            cells,
        };
        let at = |i: usize| {
            let text = c.get(Some(i));
            if text.is_empty() {
                return Err(c.fail(i, "empty: a time is needed"));
            }
            cells::instant(text, zone).map_err(|m| c.fail(i, m))
        };
        let (from, to) = (at(start)?, at(stop)?);
        check_span(&c, from, to, start, stop)?;
        out.push(EntryRow {
            row: *row,
            start: from,
            stop: to,
            project: c.text(project),
            client: None,
            description: c.get(description).to_owned(),
            tags: cells::tags(c.get(tags)),
            billable: c.billable(billable)?,
        });
    }
    Ok(out)
}
