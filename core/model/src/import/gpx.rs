//! GPX 1.0 and 1.1 track import, with a streaming reader (no DOM), so a
//! large recording costs one pass and little memory.
//!
//! Only `trk/trkseg/trkpt` is a recorded track; routes (`rte`) and waypoints
//! (`wpt`) are planned or marked places, not driven ones, and are skipped.
//! Elements are matched by local name, so both the 1.0 and 1.1 namespaces
//! (and prefixed forms such as `<gpx:trkpt>`) are accepted.
//!
//! Per point: `lat`/`lon` attributes and `<time>` are required; `<ele>`,
//! GPX 1.0 `<speed>` (m/s) and `<course>` (degrees), and `<hdop>` (times
//! [`HDOP_TO_ACCURACY_M`](super::HDOP_TO_ACCURACY_M)) are optional. A `speed` or `course` anywhere inside
//! the point's `<extensions>` (Garmin TrackPointExtension v2 and several apps
//! write one there, in m/s and degrees) is used when the point has no
//! GPX 1.0 one.

use quick_xml::Reader;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesStart, Event};

use crate::gps::Ping;

use super::{
    ImportError, LineIndex, Location, Track, TrackFormat, accuracy_from_hdop, check_lat, check_lon,
    parse_finite, parse_timestamp, snippet, strip_bom,
};

/// An element that is open while reading.
struct Open {
    name: String,
    line: usize,
}

/// What is known of a `<trkpt>` until its end tag.
struct PointDraft {
    path: String,
    line: usize,
    lat: f64,
    lon: f64,
    time: Option<chrono::DateTime<chrono::Utc>>,
    ele: Option<f64>,
    speed: Option<f64>,
    course: Option<f64>,
    hdop: Option<f64>,
    ext_speed: Option<f64>,
    ext_course: Option<f64>,
}

impl PointDraft {
    fn finish(self) -> Result<Ping, ImportError> {
        let Some(at) = self.time else {
            return Err(ImportError::new(
                TrackFormat::Gpx,
                Location::Element {
                    path: self.path,
                    line: self.line,
                },
                "missing <time>: every track point needs a time",
            ));
        };
        Ok(Ping {
            at,
            lat: self.lat,
            lon: self.lon,
            accuracy_m: self.hdop.map(accuracy_from_hdop),
            speed_mps: self.speed.or(self.ext_speed),
            heading_deg: self.course.or(self.ext_course),
            altitude_m: self.ele,
        })
    }
}

/// Parses a GPX 1.0 or 1.1 document into one segment per non-empty `<trkseg>`.
pub fn parse(input: &str) -> Result<Track, ImportError> {
    let input = strip_bom(input);
    let lines = LineIndex::new(input);
    let mut reader = Reader::from_str(input);
    reader.config_mut().check_end_names = true;

    let mut stack: Vec<Open> = Vec::new();
    let mut root: Option<usize> = None;
    let mut track = Track::default();
    let mut segment: Option<Vec<Ping>> = None;
    let mut point: Option<PointDraft> = None;
    let mut text = String::new();

    loop {
        let event = reader.read_event().map_err(|e| {
            let at = usize::try_from(reader.error_position()).unwrap_or(usize::MAX);
            ImportError::new(
                TrackFormat::Gpx,
                Location::Line(lines.line_of(at)),
                format!("malformed XML: {e}"),
            )
        })?;
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let end = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
                let line = lines.line_of(tag_start(input, end));
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                if stack.is_empty() {
                    if root.is_some() {
                        return Err(err_line(line, format!("second root element <{name}>")));
                    }
                    if name != "gpx" {
                        return Err(err_line(
                            line,
                            format!("not a GPX file: the root element is <{name}>, not <gpx>"),
                        ));
                    }
                    root = Some(line);
                }
                stack.push(Open { name, line });
                text.clear();
                open(&stack, e, &reader, &mut segment, &mut point)?;
                if matches!(event, Event::Empty(_)) {
                    close(&stack, "", &mut track, &mut segment, &mut point)?;
                    stack.pop();
                }
            }
            Event::End(_) => {
                close(&stack, &text, &mut track, &mut segment, &mut point)?;
                stack.pop();
                text.clear();
            }
            Event::Text(t) => {
                let here = current_line(&stack);
                let s = t
                    .decode()
                    .map_err(|e| err_line(here, format!("bad text: {e}")))?;
                text.push_str(&s);
            }
            Event::CData(c) => {
                let here = current_line(&stack);
                let s = c
                    .decode()
                    .map_err(|e| err_line(here, format!("bad CDATA: {e}")))?;
                text.push_str(&s);
            }
            Event::GeneralRef(r) => {
                let here = current_line(&stack);
                match r.resolve_char_ref() {
                    Ok(Some(c)) => text.push(c),
                    Ok(None) => {
                        let name = r
                            .decode()
                            .map_err(|e| err_line(here, format!("bad entity: {e}")))?;
                        match resolve_predefined_entity(&name) {
                            Some(s) => text.push_str(s),
                            None => {
                                // Unknown entities (from a DTD we do not read) stay as
                                // written; in a number or a time they then fail to parse.
                                text.push('&');
                                text.push_str(&name);
                                text.push(';');
                            }
                        }
                    }
                    Err(e) => return Err(err_line(here, format!("bad character reference: {e}"))),
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }

    if let Some(open) = stack.last() {
        return Err(ImportError::new(
            TrackFormat::Gpx,
            Location::Element {
                path: path_of(&stack),
                line: open.line,
            },
            format!("malformed XML: the file ends before </{}>", open.name),
        ));
    }
    let Some(root_line) = root else {
        return Err(err_line(1, "not a GPX file: no <gpx> element"));
    };
    if track.point_count() == 0 {
        return Err(ImportError::new(
            TrackFormat::Gpx,
            Location::Element {
                path: "gpx".into(),
                line: root_line,
            },
            "no track points: the file has no <trk>/<trkseg>/<trkpt> (routes and waypoints are not imported)",
        ));
    }
    Ok(track)
}

fn err_line(line: usize, message: impl Into<String>) -> ImportError {
    ImportError::new(TrackFormat::Gpx, Location::Line(line), message)
}

fn current_line(stack: &[Open]) -> usize {
    stack.last().map_or(1, |o| o.line)
}

fn path_of(stack: &[Open]) -> String {
    let names: Vec<&str> = stack.iter().map(|o| o.name.as_str()).collect();
    names.join("/")
}

fn element_error(stack: &[Open], message: impl Into<String>) -> ImportError {
    ImportError::new(
        TrackFormat::Gpx,
        Location::Element {
            path: path_of(stack),
            line: current_line(stack),
        },
        message,
    )
}

/// Byte offset of the `<` that opened the tag ending just before `end`.
/// `<` cannot appear inside a well-formed tag, so the last one is it.
fn tag_start(input: &str, end: usize) -> usize {
    let bytes = input.as_bytes();
    let end = end.min(bytes.len());
    bytes[..end].iter().rposition(|&b| b == b'<').unwrap_or(0)
}

/// True when the open elements, below the root, are exactly `names`.
fn at(stack: &[Open], names: &[&str]) -> bool {
    stack.len() == names.len() + 1 && stack[1..].iter().zip(names).all(|(o, n)| o.name == *n)
}

const TRKPT: [&str; 3] = ["trk", "trkseg", "trkpt"];

fn open(
    stack: &[Open],
    e: &BytesStart<'_>,
    reader: &Reader<&[u8]>,
    segment: &mut Option<Vec<Ping>>,
    point: &mut Option<PointDraft>,
) -> Result<(), ImportError> {
    if at(stack, &["trk", "trkseg"]) {
        *segment = Some(Vec::new());
    } else if at(stack, &TRKPT) {
        let mut lat = None;
        let mut lon = None;
        for attr in e.attributes() {
            let attr = attr.map_err(|err| element_error(stack, format!("bad attribute: {err}")))?;
            let key = attr.key.local_name();
            let slot = match key.as_ref() {
                b"lat" => &mut lat,
                b"lon" => &mut lon,
                _ => continue,
            };
            let value = attr
                .decode_and_unescape_value(reader.decoder())
                .map_err(|err| element_error(stack, format!("bad attribute: {err}")))?;
            *slot = Some(value.into_owned());
        }
        let coordinate = |value: Option<String>, name: &str| -> Result<f64, ImportError> {
            let value =
                value.ok_or_else(|| element_error(stack, format!("missing attribute {name}")))?;
            parse_finite(&value).ok_or_else(|| {
                element_error(
                    stack,
                    format!("attribute {name} is not a number: {}", snippet(&value)),
                )
            })
        };
        let lat = check_lat(coordinate(lat, "lat")?).map_err(|m| element_error(stack, m))?;
        let lon = check_lon(coordinate(lon, "lon")?).map_err(|m| element_error(stack, m))?;
        *point = Some(PointDraft {
            path: path_of(stack),
            line: current_line(stack),
            lat,
            lon,
            time: None,
            ele: None,
            speed: None,
            course: None,
            hdop: None,
            ext_speed: None,
            ext_course: None,
        });
    }
    Ok(())
}

fn close(
    stack: &[Open],
    text: &str,
    track: &mut Track,
    segment: &mut Option<Vec<Ping>>,
    point: &mut Option<PointDraft>,
) -> Result<(), ImportError> {
    if at(stack, &["trk", "name"]) {
        let name = text.trim();
        if track.name.is_none() && !name.is_empty() {
            track.name = Some(name.to_owned());
        }
    } else if at(stack, &["trk", "trkseg"]) {
        if let Some(seg) = segment.take().filter(|s| !s.is_empty()) {
            track.segments.push(seg);
        }
    } else if at(stack, &TRKPT) {
        if let Some(draft) = point.take() {
            let ping = draft.finish()?;
            if let Some(seg) = segment.as_mut() {
                seg.push(ping);
            }
        }
    } else if stack.len() > TRKPT.len() + 1
        && stack[1..=TRKPT.len()]
            .iter()
            .zip(TRKPT)
            .all(|(o, n)| o.name == n)
    {
        let Some(draft) = point.as_mut() else {
            return Ok(());
        };
        let child = &stack[TRKPT.len() + 1].name;
        let leaf = stack.last().map_or("", |o| o.name.as_str());
        let number = || -> Result<Option<f64>, ImportError> {
            let t = text.trim();
            if t.is_empty() {
                return Ok(None);
            }
            parse_finite(t).map(Some).ok_or_else(|| {
                element_error(stack, format!("<{leaf}> is not a number: {}", snippet(t)))
            })
        };
        if stack.len() == TRKPT.len() + 2 {
            match leaf {
                "time" => {
                    let t = parse_timestamp(text).ok_or_else(|| {
                        element_error(
                            stack,
                            format!("bad time {}: expected ISO 8601 / RFC 3339", snippet(text)),
                        )
                    })?;
                    draft.time = Some(t);
                }
                "ele" => draft.ele = number()?,
                "speed" => draft.speed = number()?,
                "course" => draft.course = number()?,
                "hdop" => draft.hdop = number()?,
                _ => {}
            }
        } else if child == "extensions" {
            match leaf {
                "speed" => draft.ext_speed = draft.ext_speed.or(number()?),
                "course" => draft.ext_course = draft.ext_course.or(number()?),
                _ => {}
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_start_finds_the_open_bracket() {
        let s = "<a>\n  <b x=\"1\"/>";
        assert_eq!(tag_start(s, s.len()), 6);
        assert_eq!(tag_start("", 5), 0);
    }
}
