//! Track importers: GPX, NMEA 0183, GeoJSON and CSV into pings.
//!
//! Parsers only: the caller reads the file and hands the text in, and gets
//! either a whole [`Track`] or one [`ImportError`] that says where the input
//! is wrong. Nothing is imported half-way, so a user who fixes the reported
//! line can re-import without cleaning up duplicates.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::gps::Ping;

pub mod csv;
pub mod entries;
pub mod geojson;
pub mod gpx;
pub mod nmea;
pub mod text;

/// Metres of horizontal accuracy per unit of HDOP.
///
/// Receivers report dilution of precision, not a radius; multiplying by a
/// user-equivalent range error of about 5 m is the usual rough conversion
/// for consumer GPS. It is only used where a format has no better figure.
pub const HDOP_TO_ACCURACY_M: f64 = 5.0;

/// Horizontal accuracy in metres for an HDOP read from a file, see [`HDOP_TO_ACCURACY_M`].
///
/// A finite but absurd HDOP (say `1e308`) would overflow to infinity when multiplied; it is
/// clamped to the largest finite value instead, which still reads as "very poor accuracy".
pub(crate) fn accuracy_from_hdop(hdop: f64) -> f64 {
    (hdop * HDOP_TO_ACCURACY_M).clamp(-f64::MAX, f64::MAX)
}

/// The file formats Tacho can import a recorded track from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrackFormat {
    /// GPX 1.0 or 1.1 (`trk/trkseg/trkpt`).
    Gpx,
    /// NMEA 0183 sentence log (RMC, GGA).
    Nmea,
    /// GeoJSON, including enviroCar track exports.
    GeoJson,
    /// Delimited text with a header row.
    Csv,
}

impl TrackFormat {
    /// Every format, for listing choices in a UI or a CLI help text.
    pub const ALL: [TrackFormat; 4] = [Self::Gpx, Self::Nmea, Self::GeoJson, Self::Csv];

    /// Picks a format from the file extension (gpx, nmea/nma/txt/log, geojson/json, csv) and, failing that, from the first non-blank bytes (`<` → GPX, `$` → NMEA, `{`/`[` → GeoJSON, else CSV).
    ///
    /// `None` only when the extension is unknown and the head is blank, so
    /// there is nothing to go on and the user has to choose.
    pub fn detect(extension: Option<&str>, head: &str) -> Option<Self> {
        if let Some(ext) = extension {
            let ext = ext.trim().trim_start_matches('.').to_ascii_lowercase();
            match ext.as_str() {
                "gpx" => return Some(Self::Gpx),
                "nmea" | "nma" | "txt" | "log" => return Some(Self::Nmea),
                "geojson" | "json" => return Some(Self::GeoJson),
                "csv" => return Some(Self::Csv),
                _ => {}
            }
        }
        let first = strip_bom(head).chars().find(|c| !c.is_whitespace())?;
        Some(match first {
            '<' => Self::Gpx,
            '$' => Self::Nmea,
            '{' | '[' => Self::GeoJson,
            _ => Self::Csv,
        })
    }

    /// The lowercase name used on the command line and in serialised settings.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Gpx => "gpx",
            Self::Nmea => "nmea",
            Self::GeoJson => "geojson",
            Self::Csv => "csv",
        }
    }
}

/// Human-facing name, as used at the start of every [`ImportError`] message.
impl fmt::Display for TrackFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Gpx => "GPX",
            Self::Nmea => "NMEA",
            Self::GeoJson => "GeoJSON",
            Self::Csv => "CSV",
        })
    }
}

/// A format name that is not one of `gpx`, `nmea`, `geojson`, `csv`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown track format {0:?}: expected one of gpx, nmea, geojson, csv")]
pub struct UnknownTrackFormat(pub String);

/// Case-insensitive, so `--format GPX` works as well as `--format gpx`.
impl FromStr for TrackFormat {
    type Err = UnknownTrackFormat;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim();
        Self::ALL
            .into_iter()
            .find(|f| f.as_str().eq_ignore_ascii_case(wanted))
            .ok_or_else(|| UnknownTrackFormat(s.to_owned()))
    }
}

/// A parsed file: one or more segments, each a time-ordered run of fixes as in the file (GPX trkseg; other formats give one segment). Points keep file order; the trip detector downstream deals with duplicates/out-of-order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Track {
    /// The track's own name, when the file has one (GPX `trk/name`, GeoJSON `name`/`id`).
    pub name: Option<String>,
    /// Runs of fixes; a break between segments is a recording gap in the source.
    pub segments: Vec<Vec<Ping>>,
    /// What was skipped and why, for the user to read (an NMEA log's last line cut short
    /// by a logger losing power). Empty for a clean file.
    pub warnings: Vec<ImportWarning>,
}

/// Something in an imported file that was skipped rather than refused, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{format} {location}: {message}")]
pub struct ImportWarning {
    /// The format the input was parsed as.
    pub format: TrackFormat,
    /// Where the skipped part is.
    pub location: Location,
    /// What was skipped and why.
    pub message: String,
}

impl Track {
    /// Total fixes over all segments, e.g. for an "imported N points" message.
    pub fn point_count(&self) -> usize {
        self.segments.iter().map(Vec::len).sum()
    }

    /// All fixes in file order, ignoring segment breaks.
    pub fn pings(&self) -> impl Iterator<Item = &Ping> {
        self.segments.iter().flatten()
    }
}

/// Where in the input a problem is.
///
/// Lines and columns are 1-based, as editors show them; feature indexes are
/// 0-based, as in `features[i]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A whole line (NMEA sentence, CSV record).
    Line(usize),
    /// A cell or a character position (CSV cell with its 1-based column number, JSON syntax error).
    LineColumn {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
    },
    /// An XML element: its path from the root (`gpx/trk/trkseg/trkpt`) and the line of its start tag.
    Element {
        /// Slash-separated local names from the root to the element.
        path: String,
        /// 1-based line of the element's start tag.
        line: usize,
    },
    /// A GeoJSON feature, by its 0-based index in the features array.
    Feature {
        /// 0-based index.
        index: usize,
    },
    /// A byte of the file (one that is not UTF-8): its line and 0-based byte offset.
    Byte {
        /// 1-based line.
        line: usize,
        /// 0-based offset from the start of the file.
        offset: usize,
    },
}

/// Reads as the middle of an error message: `line 12, element <trkpt>`.
impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Line(line) => write!(f, "line {line}"),
            Self::LineColumn { line, column } => write!(f, "line {line}, column {column}"),
            Self::Element { path, line } => {
                let name = path.rsplit('/').next().unwrap_or(path);
                write!(f, "line {line}, element <{name}>")
            }
            Self::Feature { index } => write!(f, "features[{index}]"),
            Self::Byte { line, offset } => write!(f, "line {line}, byte offset {offset}"),
        }
    }
}

/// Why a file could not be imported, and where, so the user can fix the file.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{format} {location}: {message}")]
pub struct ImportError {
    /// The format the input was parsed as.
    pub format: TrackFormat,
    /// Where the problem is.
    pub location: Location,
    /// What is wrong, in words for the user (never empty).
    pub message: String,
}

impl ImportError {
    pub(crate) fn new(format: TrackFormat, location: Location, message: impl Into<String>) -> Self {
        let mut message = message.into();
        if message.is_empty() {
            message.push_str("invalid input");
        }
        Self {
            format,
            location,
            message,
        }
    }
}

/// Parses a whole file; the input is already in memory. Any malformed record fails the whole parse (import nothing half-way).
pub fn parse(format: TrackFormat, input: &str) -> Result<Track, ImportError> {
    match format {
        TrackFormat::Gpx => gpx::parse(input),
        TrackFormat::Nmea => nmea::parse(input),
        TrackFormat::GeoJson => geojson::parse(input),
        TrackFormat::Csv => csv::parse(input),
    }
}

/// Parses a whole file as read from disk: bytes that are not UTF-8 are refused naming the
/// line and byte offset of the first bad byte (see [`text::utf8`]), then as [`parse`].
pub fn parse_bytes(format: TrackFormat, input: &[u8]) -> Result<Track, ImportError> {
    let text = text::utf8(input).map_err(|e| not_utf8(format, e))?;
    parse(format, text)
}

/// The error for a file that is not UTF-8, as every track format reports it.
pub fn not_utf8(format: TrackFormat, e: text::NotUtf8) -> ImportError {
    ImportError::new(
        format,
        Location::Byte {
            line: e.line,
            offset: e.offset,
        },
        e.to_string(),
    )
}

/// Drops a UTF-8 byte-order mark, which editors on Windows like to add.
pub(crate) fn strip_bom(input: &str) -> &str {
    input.strip_prefix('\u{feff}').unwrap_or(input)
}

/// Maps byte offsets to 1-based line numbers.
pub(crate) struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub(crate) fn new(input: &str) -> Self {
        let starts = std::iter::once(0)
            .chain(
                input
                    .bytes()
                    .enumerate()
                    .filter(|&(_, b)| b == b'\n')
                    .map(|(i, _)| i + 1),
            )
            .collect();
        Self { starts }
    }

    pub(crate) fn line_of(&self, offset: usize) -> usize {
        match self.starts.binary_search(&offset) {
            Ok(i) => i + 1,
            Err(i) => i.max(1),
        }
    }
}

/// Parses a finite decimal number; `inf` and `NaN` are garbage in a track file.
pub(crate) fn parse_finite(text: &str) -> Option<f64> {
    text.trim().parse::<f64>().ok().filter(|v| v.is_finite())
}

/// Latitude in range, or a message saying why not.
pub(crate) fn check_lat(lat: f64) -> Result<f64, String> {
    if (-90.0..=90.0).contains(&lat) {
        Ok(lat)
    } else {
        Err(format!("latitude {lat} is outside -90..90"))
    }
}

/// Longitude in range, or a message saying why not.
pub(crate) fn check_lon(lon: f64) -> Result<f64, String> {
    if (-180.0..=180.0).contains(&lon) {
        Ok(lon)
    } else {
        Err(format!("longitude {lon} is outside -180..180"))
    }
}

/// RFC 3339, or the same without a zone (taken as UTC, which GPX mandates and
/// most exporters mean), with `T` or a space between date and time.
pub(crate) fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
        .map(|t| t.and_utc())
}

/// Shortens user data quoted in an error message so a binary file does not
/// produce a megabyte-long message.
pub(crate) fn snippet(text: &str) -> String {
    const MAX: usize = 40;
    let text = text.trim();
    if text.chars().count() <= MAX {
        format!("{text:?}")
    } else {
        let cut: String = text.chars().take(MAX).collect();
        format!("{cut:?}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_index_maps_offsets() {
        let idx = LineIndex::new("ab\ncd\n\nef");
        assert_eq!(idx.line_of(0), 1);
        assert_eq!(idx.line_of(2), 1);
        assert_eq!(idx.line_of(3), 2);
        assert_eq!(idx.line_of(6), 3);
        assert_eq!(idx.line_of(7), 4);
        assert_eq!(idx.line_of(100), 4);
    }

    #[test]
    fn timestamps_with_and_without_zone() {
        let want = "2020-03-05T13:22:06Z".parse::<DateTime<Utc>>().ok();
        assert_eq!(parse_timestamp("2020-03-05T13:22:06Z"), want);
        assert_eq!(parse_timestamp("2020-03-05T14:22:06+01:00"), want);
        assert_eq!(parse_timestamp("2020-03-05 13:22:06"), want);
        assert_eq!(parse_timestamp("2020-03-05T13:22:06"), want);
        assert_eq!(parse_timestamp("yesterday"), None);
    }

    /// Found by fuzzing (fuzz/corpus/import_gpx/edge_extremes.gpx): an absurd HDOP overflowed
    /// to an infinite accuracy in every format that converts HDOP.
    #[test]
    fn an_absurd_hdop_gives_a_finite_accuracy() {
        let gpx = r#"<gpx><trk><trkseg><trkpt lat="1" lon="2"><time>2024-01-01T00:00:00Z</time><hdop>1e308</hdop></trkpt></trkseg></trk></gpx>"#;
        let nmea = "$GPRMC,120000.00,A,5304.5000,N,00848.4200,E,10.0,90.0,010124,,,A*56\n\
                    $GPGGA,120000.00,5304.5000,N,00848.4200,E,1,08,1e308,12.5,M,39.0,M,,*1F\n";
        let geojson = r#"{"type":"Feature","properties":{"time":"2024-01-01T00:00:00Z","phenomenons":{"GPS HDOP":{"value":1e308}}},"geometry":{"type":"Point","coordinates":[2,1]}}"#;
        for (format, input) in [
            (TrackFormat::Gpx, gpx),
            (TrackFormat::Nmea, nmea),
            (TrackFormat::GeoJson, geojson),
        ] {
            let track = parse(format, input).unwrap_or_else(|e| panic!("{format}: {e}"));
            let accuracy = track.pings().next().and_then(|p| p.accuracy_m);
            assert_eq!(accuracy, Some(f64::MAX), "{format}");
        }
        assert_eq!(accuracy_from_hdop(-1e308), -f64::MAX);
        assert_eq!(accuracy_from_hdop(0.8), 4.0);
    }

    #[test]
    fn display_reads_naturally() {
        let e = ImportError::new(
            TrackFormat::Gpx,
            Location::Element {
                path: "gpx/trk/trkseg/trkpt".into(),
                line: 12,
            },
            "missing attribute lat",
        );
        assert_eq!(
            e.to_string(),
            "GPX line 12, element <trkpt>: missing attribute lat"
        );
    }
}
