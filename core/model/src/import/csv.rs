//! CSV track import: one fix per row, columns found by header name.
//!
//! The header row is required (line 1) and matched case-insensitively:
//! `lat`/`latitude`, `lon`/`lng`/`long`/`longitude` and a time are required;
//! `accuracy`, `speed` (m/s), `heading`/`course`/`bearing` and
//! `altitude`/`alt`/`ele`/`elevation` are optional (an empty cell is "not
//! known"). The time is `timestamp`, `time` or `date`; when a file splits it
//! into `date` and `time` columns the two are joined. A time cell is RFC 3339,
//! `YYYY-MM-DD HH:MM:SS` (UTC), or Unix time: seconds, or milliseconds when
//! the magnitude is at least 10^11 (which as seconds would be past year 5000).
//!
//! The delimiter is `,`, `;` or tab, whichever the header has most of. With
//! `;` a decimal comma (`53,0990`) is accepted, as spreadsheet programs in
//! comma-decimal locales write it. Quoting follows RFC 4180.

use chrono::{DateTime, Utc};

use crate::gps::Ping;

use super::{
    ImportError, Location, Track, TrackFormat, check_lat, check_lon, parse_finite, parse_timestamp,
    snippet, strip_bom,
};

/// Unix times at or above this magnitude are milliseconds, not seconds.
const MILLIS_THRESHOLD: f64 = 1e11;

/// How to get the time out of a row.
enum TimeColumns {
    One(usize),
    DateAndTime { date: usize, time: usize },
}

struct Columns {
    lat: usize,
    lon: usize,
    time: TimeColumns,
    accuracy: Option<usize>,
    speed: Option<usize>,
    heading: Option<usize>,
    altitude: Option<usize>,
}

/// Parses delimited text with a header row into one segment of fixes.
pub fn parse(input: &str) -> Result<Track, ImportError> {
    let input = strip_bom(input);
    let header_line = input.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let delimiter = sniff_delimiter(header_line);
    check_quotes(input)?;
    let mut records = Records::new(input, delimiter);

    let names: Vec<String> = match records.next_record()? {
        Some((_, fields)) => fields.iter().map(|h| h.to_lowercase()).collect(),
        None => Vec::new(),
    };
    let columns = find_columns(&names)?;

    let mut pings = Vec::new();
    while let Some((line, record)) = records.next_record()? {
        if record.len() != names.len() {
            return Err(ImportError::new(
                TrackFormat::Csv,
                Location::Line(line),
                format!(
                    "expected {} fields as in the header, found {}",
                    names.len(),
                    record.len()
                ),
            ));
        }
        let row = Row {
            record: &record,
            names: &names,
            line,
            decimal_comma: delimiter == ';',
        };
        pings.push(row.ping(&columns)?);
    }
    if pings.is_empty() {
        return Err(ImportError::new(
            TrackFormat::Csv,
            Location::Line(1),
            "no track points: the file has a header but no rows",
        ));
    }
    Ok(Track {
        name: None,
        segments: vec![pings],
        warnings: Vec::new(),
    })
}

/// Records from the `csv` crate, each with the line it starts on (a quoted
/// field may span lines). Fields are trimmed; blank lines are skipped.
struct Records<'a> {
    reader: ::csv::Reader<&'a [u8]>,
    record: ::csv::StringRecord,
}

impl<'a> Records<'a> {
    fn new(input: &'a str, delimiter: char) -> Self {
        let reader = ::csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .trim(::csv::Trim::All)
            .delimiter(u8::try_from(delimiter).unwrap_or(b','))
            .from_reader(input.as_bytes());
        Self {
            reader,
            record: ::csv::StringRecord::new(),
        }
    }

    fn next_record(&mut self) -> Result<Option<(usize, Vec<String>)>, ImportError> {
        match self.reader.read_record(&mut self.record) {
            Ok(false) => Ok(None),
            Ok(true) => {
                let line = self
                    .record
                    .position()
                    .map_or(1, |p| usize::try_from(p.line()).unwrap_or(usize::MAX));
                Ok(Some((
                    line,
                    self.record.iter().map(str::to_owned).collect(),
                )))
            }
            Err(e) => {
                let line = e
                    .position()
                    .map_or(1, |p| usize::try_from(p.line()).unwrap_or(usize::MAX));
                Err(ImportError::new(
                    TrackFormat::Csv,
                    Location::Line(line),
                    format!("unreadable CSV: {e}"),
                ))
            }
        }
    }
}

/// A file cut off inside a quoted field (a truncated download) is an error;
/// the `csv` crate would quietly end the field at the end of the input.
fn check_quotes(input: &str) -> Result<(), ImportError> {
    let mut open_line = None;
    let mut line = 1;
    for c in input.chars() {
        match c {
            '"' => {
                open_line = if open_line.is_some() {
                    None
                } else {
                    Some(line)
                }
            }
            '\n' => line += 1,
            _ => {}
        }
    }
    match open_line {
        Some(line) => Err(ImportError::new(
            TrackFormat::Csv,
            Location::Line(line),
            "unterminated quoted field (is the file cut off?)",
        )),
        None => Ok(()),
    }
}

fn sniff_delimiter(header: &str) -> char {
    let count = |c: char| header.chars().filter(|&x| x == c).count();
    let (comma, semi, tab) = (count(','), count(';'), count('\t'));
    if semi > comma && semi >= tab {
        ';'
    } else if tab > comma && tab > semi {
        '\t'
    } else {
        ','
    }
}

fn find_columns(names: &[String]) -> Result<Columns, ImportError> {
    let header_error =
        |message: String| ImportError::new(TrackFormat::Csv, Location::Line(1), message);
    let find = |aliases: &[&str]| -> Result<Option<usize>, ImportError> {
        let hits: Vec<usize> = names
            .iter()
            .enumerate()
            .filter(|(_, n)| aliases.contains(&n.as_str()))
            .map(|(i, _)| i)
            .collect();
        match hits.as_slice() {
            [] => Ok(None),
            [i] => Ok(Some(*i)),
            [a, b, ..] => Err(header_error(format!(
                "ambiguous header: both {:?} and {:?} could be the {} column",
                names[*a], names[*b], aliases[0]
            ))),
        }
    };
    let found = names.join(", ");
    let required = |aliases: &[&str]| -> Result<usize, ImportError> {
        find(aliases)?.ok_or_else(|| {
            header_error(format!(
                "header row required: no {} column (found: {})",
                aliases.join("/"),
                snippet(&found)
            ))
        })
    };
    let lat = required(&["lat", "latitude"])?;
    let lon = required(&["lon", "lng", "long", "longitude"])?;
    let time = match (find(&["timestamp"])?, find(&["date"])?, find(&["time"])?) {
        (Some(t), _, _) => TimeColumns::One(t),
        (None, Some(date), Some(time)) => TimeColumns::DateAndTime { date, time },
        (None, Some(t), None) | (None, None, Some(t)) => TimeColumns::One(t),
        (None, None, None) => {
            return Err(header_error(format!(
                "header row required: no time/timestamp/date column (found: {})",
                snippet(&found)
            )));
        }
    };
    Ok(Columns {
        lat,
        lon,
        time,
        accuracy: find(&["accuracy", "accuracy_m"])?,
        speed: find(&["speed", "speed_mps"])?,
        heading: find(&["heading", "course", "bearing"])?,
        altitude: find(&["altitude", "alt", "ele", "elevation"])?,
    })
}

struct Row<'a> {
    record: &'a [String],
    names: &'a [String],
    line: usize,
    decimal_comma: bool,
}

impl Row<'_> {
    fn cell(&self, i: usize) -> &str {
        self.record.get(i).map_or("", |s| s.trim())
    }

    fn fail(&self, i: usize, message: impl std::fmt::Display) -> ImportError {
        let name = self.names.get(i).map_or("?", String::as_str);
        ImportError::new(
            TrackFormat::Csv,
            Location::LineColumn {
                line: self.line,
                column: i + 1,
            },
            format!("column {name:?}: {message}"),
        )
    }

    fn number(&self, i: usize) -> Result<Option<f64>, ImportError> {
        let v = self.cell(i);
        if v.is_empty() {
            return Ok(None);
        }
        let parsed = if self.decimal_comma && !v.contains('.') && v.matches(',').count() == 1 {
            parse_finite(&v.replace(',', "."))
        } else {
            parse_finite(v)
        };
        parsed
            .map(Some)
            .ok_or_else(|| self.fail(i, format!("not a number: {}", snippet(v))))
    }

    fn required(&self, i: usize) -> Result<f64, ImportError> {
        self.number(i)?.ok_or_else(|| self.fail(i, "empty"))
    }

    fn time(&self, columns: &TimeColumns) -> Result<DateTime<Utc>, ImportError> {
        let (i, text) = match *columns {
            TimeColumns::One(i) => (i, self.cell(i).to_owned()),
            TimeColumns::DateAndTime { date, time } => {
                let t = self.cell(time);
                if parse_time_cell(t).is_some() {
                    (time, t.to_owned())
                } else {
                    (time, format!("{} {t}", self.cell(date)))
                }
            }
        };
        if text.trim().is_empty() {
            return Err(self.fail(i, "empty"));
        }
        parse_time_cell(&text).ok_or_else(|| {
            self.fail(
                i,
                format!(
                    "bad time {}: expected RFC 3339, YYYY-MM-DD HH:MM:SS or Unix seconds/milliseconds",
                    snippet(&text)
                ),
            )
        })
    }

    fn ping(&self, c: &Columns) -> Result<Ping, ImportError> {
        let lat = check_lat(self.required(c.lat)?).map_err(|m| self.fail(c.lat, m))?;
        let lon = check_lon(self.required(c.lon)?).map_err(|m| self.fail(c.lon, m))?;
        let at = self.time(&c.time)?;
        let opt = |col: Option<usize>| col.map_or(Ok(None), |i| self.number(i));
        Ok(Ping {
            at,
            lat,
            lon,
            accuracy_m: opt(c.accuracy)?,
            speed_mps: opt(c.speed)?,
            heading_deg: opt(c.heading)?,
            altitude_m: opt(c.altitude)?,
        })
    }
}

/// A timestamp or Unix time (seconds, or milliseconds from 10^11 up).
fn parse_time_cell(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Some(t) = parse_timestamp(text) {
        return Some(t);
    }
    if let Ok(n) = text.parse::<i64>() {
        return if n.unsigned_abs() >= 100_000_000_000 {
            DateTime::from_timestamp_millis(n)
        } else {
            DateTime::from_timestamp(n, 0)
        };
    }
    if !text
        .bytes()
        .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-')
    {
        return None;
    }
    let x = parse_finite(text)?;
    let secs = if x.abs() >= MILLIS_THRESHOLD {
        x / 1000.0
    } else {
        x
    };
    let whole = secs.floor();
    if whole.abs() > 1e14 {
        return None;
    }
    // The range check above keeps both casts exact enough and in range.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let nanos = ((secs - whole) * 1e9).round().min(999_999_999.0) as u32;
    #[allow(clippy::cast_possible_truncation)]
    let whole = whole as i64;
    DateTime::from_timestamp(whole, nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_seconds_and_millis() {
        let want = DateTime::from_timestamp(1_583_414_526, 0);
        assert_eq!(parse_time_cell("1583414526"), want);
        assert_eq!(parse_time_cell("1583414526000"), want);
        assert_eq!(
            parse_time_cell("1583414526.5"),
            DateTime::from_timestamp(1_583_414_526, 500_000_000)
        );
        assert_eq!(parse_time_cell("99999999999999999999"), None);
        assert_eq!(parse_time_cell("1e9"), None);
    }

    #[test]
    fn delimiter_sniffing() {
        assert_eq!(sniff_delimiter("lat,lon,time"), ',');
        assert_eq!(sniff_delimiter("lat;lon;time"), ';');
        assert_eq!(sniff_delimiter("lat\tlon\ttime"), '\t');
        assert_eq!(sniff_delimiter("lat"), ',');
    }
}
