//! A file's grid of cells, whatever it came as (CSV text or an XLSX sheet): the header row and
//! the data rows, each with the row number a spreadsheet shows (the header is row 1).

use super::{EntryImportError, strip_bom};

/// The header and the rows of one file.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Table {
    /// Header cells as written (trimmed, BOM dropped); matched case-insensitively.
    pub header: Vec<String>,
    /// `(row number, cells)` of every non-blank row after the header.
    pub rows: Vec<(usize, Vec<String>)>,
}

impl Table {
    /// Reads delimited text: `,`, `;` or tab, whichever the header line has most of (Kimai and
    /// spreadsheet programs in comma-decimal locales write `;`). Quoting follows RFC 4180, so a
    /// cell may hold the delimiter or span lines. Blank rows are skipped.
    pub fn from_csv(text: &str) -> Result<Self, EntryImportError> {
        let text = strip_bom(text);
        let header_line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        let delimiter = [b',', b';', b'\t']
            .into_iter()
            .max_by_key(|d| header_line.bytes().filter(|b| b == d).count())
            .unwrap_or(b',');
        let mut reader = ::csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .trim(::csv::Trim::All)
            .delimiter(delimiter)
            .from_reader(text.as_bytes());
        let mut table = Table::default();
        let mut record = ::csv::StringRecord::new();
        let mut number = 0;
        loop {
            match reader.read_record(&mut record) {
                Ok(false) => break,
                Ok(true) => {
                    number += 1;
                    let cells: Vec<String> = record.iter().map(str::to_owned).collect();
                    if number == 1 {
                        table.header = cells;
                    } else if cells.iter().any(|c| !c.is_empty()) {
                        table.rows.push((number, cells));
                    }
                }
                Err(e) => {
                    let line = e.position().map_or(0, |p| p.line());
                    return Err(EntryImportError {
                        format: None,
                        row: Some(number + 1),
                        column: None,
                        message: format!("unreadable CSV near line {line}: {e}"),
                    });
                }
            }
        }
        if table.header.iter().all(String::is_empty) {
            return Err(EntryImportError {
                format: None,
                row: Some(1),
                column: None,
                message: "the file is empty: expected a header row".into(),
            });
        }
        Ok(table)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_numbered_as_a_spreadsheet_shows_them() {
        let t = Table::from_csv("\u{feff}A;B\n1;\"x;y\"\n\n2;\"two\nlines\"\n3;z\n").unwrap();
        assert_eq!(t.header, ["A", "B"]);
        let numbers: Vec<usize> = t.rows.iter().map(|r| r.0).collect();
        assert_eq!(numbers, [2, 3, 4]);
        assert_eq!(t.rows[0].1, ["1", "x;y"]);
        assert_eq!(t.rows[1].1, ["2", "two\nlines"]);
        assert!(Table::from_csv("\n").is_err());
    }
}
