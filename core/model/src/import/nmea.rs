//! NMEA 0183 log import: RMC and GGA sentences from any talker (`GP`, `GN`,
//! `GL`, …); every other sentence type is ignored.
//!
//! RMC is the only sentence with a date, so it anchors every fix. A GGA adds
//! altitude and HDOP (times [`HDOP_TO_ACCURACY_M`](super::HDOP_TO_ACCURACY_M)) to the RMC of the same
//! time of day next to it; a GGA with no such RMC becomes a fix of its own,
//! dated from the nearest RMC before it (or, before the first RMC, the first
//! one after it), rolling the date over at midnight. One epoch gives one fix:
//! receivers that repeat a fix under several talker ids (`GPRMC` and
//! `GNRMC`) do not produce duplicates.
//!
//! Skipped, not errors: void RMC (status `V`, or mode `N`), GGA with fix
//! quality 0, proprietary (`$P…`) and other sentences, blank lines.
//! Errors: a line not starting with `$`, a bad `*hh` checksum, a garbage
//! field in an RMC or GGA, a GGA-only log (no date), a log with no fix.
//!
//! A last line cut short (a logger losing power mid-sentence: `$GPG`, or a
//! sentence that stops before its `*hh` while the other sentences carry one,
//! or that stops inside it) is skipped with a [`Track::warnings`] entry naming
//! the line: refusing the whole log for its last second would make people
//! edit the file by hand for nothing. The same damage on any other line (a
//! sentence without `*hh` in a log whose sentences carry one, or a partial
//! checksum) is an error, since there it is not a cut but a corrupt file.

use chrono::{DateTime, NaiveDate, NaiveTime, TimeDelta, Utc};

use crate::gps::Ping;

use super::{
    ImportError, ImportWarning, Location, Track, TrackFormat, accuracy_from_hdop, check_lat,
    check_lon, parse_finite, snippet, strip_bom,
};

const KNOTS_TO_MPS: f64 = 1852.0 / 3600.0;

/// A fix from one sentence, before dates are resolved.
#[derive(Debug, Clone, Copy)]
struct Record {
    line: usize,
    tod: NaiveTime,
    kind: Kind,
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Rmc {
        date: NaiveDate,
        lat: f64,
        lon: f64,
        speed_mps: Option<f64>,
        course: Option<f64>,
    },
    Gga {
        lat: f64,
        lon: f64,
        hdop: Option<f64>,
        altitude: Option<f64>,
    },
}

/// All sentences of one time of day that follow each other in the file.
#[derive(Debug, Default)]
struct Epoch {
    rmc: Option<Record>,
    gga: Option<Record>,
}

impl Epoch {
    fn tod(&self) -> Option<NaiveTime> {
        self.rmc.or(self.gga).map(|r| r.tod)
    }

    fn rmc_date(&self) -> Option<NaiveDate> {
        match self.rmc?.kind {
            Kind::Rmc { date, .. } => Some(date),
            Kind::Gga { .. } => None,
        }
    }
}

/// Parses an NMEA 0183 log into one segment of fixes in file order.
pub fn parse(input: &str) -> Result<Track, ImportError> {
    let input = strip_bom(input);
    let mut epochs: Vec<Epoch> = Vec::new();
    let lines: Vec<&str> = input.split('\n').collect();
    let last = lines.iter().rposition(|l| !l.trim().is_empty());
    let uses_checksums = lines.iter().any(|l| l.contains('*'));
    let mut warnings = Vec::new();
    for (i, raw) in lines.iter().enumerate() {
        let line = i + 1;
        if Some(i) == last
            && let Some(why) = cut_short(raw, &lines[..i])
        {
            warnings.push(ImportWarning {
                format: TrackFormat::Nmea,
                location: Location::Line(line),
                message: format!("skipped the last line, {why}: {}", snippet(raw)),
            });
            continue;
        }
        let text = raw.trim();
        if uses_checksums && text.starts_with('$') && !text.contains('*') {
            return Err(err(
                line,
                format!(
                    "no *hh checksum while the other sentences have one: the sentence is cut short or damaged: {}",
                    snippet(text)
                ),
            ));
        }
        let Some(record) = parse_line(raw, line)? else {
            continue;
        };
        let same_epoch = epochs.last().is_some_and(|e| e.tod() == Some(record.tod));
        if !same_epoch {
            epochs.push(Epoch::default());
        }
        if let Some(epoch) = epochs.last_mut() {
            let slot = match record.kind {
                Kind::Rmc { .. } => &mut epoch.rmc,
                Kind::Gga { .. } => &mut epoch.gga,
            };
            slot.get_or_insert(record);
        }
    }

    if epochs.is_empty() {
        let why = match warnings.first() {
            Some(w) => format!(" (and {w})"),
            None => String::new(),
        };
        return Err(err(
            1,
            format!("no fixes: the log has no valid RMC or GGA sentence{why}"),
        ));
    }
    let dates = resolve_dates(&epochs)?;
    let mut pings = Vec::with_capacity(epochs.len());
    for (epoch, date) in epochs.iter().zip(dates) {
        pings.push(fix(epoch, date)?);
    }
    Ok(Track {
        name: None,
        segments: vec![pings],
        warnings,
    })
}

fn err(line: usize, message: impl Into<String>) -> ImportError {
    ImportError::new(TrackFormat::Nmea, Location::Line(line), message)
}

/// More than this backwards in time of day means the clock passed midnight,
/// not that a sentence came late.
fn wrapped(earlier: NaiveTime, later: NaiveTime) -> bool {
    earlier.signed_duration_since(later) > TimeDelta::hours(12)
}

/// The date of every epoch: RMC's own, or inferred for GGA-only epochs.
fn resolve_dates(epochs: &[Epoch]) -> Result<Vec<NaiveDate>, ImportError> {
    let Some(first_rmc) = epochs.iter().position(|e| e.rmc.is_some()) else {
        let line = epochs.first().and_then(|e| e.gga).map_or(1, |r| r.line);
        return Err(err(line, "no date: NMEA import needs RMC sentences"));
    };
    let mut dates: Vec<Option<NaiveDate>> = vec![None; epochs.len()];
    // Forward from the first RMC.
    let mut date = None;
    let mut last_tod = None;
    for (i, epoch) in epochs.iter().enumerate().skip(first_rmc) {
        let tod = epoch.tod();
        if let Some(d) = epoch.rmc_date() {
            date = Some(d);
        } else if let (Some(d), Some(prev), Some(now)) = (date, last_tod, tod)
            && wrapped(prev, now)
        {
            date = d.succ_opt();
        }
        dates[i] = date;
        last_tod = tod;
    }
    // Backward from the first RMC for GGA fixes logged before it.
    let mut date = epochs[first_rmc].rmc_date();
    let mut next_tod = epochs[first_rmc].tod();
    for i in (0..first_rmc).rev() {
        let tod = epochs[i].tod();
        if let (Some(d), Some(next), Some(now)) = (date, next_tod, tod)
            && wrapped(now, next)
        {
            date = d.pred_opt();
        }
        dates[i] = date;
        next_tod = tod;
    }
    dates
        .into_iter()
        .zip(epochs)
        .map(|(d, e)| {
            let line = e.rmc.or(e.gga).map_or(1, |r| r.line);
            d.ok_or_else(|| err(line, "date out of range"))
        })
        .collect()
}

fn fix(epoch: &Epoch, date: NaiveDate) -> Result<Ping, ImportError> {
    let (record, base) = match (epoch.rmc, epoch.gga) {
        (Some(r), _) => (r, r),
        (None, Some(g)) => (g, g),
        (None, None) => return Err(err(1, "internal: empty epoch")),
    };
    let at: DateTime<Utc> = date.and_time(record.tod).and_utc();
    let mut ping = match base.kind {
        Kind::Rmc {
            lat,
            lon,
            speed_mps,
            course,
            ..
        } => Ping {
            speed_mps,
            heading_deg: course,
            ..Ping::at(at, lat, lon)
        },
        Kind::Gga { lat, lon, .. } => Ping::at(at, lat, lon),
    };
    if let Some(Record {
        kind: Kind::Gga { hdop, altitude, .. },
        ..
    }) = epoch.gga
    {
        ping.accuracy_m = hdop.map(accuracy_from_hdop);
        ping.altitude_m = altitude;
    }
    Ok(ping)
}

/// Why the file's last non-blank line is a sentence cut short, or `None` when it is whole (or
/// not a sentence at all, which [`parse_line`] refuses). `before` are the lines above it.
fn cut_short(raw: &str, before: &[&str]) -> Option<&'static str> {
    let body = raw.trim().strip_prefix('$')?;
    let (data, sum) = match body.split_once('*') {
        Some((data, sum)) => (data, Some(sum.trim())),
        None => (body, None),
    };
    let address = data.split(',').next().unwrap_or("");
    if !data.contains(',') || address.len() < 5 {
        return Some("it is cut short after its first characters");
    }
    match sum {
        Some(sum) if sum.len() < 2 && sum.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Some("it is cut short inside its *hh checksum")
        }
        Some(_) => None,
        None if before.iter().any(|l| l.contains('*')) => {
            Some("it is cut short before its *hh checksum (the other sentences have one)")
        }
        // Without checksums in the log a cut can't be told from a bad field: parse_line
        // refuses the line, naming it.
        None => None,
    }
}

/// One line: `None` for lines that carry no fix (blank, ignored or void).
fn parse_line(raw: &str, line: usize) -> Result<Option<Record>, ImportError> {
    let text = raw.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let Some(body) = text.strip_prefix('$') else {
        return Err(err(
            line,
            format!(
                "not an NMEA sentence (does not start with '$'): {}",
                snippet(text)
            ),
        ));
    };
    let body = match body.rsplit_once('*') {
        Some((data, sum)) => {
            let want = u8::from_str_radix(sum.trim(), 16)
                .ok()
                .filter(|_| sum.trim().len() == 2)
                .ok_or_else(|| err(line, format!("bad checksum field {}", snippet(sum))))?;
            let got = data.bytes().fold(0u8, |acc, b| acc ^ b);
            if got != want {
                return Err(err(
                    line,
                    format!(
                        "checksum mismatch: the line says {want:02X}, the data gives {got:02X}"
                    ),
                ));
            }
            data
        }
        None => body,
    };
    let fields: Vec<&str> = body.split(',').collect();
    let address = fields.first().copied().unwrap_or("");
    if address.starts_with('P') || address.len() != 5 || !address.is_ascii() {
        return Ok(None);
    }
    let f = Fields {
        fields: &fields,
        line,
    };
    match &address[2..] {
        "RMC" => parse_rmc(&f),
        "GGA" => parse_gga(&f),
        _ => Ok(None),
    }
}

struct Fields<'a> {
    fields: &'a [&'a str],
    line: usize,
}

impl Fields<'_> {
    fn get(&self, i: usize) -> &str {
        self.fields.get(i).map_or("", |s| s.trim())
    }

    fn fail(&self, name: &str, value: &str, why: &str) -> ImportError {
        err(
            self.line,
            format!("field {name}: {why}: {}", snippet(value)),
        )
    }

    fn time(&self, i: usize) -> Result<NaiveTime, ImportError> {
        let v = self.get(i);
        parse_tod(v).ok_or_else(|| self.fail("time", v, "expected hhmmss[.sss]"))
    }

    fn opt_number(&self, i: usize, name: &str) -> Result<Option<f64>, ImportError> {
        let v = self.get(i);
        if v.is_empty() {
            return Ok(None);
        }
        parse_finite(v)
            .map(Some)
            .ok_or_else(|| self.fail(name, v, "not a number"))
    }

    /// `ddmm.mmmm` (latitude) or `dddmm.mmmm` (longitude) with its hemisphere letter.
    fn coordinate(&self, i: usize, lat: bool) -> Result<f64, ImportError> {
        let (name, pos, neg) = if lat {
            ("latitude", "N", "S")
        } else {
            ("longitude", "E", "W")
        };
        let v = self.get(i);
        let hemi = self.get(i + 1);
        let raw = parse_finite(v)
            .filter(|x| *x >= 0.0)
            .ok_or_else(|| self.fail(name, v, "not a number"))?;
        let degrees = (raw / 100.0).trunc();
        let minutes = raw - degrees * 100.0;
        if minutes >= 60.0 {
            return Err(self.fail(name, v, "minutes must be below 60"));
        }
        let value = degrees + minutes / 60.0;
        let value = if hemi.eq_ignore_ascii_case(pos) {
            value
        } else if hemi.eq_ignore_ascii_case(neg) {
            -value
        } else {
            let which = format!("{name} hemisphere");
            return Err(self.fail(&which, hemi, &format!("expected {pos} or {neg}")));
        };
        let checked = if lat {
            check_lat(value)
        } else {
            check_lon(value)
        };
        checked.map_err(|m| err(self.line, format!("field {name}: {m}")))
    }
}

fn parse_rmc(f: &Fields<'_>) -> Result<Option<Record>, ImportError> {
    // 1 time, 2 status, 3-4 lat, 5-6 lon, 7 speed kn, 8 course, 9 date, 10-11 magvar, 12 mode
    let status = f.get(2);
    if status.eq_ignore_ascii_case("V") || f.get(12).eq_ignore_ascii_case("N") {
        return Ok(None);
    }
    if !status.eq_ignore_ascii_case("A") {
        return Err(f.fail("status", status, "expected A or V"));
    }
    let tod = f.time(1)?;
    let lat = f.coordinate(3, true)?;
    let lon = f.coordinate(5, false)?;
    let speed_mps = f.opt_number(7, "speed")?.map(|kn| kn * KNOTS_TO_MPS);
    let course = f.opt_number(8, "course")?;
    let d = f.get(9);
    let date = parse_date(d).ok_or_else(|| f.fail("date", d, "expected ddmmyy"))?;
    Ok(Some(Record {
        line: f.line,
        tod,
        kind: Kind::Rmc {
            date,
            lat,
            lon,
            speed_mps,
            course,
        },
    }))
}

fn parse_gga(f: &Fields<'_>) -> Result<Option<Record>, ImportError> {
    // 1 time, 2-3 lat, 4-5 lon, 6 quality, 7 satellites, 8 hdop, 9-10 altitude m
    let q = f.get(6);
    let quality: u32 = q
        .parse()
        .map_err(|_| f.fail("fix quality", q, "expected a digit"))?;
    if quality == 0 {
        return Ok(None);
    }
    let tod = f.time(1)?;
    let lat = f.coordinate(2, true)?;
    let lon = f.coordinate(4, false)?;
    let hdop = f.opt_number(8, "HDOP")?;
    let altitude = f.opt_number(9, "altitude")?;
    Ok(Some(Record {
        line: f.line,
        tod,
        kind: Kind::Gga {
            lat,
            lon,
            hdop,
            altitude,
        },
    }))
}

/// `hhmmss` with optional fraction.
fn parse_tod(v: &str) -> Option<NaiveTime> {
    let (whole, frac) = v.split_once('.').unwrap_or((v, ""));
    if whole.len() != 6 || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let h: u32 = whole.get(0..2)?.parse().ok()?;
    let m: u32 = whole.get(2..4)?.parse().ok()?;
    let s: u32 = whole.get(4..6)?.parse().ok()?;
    let nanos = frac
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(9)
        .fold(0u32, |acc, b| acc * 10 + u32::from(b - b'0'));
    if s > 59 {
        return None;
    }
    NaiveTime::from_hms_nano_opt(h, m, s, nanos)
}

/// `ddmmyy`; two-digit years 80–99 are 1980–1999 (GPS began in 1980), the rest 2000–2079.
fn parse_date(v: &str) -> Option<NaiveDate> {
    if v.len() != 6 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let d: u32 = v.get(0..2)?.parse().ok()?;
    let m: u32 = v.get(2..4)?.parse().ok()?;
    let y: i32 = v.get(4..6)?.parse().ok()?;
    let year = if y >= 80 { 1900 + y } else { 2000 + y };
    NaiveDate::from_ymd_opt(year, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_and_date_fields() {
        assert_eq!(
            parse_tod("235959.50"),
            NaiveTime::from_hms_milli_opt(23, 59, 59, 500)
        );
        assert_eq!(parse_tod("000000"), NaiveTime::from_hms_opt(0, 0, 0));
        assert_eq!(parse_tod("24000"), None);
        assert_eq!(parse_tod("12x000"), None);
        assert_eq!(
            parse_tod("120000.1234567891"),
            NaiveTime::from_hms_nano_opt(12, 0, 0, 123_456_789)
        );
        assert_eq!(parse_date("311299"), NaiveDate::from_ymd_opt(1999, 12, 31));
        assert_eq!(parse_date("010124"), NaiveDate::from_ymd_opt(2024, 1, 1));
        assert_eq!(parse_date("320124"), None);
    }

    #[test]
    fn known_sentence_parses() {
        let r = parse_line(
            "$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A",
            1,
        );
        let Ok(Some(Record {
            kind: Kind::Rmc { lat, lon, .. },
            ..
        })) = r
        else {
            panic!("{r:?}");
        };
        assert!((lat - 48.1173).abs() < 1e-9, "{lat}");
        assert!((lon - 11.516_666_666_666_667).abs() < 1e-9, "{lon}");
    }
}
