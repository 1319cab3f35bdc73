//! The field schema of every synced entity kind: for each field an op may set, its type and
//! range. One table per kind ([`fields_of`]), read by [`crate::merge::check_shape`], so the
//! relay (422 `invalid_op` naming the field), every client merging a pulled op and every store
//! recording a local write refuse exactly the same values.
//!
//! Two kinds of rule, decided in two places:
//!
//! - **Field rules** ([`check_fields`], [`check_edit_item`], [`check_point_time`]) look at one
//!   value of one op: its type, its range, its text. They need nothing but the op (a time is
//!   judged against the op's own clock, never the receiver's), so every replica decides the
//!   same whatever order ops arrive in, and merging enforces them.
//! - **Order rules** ([`orders_of`], [`check_order`]) relate two fields of one entity (a time
//!   entry stops at or after it starts). Upserts are partial (a timer's stop op carries only
//!   `stop`), so they are judged on the entity's merged state, which depends on the order ops
//!   are applied in. They are therefore decided once, by whoever puts an op into the shared
//!   log: the relay, in log order, for every pushed op ([`crate::merge::EntityState::admit`]),
//!   and a device's store for its own writes (so it never records an op the relay refuses).
//!   Clients do not re-judge pulled ops by them: the relay already did, and a client that
//!   disagreed (its unpushed writes are in its state) would drop an op everybody else keeps.
//!
//! Unknown fields pass untouched (a newer schema's fields survive a round trip, see
//! [`crate::op::SCHEMA_VERSION`]); for an op of a newer schema, an enum value this build does
//! not know passes too (a newer build may have added it), while types and ranges still hold.

use chrono::{DateTime, Datelike, NaiveDate};
use serde_json::{Map, Value};

use crate::merge::InvalidOp;
use crate::op::{EntityKind, SCHEMA_VERSION};

/// 2000-01-01T00:00:00Z in ms: nothing Tacho records (a drive, work time, a reading, an edit,
/// an op's clock) happened before. A device whose clock fell back to 1970 is caught here.
pub const EARLIEST_MS: i64 = 946_684_800_000;
/// How far after the op's own clock a time in it may lie: a day covers time zones and a
/// manual entry typed in advance; a year 2099 typo is refused.
pub const MAX_AHEAD_OF_OP_MS: i64 = 24 * 60 * 60 * 1000;
/// Most characters of a one-line text (names, plates, partners, hints).
pub const MAX_LINE_CHARS: usize = 200;
/// Most characters of a free text (notes, descriptions, addresses, edit values).
pub const MAX_TEXT_CHARS: usize = 10_000;
/// Most tags on a time entry, and most characters of one tag.
pub const MAX_TAGS: usize = 50;
/// Most characters of one tag.
pub const MAX_TAG_CHARS: usize = 100;
/// A place's radius range in metres (the classification circle).
pub const PLACE_RADIUS_M: (f64, f64) = (10.0, 50_000.0);
/// Largest odometer value in metres (ten million km).
pub const MAX_ODOMETER_M: i64 = 10_000_000_000;
/// Longest trip distance in metres (a hundred thousand km).
pub const MAX_TRIP_DISTANCE_M: f64 = 100_000_000.0;
/// Most trips one merge joins, and most trips that replace one (split parts).
pub const MAX_MERGED: usize = 16;

/// What a field holds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Type {
    /// One line of text: no control character, at most `max` characters; `blank` says
    /// whether it may be empty or white space only.
    Line {
        /// Most characters.
        max: usize,
        /// Whether an empty (or white-space) value is allowed.
        blank: bool,
    },
    /// Free text: no control character but line feed and tab, at most `max` characters.
    Text {
        /// Most characters.
        max: usize,
    },
    /// One of the listed snake_case names.
    OneOf(&'static [&'static str]),
    /// A UUID (an entity or device id).
    Id,
    /// An RFC 3339 instant, from 2000 on and at most a day after the op's clock.
    Instant,
    /// A calendar day `YYYY-MM-DD`, years 1900 to 2200.
    Date,
    /// A month `YYYY-MM` with a real month, from 2000-01 to the op's own month (plus a day).
    Month,
    /// `{"lat", "lon"}` on the globe.
    LatLon,
    /// A JSON number within `min..=max`.
    Number {
        /// Smallest value.
        min: f64,
        /// Largest value.
        max: f64,
    },
    /// A JSON integer within `min..=max`.
    Integer {
        /// Smallest value.
        min: i64,
        /// Largest value.
        max: i64,
    },
    /// `true` or `false`.
    Bool,
    /// A list of one-line tags ([`MAX_TAGS`], [`MAX_TAG_CHARS`], none blank).
    Tags,
    /// A project's rounding: `{"mode": "none"}` or `{"mode": "up|down|nearest", "minutes": 1..=1440}`.
    Rounding,
    /// An odometer reading's trip end: `[trip id, "start" | "end"]`.
    TripEnd,
    /// An IANA time-zone name (`Europe/Amsterdam`, `UTC`): letters, digits, `/_+-`, at most 64.
    TimeZone,
    /// A list of 1 to `max` distinct UUIDs (a merged trip's sources, a trip's replacements).
    Ids {
        /// Most ids.
        max: usize,
    },
    /// A time entry as one side holds it (`crate::connector::EntrySnapshot`): a JSON object of
    /// at most [`MAX_SNAPSHOT_CHARS`] characters; its fields are informative, shown to people.
    Snapshot,
}

/// One known field of an entity kind.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Field {
    /// The name as sent on the wire.
    pub name: &'static str,
    /// What it holds.
    pub ty: Type,
    /// Whether `null` is allowed (an optional value).
    pub nullable: bool,
}

const fn req(name: &'static str, ty: Type) -> Field {
    Field {
        name,
        ty,
        nullable: false,
    }
}

const fn opt(name: &'static str, ty: Type) -> Field {
    Field {
        name,
        ty,
        nullable: true,
    }
}

/// Two fields of one entity that must be in order (`earlier` ≤ `later`) when both are set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Order {
    /// The field that comes first.
    pub earlier: &'static str,
    /// The field that must not be before it.
    pub later: &'static str,
}

const NAME: Type = Type::Line {
    max: MAX_LINE_CHARS,
    blank: false,
};
const LINE: Type = Type::Line {
    max: MAX_LINE_CHARS,
    blank: true,
};
const TEXT: Type = Type::Text {
    max: MAX_TEXT_CHARS,
};

/// `crate::place::PlaceKind`.
pub const PLACE_KINDS: &[&str] = &["home", "office", "client", "other"];
/// `crate::trip::TripState`.
pub const TRIP_STATES: &[&str] = &["active", "ended", "discarded"];
/// `crate::trip::TripSource`.
pub const TRIP_SOURCES: &[&str] = &[
    "carplay",
    "bluetooth",
    "manual",
    "hook",
    "car_api",
    "import",
    "auto",
];
/// `crate::trip::Purpose`.
pub const PURPOSES: &[&str] = &["business", "private", "commute"];
/// `crate::trip::Decider`.
pub const DECIDERS: &[&str] = &["rule", "user"];
/// `crate::trip::TripField`.
pub const TRIP_FIELDS: &[&str] = &[
    "purpose",
    "business_partner",
    "note",
    "start_address",
    "end_address",
    "odometer_start",
    "odometer_end",
    "car",
    "discarded",
    "merged_into",
    "merged_from",
    "split_into",
    "split_from",
];
/// `crate::work::EntryField`.
pub const ENTRY_FIELDS: &[&str] = &[
    "project",
    "description",
    "start",
    "stop",
    "tags",
    "billable",
    "trip",
    "deleted",
];
/// `crate::car::ReadingSource`.
pub const READING_SOURCES: &[&str] = &["manual", "car_api"];
/// `crate::car::TripEnd`.
pub const TRIP_ENDS: &[&str] = &["start", "end"];
/// `crate::work::EntrySource`.
pub const ENTRY_SOURCES: &[&str] = &["timer", "manual", "trip", "connector"];
/// `crate::connector::Service` names.
pub const SERVICES: &[&str] = &["toggl", "tempo", "kimai", "zammad"];
/// `crate::connector::LinkState`.
pub const LINK_STATES: &[&str] = &["pending", "synced", "conflict", "error"];
/// `crate::connector::ConflictState`.
pub const CONFLICT_STATES: &[&str] = &["open", "resolved"];
/// `crate::connector::Resolution`.
pub const RESOLUTIONS: &[&str] = &["keep_local", "keep_remote", "dismiss"];
/// Most characters of a connector snapshot (`crate::connector::EntrySnapshot`) as JSON.
pub const MAX_SNAPSHOT_CHARS: usize = 16_000;
/// `crate::work::Rounding` modes.
pub const ROUNDING_MODES: &[&str] = &["none", "up", "down", "nearest"];

const CAR: &[Field] = &[
    req("name", NAME),
    opt("make", LINE),
    opt("model", LINE),
    req(
        "plate",
        Type::Line {
            max: 32,
            blank: false,
        },
    ),
    opt("available_from", Type::Date),
    opt("available_to", Type::Date),
    opt("connect_hint", LINE),
    req("retired", Type::Bool),
];

const PLACE: &[Field] = &[
    req("name", NAME),
    req("kind", Type::OneOf(PLACE_KINDS)),
    req("center", Type::LatLon),
    req(
        "radius_m",
        Type::Number {
            min: PLACE_RADIUS_M.0,
            max: PLACE_RADIUS_M.1,
        },
    ),
    opt("address", TEXT),
];

const TRIP: &[Field] = &[
    opt("car_id", Type::Id),
    req("state", Type::OneOf(TRIP_STATES)),
    req("source", Type::OneOf(TRIP_SOURCES)),
    opt("car_hint", LINE),
    req("started_at", Type::Instant),
    opt("ended_at", Type::Instant),
    req("time_zone", Type::TimeZone),
    opt("start", Type::LatLon),
    opt("end", Type::LatLon),
    opt("start_address", TEXT),
    opt("end_address", TEXT),
    opt("start_place", Type::Id),
    opt("end_place", Type::Id),
    req(
        "distance_m",
        Type::Number {
            min: 0.0,
            max: MAX_TRIP_DISTANCE_M,
        },
    ),
    req(
        "point_count",
        Type::Integer {
            min: 0,
            max: u32::MAX as i64,
        },
    ),
    opt("purpose", Type::OneOf(PURPOSES)),
    opt("purpose_by", Type::OneOf(DECIDERS)),
    opt("business_partner", LINE),
    opt("note", TEXT),
    req("recovered", Type::Bool),
    // Lineage (`crate::lineage::TripLineage`): merge and split by reference.
    opt("merged_from", Type::Ids { max: MAX_MERGED }),
    opt("split_from", Type::Id),
    opt("window_from", Type::Instant),
    opt("window_until", Type::Instant),
    opt("replaced_by", Type::Ids { max: MAX_MERGED }),
];

const READING: &[Field] = &[
    req("car_id", Type::Id),
    req("at", Type::Instant),
    req(
        "odometer_m",
        Type::Integer {
            min: 0,
            max: MAX_ODOMETER_M,
        },
    ),
    req("source", Type::OneOf(READING_SOURCES)),
    opt("trip", Type::TripEnd),
];

const PROJECT: &[Field] = &[
    req("name", NAME),
    opt("client", LINE),
    req("billable", Type::Bool),
    req("rounding", Type::Rounding),
    req("archived", Type::Bool),
];

const TIME_ENTRY: &[Field] = &[
    opt("project_id", Type::Id),
    req("description", TEXT),
    req("start", Type::Instant),
    opt("stop", Type::Instant),
    req("tags", Type::Tags),
    req("billable", Type::Bool),
    req("source", Type::OneOf(ENTRY_SOURCES)),
    opt("trip_id", Type::Id),
];

const PERIOD_LOCK: &[Field] = &[req("month", Type::Month)];

/// Remote ids are the services' own (numbers or text): one line.
const REMOTE_ID: Type = Type::Line {
    max: 128,
    blank: false,
};

const CONNECTOR_LINK: &[Field] = &[
    req("connection_id", Type::Id),
    req("connection_name", LINE),
    req("service", Type::OneOf(SERVICES)),
    req("entry_id", Type::Id),
    opt("remote_id", REMOTE_ID),
    req("state", Type::OneOf(LINK_STATES)),
    opt("synced_at", Type::Instant),
    opt("message", TEXT),
];

const CONNECTOR_CONFLICT: &[Field] = &[
    req("connection_id", Type::Id),
    req("connection_name", LINE),
    req("service", Type::OneOf(SERVICES)),
    opt("entry_id", Type::Id),
    opt("remote_id", REMOTE_ID),
    opt("local", Type::Snapshot),
    opt("remote", Type::Snapshot),
    req("message", TEXT),
    req("raised_at", Type::Instant),
    req("state", Type::OneOf(CONFLICT_STATES)),
    opt("resolution", Type::OneOf(RESOLUTIONS)),
    opt("resolved_at", Type::Instant),
];

/// The fields of one `trip_edit` item (`crate::trip::TripEdit`); an item is a whole value,
/// so every one of them must be present.
pub const TRIP_EDIT_ITEM: &[Field] = &[
    req("trip_id", Type::Id),
    req("field", Type::OneOf(TRIP_FIELDS)),
    opt("old_value", TEXT),
    opt("new_value", TEXT),
    req("at", Type::Instant),
    req("device", Type::Id),
];

/// The fields of one `time_entry_edit` item (`crate::work::TimeEntryEdit`); like a trip
/// edit, an item is a whole value.
pub const TIME_ENTRY_EDIT_ITEM: &[Field] = &[
    req("entry_id", Type::Id),
    req("field", Type::OneOf(ENTRY_FIELDS)),
    opt("old_value", TEXT),
    opt("new_value", TEXT),
    req("at", Type::Instant),
    req("device", Type::Id),
];

/// The known fields of an entity kind's upserts (none for the append-only kinds, whose items
/// have shapes of their own: [`TRIP_EDIT_ITEM`], `crate::wire::check_point`).
pub fn fields_of(kind: EntityKind) -> &'static [Field] {
    match kind {
        EntityKind::Car => CAR,
        EntityKind::Place => PLACE,
        EntityKind::Trip => TRIP,
        EntityKind::OdometerReading => READING,
        EntityKind::Project => PROJECT,
        EntityKind::TimeEntry => TIME_ENTRY,
        EntityKind::PeriodLock => PERIOD_LOCK,
        EntityKind::ConnectorLink => CONNECTOR_LINK,
        EntityKind::ConnectorConflict => CONNECTOR_CONFLICT,
        EntityKind::TripPoints | EntityKind::TripEdit | EntityKind::TimeEntryEdit => &[],
    }
}

/// The order rules of an entity kind (see the module docs for where they are decided).
pub fn orders_of(kind: EntityKind) -> &'static [Order] {
    match kind {
        EntityKind::Car => &[Order {
            earlier: "available_from",
            later: "available_to",
        }],
        EntityKind::Trip => &[Order {
            earlier: "started_at",
            later: "ended_at",
        }],
        EntityKind::TimeEntry => &[Order {
            earlier: "start",
            later: "stop",
        }],
        _ => &[],
    }
}

/// Whether an upsert of `kind` setting `fields` can break an order rule (so a replica
/// deciding it needs the entity's merged state).
pub fn touches_order(kind: EntityKind, fields: &Map<String, Value>) -> bool {
    orders_of(kind)
        .iter()
        .any(|o| fields.contains_key(o.earlier) || fields.contains_key(o.later))
}

/// What a value is judged against: which entity, which schema, which op clock.
#[derive(Debug, Clone, Copy)]
struct Ctx {
    entity: EntityKind,
    schema: u32,
    op_ms: u64,
}

impl Ctx {
    fn shape(self, field: &str, reason: impl Into<String>) -> InvalidOp {
        InvalidOp::BadShape {
            entity: self.entity,
            field: field.to_owned(),
            reason: reason.into(),
        }
    }

    fn range(self, field: &str, reason: impl Into<String>) -> InvalidOp {
        InvalidOp::OutOfRange {
            entity: self.entity,
            field: field.to_owned(),
            reason: reason.into(),
        }
    }

    /// The latest instant a time in this op may name.
    fn latest_ms(self) -> i64 {
        i64::try_from(self.op_ms)
            .unwrap_or(i64::MAX)
            .saturating_add(MAX_AHEAD_OF_OP_MS)
    }
}

/// Checks every known field an upsert sets (unknown ones pass). `op_ms` is the op's own
/// clock (`Hlc::millis`), against which times are judged.
pub fn check_fields(
    entity: EntityKind,
    schema: u32,
    op_ms: u64,
    fields: &Map<String, Value>,
) -> Result<(), InvalidOp> {
    let ctx = Ctx {
        entity,
        schema,
        op_ms,
    };
    let known = fields_of(entity);
    for (name, value) in fields {
        if let Some(field) = known.iter().find(|f| f.name == name) {
            check_value(ctx, field, name, value)?;
        }
    }
    Ok(())
}

/// Checks one `trip_edit` item, named `items[index]` in errors: an object holding every field
/// of [`TRIP_EDIT_ITEM`] (unknown keys pass).
pub fn check_edit_item(
    schema: u32,
    op_ms: u64,
    index: usize,
    item: &Value,
) -> Result<(), InvalidOp> {
    check_item(EntityKind::TripEdit, schema, op_ms, index, item)
}

/// Checks one `time_entry_edit` item, named `items[index]` in errors: an object holding every
/// field of [`TIME_ENTRY_EDIT_ITEM`] (unknown keys pass).
pub fn check_entry_edit_item(
    schema: u32,
    op_ms: u64,
    index: usize,
    item: &Value,
) -> Result<(), InvalidOp> {
    check_item(EntityKind::TimeEntryEdit, schema, op_ms, index, item)
}

/// The item fields of an append-only history kind.
fn item_fields(entity: EntityKind) -> (&'static [Field], &'static str) {
    match entity {
        EntityKind::TimeEntryEdit => (
            TIME_ENTRY_EDIT_ITEM,
            "expected an object (a time entry edit)",
        ),
        _ => (TRIP_EDIT_ITEM, "expected an object (a trip edit)"),
    }
}

fn check_item(
    entity: EntityKind,
    schema: u32,
    op_ms: u64,
    index: usize,
    item: &Value,
) -> Result<(), InvalidOp> {
    let ctx = Ctx {
        entity,
        schema,
        op_ms,
    };
    let (fields, expected) = item_fields(entity);
    let at = format!("items[{index}]");
    let object = item.as_object().ok_or_else(|| ctx.shape(&at, expected))?;
    for field in fields {
        let name = format!("{at}.{}", field.name);
        match object.get(field.name) {
            Some(value) => check_value(ctx, field, &name, value)?,
            None => return Err(ctx.shape(&name, "missing")),
        }
    }
    Ok(())
}

/// The time rule for a GPS point's `at_ms` (element 1 of a `trip_points` item), named `field`.
pub fn check_point_time(op_ms: u64, field: &str, at_ms: i64) -> Result<(), InvalidOp> {
    let ctx = Ctx {
        entity: EntityKind::TripPoints,
        schema: SCHEMA_VERSION,
        op_ms,
    };
    check_ms(ctx, field, at_ms)
}

fn check_value(ctx: Ctx, field: &Field, name: &str, value: &Value) -> Result<(), InvalidOp> {
    if value.is_null() {
        return if field.nullable {
            Ok(())
        } else {
            Err(ctx.shape(name, "must not be null"))
        };
    }
    match field.ty {
        Type::Line { max, blank } => {
            let text = string(ctx, name, value)?;
            check_text(ctx, name, text, max, false)?;
            if !blank && text.trim().is_empty() {
                return Err(ctx.range(name, "must not be empty"));
            }
            Ok(())
        }
        Type::Text { max } => check_text(ctx, name, string(ctx, name, value)?, max, true),
        Type::OneOf(names) => one_of(ctx, name, value, names),
        Type::Id => {
            let text = string(ctx, name, value)?;
            uuid::Uuid::parse_str(text)
                .map(|_| ())
                .map_err(|_| ctx.shape(name, "expected a UUID"))
        }
        Type::Instant => {
            let text = string(ctx, name, value)?;
            let at = DateTime::parse_from_rfc3339(text)
                .map_err(|e| ctx.shape(name, format!("expected an RFC 3339 time: {e}")))?;
            check_ms(ctx, name, at.timestamp_millis())
        }
        Type::Date => {
            let text = string(ctx, name, value)?;
            let day = text
                .parse::<NaiveDate>()
                .ok()
                .filter(|_| text.len() == 10)
                .ok_or_else(|| ctx.shape(name, "expected a day YYYY-MM-DD"))?;
            if (1900..=2200).contains(&day.year()) {
                Ok(())
            } else {
                Err(ctx.range(name, format!("{day} is outside the years 1900 to 2200")))
            }
        }
        Type::Month => check_month(ctx, name, string(ctx, name, value)?),
        Type::LatLon => check_lat_lon(ctx, name, value),
        Type::Number { min, max } => {
            let x = value
                .as_f64()
                .ok_or_else(|| ctx.shape(name, "expected a number"))?;
            if x.is_finite() && (min..=max).contains(&x) {
                Ok(())
            } else {
                Err(ctx.range(name, format!("{x} is outside {min}..={max}")))
            }
        }
        Type::Integer { min, max } => {
            let n = value
                .as_i64()
                .ok_or_else(|| ctx.shape(name, "expected an integer"))?;
            if (min..=max).contains(&n) {
                Ok(())
            } else {
                Err(ctx.range(name, format!("{n} is outside {min}..={max}")))
            }
        }
        Type::Bool => value
            .is_boolean()
            .then_some(())
            .ok_or_else(|| ctx.shape(name, "expected true or false")),
        Type::Tags => check_tags(ctx, name, value),
        Type::Rounding => check_rounding(ctx, name, value),
        Type::TripEnd => check_trip_end(ctx, name, value),
        Type::Ids { max } => check_ids(ctx, name, value, max),
        Type::Snapshot => {
            if !value.is_object() {
                return Err(ctx.shape(name, "expected an object"));
            }
            if value.to_string().chars().count() > MAX_SNAPSHOT_CHARS {
                return Err(ctx.range(name, format!("longer than {MAX_SNAPSHOT_CHARS} characters")));
            }
            Ok(())
        }
        Type::TimeZone => {
            let text = string(ctx, name, value)?;
            let ok = !text.is_empty()
                && text.len() <= 64
                && text
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '+' | '-'));
            ok.then_some(())
                .ok_or_else(|| ctx.range(name, "expected an IANA time-zone name"))
        }
    }
}

fn check_ids(ctx: Ctx, name: &str, value: &Value, max: usize) -> Result<(), InvalidOp> {
    let items = value
        .as_array()
        .ok_or_else(|| ctx.shape(name, "expected a list of ids"))?;
    if items.is_empty() || items.len() > max {
        return Err(ctx.range(name, format!("expected 1 to {max} ids")));
    }
    let mut seen = std::collections::BTreeSet::new();
    for (i, item) in items.iter().enumerate() {
        let id = item
            .as_str()
            .and_then(|t| uuid::Uuid::parse_str(t).ok())
            .ok_or_else(|| ctx.shape(&format!("{name}[{i}]"), "expected a UUID"))?;
        if !seen.insert(id) {
            return Err(ctx.range(&format!("{name}[{i}]"), "names an id twice"));
        }
    }
    Ok(())
}

fn string<'a>(ctx: Ctx, name: &str, value: &'a Value) -> Result<&'a str, InvalidOp> {
    value
        .as_str()
        .ok_or_else(|| ctx.shape(name, "expected a string"))
}

/// Length and control characters; `free` allows line feeds and tabs.
fn check_text(ctx: Ctx, name: &str, text: &str, max: usize, free: bool) -> Result<(), InvalidOp> {
    if let Some(c) = text
        .chars()
        .find(|&c| c.is_control() && !(free && matches!(c, '\n' | '\t')))
    {
        let allowed = if free {
            " (only line feeds and tabs are allowed)"
        } else {
            ""
        };
        return Err(ctx.range(
            name,
            format!(
                "contains the control character U+{:04X}{allowed}",
                u32::from(c)
            ),
        ));
    }
    let chars = text.chars().count();
    if chars > max {
        return Err(ctx.range(
            name,
            format!("is {chars} characters long; at most {max} are allowed"),
        ));
    }
    Ok(())
}

fn one_of(ctx: Ctx, name: &str, value: &Value, names: &[&str]) -> Result<(), InvalidOp> {
    let text = string(ctx, name, value)?;
    // A newer schema may have added a name this build does not know.
    if names.contains(&text) || ctx.schema > SCHEMA_VERSION {
        Ok(())
    } else {
        let shown: String = text.chars().take(40).collect();
        Err(ctx.range(
            name,
            format!("`{shown}` is not one of {}", names.join(", ")),
        ))
    }
}

fn check_ms(ctx: Ctx, name: &str, ms: i64) -> Result<(), InvalidOp> {
    let shown = || {
        DateTime::from_timestamp_millis(ms).map_or_else(|| format!("{ms} ms"), |t| t.to_rfc3339())
    };
    if ms < EARLIEST_MS {
        return Err(ctx.range(name, format!("{} is before 2000-01-01", shown())));
    }
    if ms > ctx.latest_ms() {
        return Err(ctx.range(
            name,
            format!("{} is more than a day after the op was made", shown()),
        ));
    }
    Ok(())
}

fn check_month(ctx: Ctx, name: &str, text: &str) -> Result<(), InvalidOp> {
    let bytes = text.as_bytes();
    let digits = |r: std::ops::Range<usize>| bytes[r].iter().all(u8::is_ascii_digit);
    if bytes.len() != 7 || bytes[4] != b'-' || !digits(0..4) || !digits(5..7) {
        return Err(ctx.shape(name, "expected a month YYYY-MM"));
    }
    let first = NaiveDate::parse_from_str(&format!("{text}-01"), "%Y-%m-%d")
        .map_err(|_| ctx.range(name, format!("`{text}` has no month {}", &text[5..])))?;
    let ms = first
        .and_hms_opt(0, 0, 0)
        .map_or(i64::MIN, |t| t.and_utc().timestamp_millis());
    if ms < EARLIEST_MS {
        return Err(ctx.range(name, format!("{text} is before 2000-01")));
    }
    if ms > ctx.latest_ms() {
        return Err(ctx.range(name, format!("{text} has not begun when the op was made")));
    }
    Ok(())
}

/// `{lat, lon}` on the globe. Out-of-range values keep their own error kind (the relay's
/// answer names the coordinates).
fn check_lat_lon(ctx: Ctx, name: &str, value: &Value) -> Result<(), InvalidOp> {
    let object = value
        .as_object()
        .ok_or_else(|| ctx.shape(name, "expected an object {lat, lon}"))?;
    let lat = object
        .get("lat")
        .and_then(Value::as_f64)
        .ok_or_else(|| ctx.shape(name, "`lat` must be a number"))?;
    let lon = object
        .get("lon")
        .and_then(Value::as_f64)
        .ok_or_else(|| ctx.shape(name, "`lon` must be a number"))?;
    if (-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon) {
        Ok(())
    } else {
        Err(InvalidOp::CoordinateOutOfRange {
            entity: ctx.entity,
            field: name.to_owned(),
            lat,
            lon,
        })
    }
}

fn check_tags(ctx: Ctx, name: &str, value: &Value) -> Result<(), InvalidOp> {
    let tags = value
        .as_array()
        .ok_or_else(|| ctx.shape(name, "expected a list of tags"))?;
    if tags.len() > MAX_TAGS {
        return Err(ctx.range(
            name,
            format!("has {} tags; at most {MAX_TAGS} are allowed", tags.len()),
        ));
    }
    for (i, tag) in tags.iter().enumerate() {
        let at = format!("{name}[{i}]");
        let text = string(ctx, &at, tag)?;
        check_text(ctx, &at, text, MAX_TAG_CHARS, false)?;
        if text.trim().is_empty() {
            return Err(ctx.range(&at, "must not be empty"));
        }
    }
    Ok(())
}

fn check_rounding(ctx: Ctx, name: &str, value: &Value) -> Result<(), InvalidOp> {
    let object = value
        .as_object()
        .ok_or_else(|| ctx.shape(name, "expected an object {mode, minutes}"))?;
    let mode = object
        .get("mode")
        .ok_or_else(|| ctx.shape(name, "`mode` is missing"))?;
    one_of(ctx, name, mode, ROUNDING_MODES)?;
    let minutes = object.get("minutes");
    match mode.as_str() {
        Some("none") => match minutes {
            None => Ok(()),
            Some(_) => Err(ctx.shape(name, "mode `none` takes no `minutes`")),
        },
        Some("up" | "down" | "nearest") => match minutes.and_then(Value::as_u64) {
            Some(1..=1440) => Ok(()),
            _ => Err(ctx.range(name, "`minutes` must be an integer 1..=1440")),
        },
        // A mode of a newer schema: its shape is its own.
        _ => Ok(()),
    }
}

fn check_trip_end(ctx: Ctx, name: &str, value: &Value) -> Result<(), InvalidOp> {
    let bad = || ctx.shape(name, "expected [trip id, \"start\" | \"end\"]");
    let parts = value.as_array().ok_or_else(bad)?;
    let [trip, end] = parts.as_slice() else {
        return Err(bad());
    };
    let trip = trip.as_str().ok_or_else(bad)?;
    uuid::Uuid::parse_str(trip).map_err(|_| bad())?;
    one_of(ctx, name, end, TRIP_ENDS)
}

/// The order rules on an entity's merged fields, as an op changes them from `before` to
/// `after`: refused when a rule fails on `after` and the op changed one of its two fields
/// (an entity already out of order is not held against an op that leaves those fields alone,
/// so any op can still repair it). The error names the field the op changed (the later one
/// if it changed both).
pub fn check_order(
    entity: EntityKind,
    before: &Map<String, Value>,
    after: &Map<String, Value>,
) -> Result<(), InvalidOp> {
    for order in orders_of(entity) {
        let (Some(earlier), Some(later)) = (
            comparable(after.get(order.earlier)),
            comparable(after.get(order.later)),
        ) else {
            continue;
        };
        if earlier <= later {
            continue;
        }
        let changed = |f: &str| before.get(f) != after.get(f);
        let field = if changed(order.later) {
            order.later
        } else if changed(order.earlier) {
            order.earlier
        } else {
            continue;
        };
        return Err(InvalidOp::OutOfOrder {
            entity,
            field: field.to_owned(),
            earlier: order.earlier,
            later: order.later,
        });
    }
    Ok(())
}

/// A time or a day as a comparable number (ms, or days); `None` when unset or unreadable
/// (the field rules refuse unreadable values before this runs).
fn comparable(value: Option<&Value>) -> Option<i64> {
    let text = value?.as_str()?;
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Some(at.timestamp_millis());
    }
    text.parse::<NaiveDate>()
        .ok()
        .map(|d| i64::from(d.num_days_from_ce()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// 2026-03-15T12:00:00Z.
    const NOW: u64 = 1_773_576_000_000;

    fn check(entity: EntityKind, fields: Value) -> Result<(), InvalidOp> {
        let Value::Object(fields) = fields else {
            panic!("object")
        };
        check_fields(entity, SCHEMA_VERSION, NOW, &fields)
    }

    fn field_of(e: InvalidOp) -> String {
        e.field().map(str::to_owned).unwrap_or_default()
    }

    fn refused(entity: EntityKind, fields: Value) -> String {
        let err = check(entity, fields.clone()).expect_err(&format!("{fields} passed"));
        assert!(!err.to_string().is_empty());
        field_of(err)
    }

    #[test]
    fn the_issues_examples_are_refused_naming_the_field() {
        let t = EntityKind::TimeEntry;
        assert_eq!(
            refused(EntityKind::Place, json!({"center": {"lat": 91, "lon": 5}})),
            "center"
        );
        assert_eq!(
            refused(
                EntityKind::Place,
                json!({"center": {"lat": "52", "lon": 5}})
            ),
            "center"
        );
        assert_eq!(
            refused(EntityKind::PeriodLock, json!({"month": "2026-13"})),
            "month"
        );
        assert_eq!(
            refused(EntityKind::Trip, json!({"distance_m": -1.0})),
            "distance_m"
        );
        assert_eq!(
            refused(t, json!({"start": "1970-01-01T00:00:00Z"})),
            "start"
        );
        let e = check_order(
            t,
            &Map::new(),
            json!({"start": "2026-03-02T10:00:00Z", "stop": "2026-03-02T09:00:00Z"})
                .as_object()
                .unwrap(),
        )
        .unwrap_err();
        assert_eq!(field_of(e), "stop");
    }

    #[test]
    fn coordinates_are_numbers_on_the_globe() {
        for (lat, lon) in [(90.0, 180.0), (-90.0, -180.0), (0.0, 0.0)] {
            check(
                EntityKind::Place,
                json!({"center": {"lat": lat, "lon": lon}}),
            )
            .unwrap();
        }
        for c in [
            json!({"lat": 90.01, "lon": 0}),
            json!({"lat": 0, "lon": -180.5}),
        ] {
            let e = check(EntityKind::Trip, json!({ "end": c })).unwrap_err();
            assert!(matches!(e, InvalidOp::CoordinateOutOfRange { .. }), "{e:?}");
        }
        for c in [json!("52,5"), json!({"lat": 1}), json!([1, 2])] {
            let e = check(EntityKind::Trip, json!({ "start": c })).unwrap_err();
            assert!(matches!(e, InvalidOp::BadShape { .. }), "{e:?}");
        }
        check(EntityKind::Trip, json!({"start": null})).unwrap();
        assert_eq!(
            refused(EntityKind::Place, json!({"center": null})),
            "center"
        );
    }

    #[test]
    fn numbers_keep_their_ranges_and_integers_are_whole() {
        check(EntityKind::Trip, json!({"distance_m": 0, "point_count": 0})).unwrap();
        check(EntityKind::Place, json!({"radius_m": 10})).unwrap();
        assert_eq!(
            refused(EntityKind::Place, json!({"radius_m": 9.9})),
            "radius_m"
        );
        assert_eq!(
            refused(EntityKind::Place, json!({"radius_m": "100"})),
            "radius_m"
        );
        assert_eq!(
            refused(EntityKind::Trip, json!({"distance_m": 1e12})),
            "distance_m"
        );
        assert_eq!(
            refused(EntityKind::Trip, json!({"point_count": 1.5})),
            "point_count"
        );
        assert_eq!(
            refused(EntityKind::Trip, json!({"point_count": -1})),
            "point_count"
        );
        assert_eq!(
            refused(EntityKind::Trip, json!({"point_count": 4_294_967_296_u64})),
            "point_count"
        );
        check(EntityKind::OdometerReading, json!({"odometer_m": 0})).unwrap();
        assert_eq!(
            refused(EntityKind::OdometerReading, json!({"odometer_m": -5})),
            "odometer_m"
        );
        assert_eq!(
            refused(EntityKind::OdometerReading, json!({"odometer_m": 12.5})),
            "odometer_m"
        );
        assert_eq!(
            refused(EntityKind::Trip, json!({"recovered": "no"})),
            "recovered"
        );
    }

    #[test]
    fn times_lie_between_2000_and_a_day_after_the_op() {
        let ok = [
            "2000-01-01T00:00:00Z",
            "2026-03-15T12:00:00+01:00",
            "2026-03-16T11:59:59.999Z",
        ];
        for at in ok {
            check(EntityKind::TimeEntry, json!({ "start": at })).unwrap();
        }
        for at in [
            "1999-12-31T23:59:59Z",
            "1970-01-01T00:00:00Z",
            "2026-03-16T12:00:00.001Z",
            "2099-01-01T00:00:00Z",
        ] {
            assert_eq!(
                refused(EntityKind::TimeEntry, json!({ "stop": at })),
                "stop"
            );
        }
        for at in [
            json!("yesterday"),
            json!(1_773_576_000_000_u64),
            json!("2026-03-15"),
        ] {
            assert_eq!(
                refused(EntityKind::OdometerReading, json!({ "at": at })),
                "at"
            );
        }
        check(EntityKind::TimeEntry, json!({"stop": null})).unwrap();
        assert_eq!(
            refused(EntityKind::TimeEntry, json!({"start": null})),
            "start"
        );
        assert!(check_point_time(NOW, "items[0]", EARLIEST_MS).is_ok());
        assert!(check_point_time(NOW, "items[0]", 0).is_err());
    }

    #[test]
    fn months_are_real_and_not_in_the_future() {
        for m in ["2000-01", "2026-02", "2026-03"] {
            check(EntityKind::PeriodLock, json!({ "month": m })).unwrap();
        }
        for m in [
            "2026-13", "2026-00", "1999-12", "2026-04", "2026-3", "26-03", "2026/03", "abcd-ef",
        ] {
            assert_eq!(
                refused(EntityKind::PeriodLock, json!({ "month": m })),
                "month",
                "{m}"
            );
        }
        assert_eq!(
            refused(EntityKind::PeriodLock, json!({"month": 202603})),
            "month"
        );
    }

    #[test]
    fn days_are_calendar_days() {
        check(
            EntityKind::Car,
            json!({"available_from": "1995-06-01", "available_to": "2030-12-31"}),
        )
        .unwrap();
        for d in ["2026-02-30", "2026-1-1", "1899-12-31", "2201-01-01", "soon"] {
            assert_eq!(
                refused(EntityKind::Car, json!({ "available_to": d })),
                "available_to",
                "{d}"
            );
        }
    }

    #[test]
    fn enums_take_known_names_unless_the_op_is_of_a_newer_schema() {
        check(EntityKind::Place, json!({"kind": "client"})).unwrap();
        assert_eq!(
            refused(EntityKind::Place, json!({"kind": "castle"})),
            "kind"
        );
        assert_eq!(refused(EntityKind::Place, json!({"kind": 1})), "kind");
        assert_eq!(
            refused(EntityKind::Trip, json!({"purpose": "Business"})),
            "purpose"
        );
        check(EntityKind::Trip, json!({"purpose": null})).unwrap();
        let newer = json!({"source": "android_auto"});
        let Value::Object(newer) = newer else {
            unreachable!()
        };
        check_fields(EntityKind::Trip, SCHEMA_VERSION + 1, NOW, &newer).unwrap();
        let typed = json!({"source": 7});
        let Value::Object(typed) = typed else {
            unreachable!()
        };
        assert!(check_fields(EntityKind::Trip, SCHEMA_VERSION + 1, NOW, &typed).is_err());
    }

    #[test]
    fn texts_refuse_control_characters_and_length() {
        check(EntityKind::Trip, json!({"note": "line one\n\tline two"})).unwrap();
        assert_eq!(
            refused(EntityKind::Trip, json!({"note": "bell\u{7}"})),
            "note"
        );
        assert_eq!(
            refused(EntityKind::Trip, json!({"note": "nul\u{0}"})),
            "note"
        );
        assert_eq!(refused(EntityKind::Trip, json!({"note": "cr\r\n"})), "note");
        assert_eq!(
            refused(EntityKind::Car, json!({"name": "two\nlines"})),
            "name"
        );
        assert_eq!(
            refused(EntityKind::Car, json!({"plate": "AB\u{9}12"})),
            "plate"
        );
        assert_eq!(
            refused(
                EntityKind::Project,
                json!({"name": "x".repeat(MAX_LINE_CHARS + 1)})
            ),
            "name"
        );
        check(
            EntityKind::Project,
            json!({"name": "é".repeat(MAX_LINE_CHARS)}),
        )
        .unwrap();
        assert_eq!(
            refused(
                EntityKind::TimeEntry,
                json!({"description": "x".repeat(MAX_TEXT_CHARS + 1)})
            ),
            "description"
        );
        assert_eq!(refused(EntityKind::Project, json!({"name": "  "})), "name");
        check(EntityKind::Project, json!({"client": ""})).unwrap();
        assert_eq!(refused(EntityKind::Car, json!({"name": null})), "name");
        assert_eq!(
            refused(EntityKind::Trip, json!({"time_zone": "Europe/Amsterdam\n"})),
            "time_zone"
        );
        check(
            EntityKind::Trip,
            json!({"time_zone": "America/Port-au-Prince"}),
        )
        .unwrap();
    }

    #[test]
    fn tags_rounding_ids_and_trip_ends_have_their_shapes() {
        check(EntityKind::TimeEntry, json!({"tags": ["a", "b c"]})).unwrap();
        assert_eq!(
            refused(EntityKind::TimeEntry, json!({"tags": ["a", " "]})),
            "tags[1]"
        );
        assert_eq!(
            refused(EntityKind::TimeEntry, json!({"tags": "a,b"})),
            "tags"
        );
        let many: Vec<String> = (0..=MAX_TAGS).map(|i| format!("t{i}")).collect();
        assert_eq!(
            refused(EntityKind::TimeEntry, json!({ "tags": many })),
            "tags"
        );
        for r in [
            json!({"mode": "none"}),
            json!({"mode": "up", "minutes": 15}),
            json!({"mode": "nearest", "minutes": 1440}),
        ] {
            check(EntityKind::Project, json!({ "rounding": r })).unwrap();
        }
        for r in [
            json!({"mode": "up", "minutes": 0}),
            json!({"mode": "down"}),
            json!({"mode": "sideways", "minutes": 5}),
            json!({"mode": "none", "minutes": 5}),
            json!("up:15"),
        ] {
            assert_eq!(
                refused(EntityKind::Project, json!({ "rounding": r })),
                "rounding"
            );
        }
        let id = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";
        check(EntityKind::TimeEntry, json!({ "project_id": id })).unwrap();
        assert_eq!(
            refused(EntityKind::TimeEntry, json!({"project_id": "alpha"})),
            "project_id"
        );
        check(EntityKind::OdometerReading, json!({"trip": [id, "end"]})).unwrap();
        for t in [json!([id, "middle"]), json!([id]), json!(["x", "start"])] {
            assert_eq!(
                refused(EntityKind::OdometerReading, json!({ "trip": t })),
                "trip"
            );
        }
    }

    #[test]
    fn lineage_id_lists_are_distinct_uuids() {
        let a = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";
        let b = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c";
        check(
            EntityKind::Trip,
            json!({"merged_from": [a, b], "replaced_by": null}),
        )
        .unwrap();
        assert_eq!(
            refused(EntityKind::Trip, json!({"merged_from": []})),
            "merged_from"
        );
        assert_eq!(
            refused(EntityKind::Trip, json!({"merged_from": a})),
            "merged_from"
        );
        assert_eq!(
            refused(EntityKind::Trip, json!({"replaced_by": [a, a]})),
            "replaced_by[1]"
        );
        assert_eq!(
            refused(EntityKind::Trip, json!({"replaced_by": [a, "x"]})),
            "replaced_by[1]"
        );
        let many: Vec<String> = (0..=MAX_MERGED)
            .map(|_| uuid::Uuid::now_v7().to_string())
            .collect();
        assert_eq!(
            refused(EntityKind::Trip, json!({ "merged_from": many })),
            "merged_from"
        );
    }

    #[test]
    fn unknown_fields_pass_untouched() {
        check(
            EntityKind::Trip,
            json!({"x_from_v2": {"anything": [1, "\u{0}"]}, "n": -1}),
        )
        .unwrap();
    }

    #[test]
    fn edit_items_are_whole_trip_edits() {
        let good = json!({
            "trip_id": "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "field": "note",
            "old_value": null, "new_value": "detour\nvia A2", "at": "2026-03-15T11:00:00Z",
            "device": "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c", "x_new": 1
        });
        check_edit_item(SCHEMA_VERSION, NOW, 0, &good).unwrap();
        let with = |k: &str, v: Value| {
            let mut e = good.clone();
            e[k] = v;
            e
        };
        let without = |k: &str| {
            let mut e = good.clone();
            e.as_object_mut().unwrap().remove(k);
            e
        };
        for (item, field) in [
            (with("field", json!("colour")), "items[2].field"),
            (with("at", json!("1970-01-01T00:00:00Z")), "items[2].at"),
            (with("new_value", json!(5)), "items[2].new_value"),
            (without("device"), "items[2].device"),
            (json!("note"), "items[2]"),
        ] {
            let e = check_edit_item(SCHEMA_VERSION, NOW, 2, &item).unwrap_err();
            assert_eq!(field_of(e), field, "{item}");
        }
    }

    #[test]
    fn order_rules_name_the_changed_field_and_spare_untouched_ones() {
        let t = EntityKind::TimeEntry;
        let map = |v: Value| v.as_object().unwrap().clone();
        let ok = map(json!({"start": "2026-03-02T09:00:00Z", "stop": "2026-03-02T10:00:00Z"}));
        let swapped = map(json!({"start": "2026-03-02T11:00:00Z", "stop": "2026-03-02T10:00:00Z"}));
        // Moving the start past the stop names `start`.
        let e = check_order(t, &ok, &swapped).unwrap_err();
        assert_eq!(field_of(e.clone()), "start");
        assert!(e.to_string().contains("before"), "{e}");
        // Equal is in order; an unset stop is in order.
        let same = map(json!({"start": "2026-03-02T09:00:00Z", "stop": "2026-03-02T09:00:00Z"}));
        check_order(t, &Map::new(), &same).unwrap();
        check_order(
            t,
            &Map::new(),
            &map(json!({"start": "2026-03-02T09:00:00Z", "stop": null})),
        )
        .unwrap();
        // Already out of order and left so by an op changing something else: not held against it.
        let mut described = swapped.clone();
        described.insert("description".into(), json!("x"));
        check_order(t, &swapped, &described).unwrap();
        // Other kinds.
        let e = check_order(
            EntityKind::Car,
            &Map::new(),
            &map(json!({"available_from": "2026-03-02", "available_to": "2026-03-01"})),
        )
        .unwrap_err();
        assert_eq!(field_of(e), "available_to");
        let e = check_order(
            EntityKind::Trip,
            &Map::new(),
            &map(json!({"started_at": "2026-03-02T09:00:00Z", "ended_at": "2026-03-02T08:59:59Z"})),
        )
        .unwrap_err();
        assert_eq!(field_of(e), "ended_at");
    }

    /// The schema of each kind is exactly the serialised fields of its type: a real entity
    /// passes, names the same fields, and comes back from them (so nothing the schema
    /// accepts is dropped by a reader as undecodable).
    #[test]
    fn every_kinds_schema_is_its_types_fields() {
        use crate::car::{Car, OdometerReading, ReadingSource, TripEnd};
        use crate::gps::LatLon;
        use crate::id::{CarId, DeviceId, EntryId, PlaceId, ProjectId, ReadingId, TripId};
        use crate::place::{Place, PlaceKind};
        use crate::trip::{Decider, Purpose, Trip, TripEdit, TripField, TripSource, TripState};
        use crate::work::{EntrySource, Project, Rounding, TimeEntry};
        use chrono::{TimeZone, Utc};
        let at = Utc.with_ymd_and_hms(2026, 3, 15, 9, 0, 0).unwrap();
        let later = Utc.with_ymd_and_hms(2026, 3, 15, 10, 30, 0).unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 1, 1);
        fn fits<T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug>(
            kind: EntityKind,
            value: &T,
        ) {
            let Value::Object(mut fields) = serde_json::to_value(value).unwrap() else {
                panic!("object")
            };
            let id = fields.remove("id");
            check_fields(kind, SCHEMA_VERSION, NOW, &fields).unwrap();
            let mut names: Vec<&str> = fields.keys().map(String::as_str).collect();
            let mut known: Vec<&str> = fields_of(kind).iter().map(|f| f.name).collect();
            names.sort_unstable();
            known.sort_unstable();
            assert_eq!(names, known, "{}", kind.as_str());
            if let Some(id) = id {
                fields.insert("id".into(), id);
            }
            let back: T = serde_json::from_value(Value::Object(fields)).unwrap();
            assert_eq!(&back, value);
        }
        let car = Car {
            id: CarId::new(),
            name: "Golf".into(),
            make: Some("VW".into()),
            model: None,
            plate: "AB-12-CD".into(),
            available_from: day,
            available_to: None,
            connect_hint: Some("VW BT".into()),
            retired: false,
        };
        fits(EntityKind::Car, &car);
        let place = Place {
            id: PlaceId::new(),
            name: "Office".into(),
            kind: PlaceKind::Office,
            center: LatLon {
                lat: 52.1,
                lon: 5.1,
            },
            radius_m: 150.0,
            address: Some("Main St 1\nUtrecht".into()),
        };
        fits(EntityKind::Place, &place);
        let trip = Trip {
            id: TripId::new(),
            car_id: Some(car.id),
            state: TripState::Ended,
            source: TripSource::CarApi,
            car_hint: None,
            started_at: at,
            ended_at: Some(later),
            time_zone: "Europe/Amsterdam".into(),
            start: Some(LatLon {
                lat: 52.0,
                lon: 5.0,
            }),
            end: None,
            start_address: None,
            end_address: Some("x".into()),
            start_place: Some(place.id),
            end_place: None,
            distance_m: 37_600.5,
            point_count: 412,
            purpose: Some(Purpose::Business),
            purpose_by: Some(Decider::User),
            business_partner: Some("ACME".into()),
            note: Some("detour".into()),
            recovered: false,
        };
        // A trip header is a `Trip` and its `TripLineage` in one object.
        #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
        struct Header {
            #[serde(flatten)]
            trip: Trip,
            #[serde(flatten)]
            lineage: crate::lineage::TripLineage,
        }
        fits(
            EntityKind::Trip,
            &Header {
                trip: trip.clone(),
                lineage: crate::lineage::TripLineage {
                    merged_from: Some(vec![TripId::new(), TripId::new()]),
                    split_from: Some(TripId::new()),
                    window_from: Some(at),
                    window_until: None,
                    replaced_by: Some(vec![TripId::new()]),
                },
            },
        );
        let reading = OdometerReading {
            id: ReadingId::new(),
            car_id: car.id,
            at,
            odometer_m: 52_400_000,
            source: ReadingSource::Manual,
            trip: Some((trip.id, TripEnd::End)),
        };
        fits(EntityKind::OdometerReading, &reading);
        for rounding in [Rounding::None, Rounding::Up(15), Rounding::Nearest(6)] {
            let project = Project {
                id: ProjectId::new(),
                name: "Alpha".into(),
                client: None,
                billable: true,
                rounding,
                archived: false,
            };
            fits(EntityKind::Project, &project);
        }
        let entry = TimeEntry {
            id: EntryId::new(),
            project_id: Some(ProjectId::new()),
            description: "review".into(),
            start: at,
            stop: None,
            tags: vec!["a".into()],
            billable: false,
            source: EntrySource::Timer,
            trip_id: None,
        };
        fits(EntityKind::TimeEntry, &entry);
        let edit = TripEdit {
            trip_id: trip.id,
            field: TripField::OdometerEnd,
            old_value: None,
            new_value: Some("52400.0 km".into()),
            at,
            device: DeviceId::new(),
            arrived_after_lock: None,
        };
        let item = serde_json::to_value(&edit).unwrap();
        check_edit_item(SCHEMA_VERSION, NOW, 0, &item).unwrap();
        let mut names: Vec<&str> = item
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut known: Vec<&str> = TRIP_EDIT_ITEM.iter().map(|f| f.name).collect();
        names.sort_unstable();
        known.sort_unstable();
        assert_eq!(names, known);
    }

    /// A time entry edit item is exactly the serialised `TimeEntryEdit`, and each field is
    /// checked (a field name outside the list, a 1970 time, a missing device).
    #[test]
    fn entry_edit_items_are_whole_time_entry_edits() {
        use crate::id::{DeviceId, EntryId};
        use crate::work::{EntryField, TimeEntryEdit};
        use chrono::{TimeZone, Utc};
        let edit = TimeEntryEdit {
            entry_id: EntryId::new(),
            field: EntryField::Description,
            old_value: Some("typo".into()),
            new_value: Some("fixed\nline two".into()),
            at: Utc.with_ymd_and_hms(2026, 3, 15, 11, 0, 0).unwrap(),
            device: DeviceId::new(),
            arrived_after_lock: None,
        };
        let item = serde_json::to_value(&edit).unwrap();
        check_entry_edit_item(SCHEMA_VERSION, NOW, 0, &item).unwrap();
        let mut names: Vec<&str> = item
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut known: Vec<&str> = TIME_ENTRY_EDIT_ITEM.iter().map(|f| f.name).collect();
        names.sort_unstable();
        known.sort_unstable();
        assert_eq!(names, known);
        let with = |k: &str, v: Value| {
            let mut e = item.clone();
            e[k] = v;
            e
        };
        let mut without_device = item.clone();
        without_device.as_object_mut().unwrap().remove("device");
        for (bad, field) in [
            (with("field", json!("purpose")), "items[1].field"),
            (with("at", json!("1970-01-01T00:00:00Z")), "items[1].at"),
            (with("entry_id", json!("e1")), "items[1].entry_id"),
            (without_device, "items[1].device"),
        ] {
            let e = check_entry_edit_item(SCHEMA_VERSION, NOW, 1, &bad).unwrap_err();
            assert_eq!(field_of(e), field, "{bad}");
        }
        // A trip edit is not an entry edit, and the other way round.
        assert!(check_edit_item(SCHEMA_VERSION, NOW, 0, &item).is_err());
        let names: Vec<String> = [
            EntryField::Project,
            EntryField::Description,
            EntryField::Start,
            EntryField::Stop,
            EntryField::Tags,
            EntryField::Billable,
            EntryField::Trip,
            EntryField::Deleted,
        ]
        .map(|f| match f {
            EntryField::Project
            | EntryField::Description
            | EntryField::Start
            | EntryField::Stop
            | EntryField::Tags
            | EntryField::Billable
            | EntryField::Trip
            | EntryField::Deleted => f.as_str().to_owned(),
        })
        .to_vec();
        assert_eq!(names, ENTRY_FIELDS);
    }

    #[test]
    fn the_enum_lists_are_the_types_names() {
        use crate::car::{ReadingSource, TripEnd};
        use crate::place::PlaceKind;
        use crate::trip::{Decider, Purpose, TripField, TripSource, TripState};
        use crate::work::EntrySource;
        fn same<T: serde::de::DeserializeOwned + serde::Serialize>(names: &[&str], all: &[T]) {
            let written: Vec<String> = all
                .iter()
                .map(|v| {
                    serde_json::to_value(v)
                        .unwrap()
                        .as_str()
                        .unwrap()
                        .to_owned()
                })
                .collect();
            assert_eq!(written, names);
            for n in names {
                serde_json::from_value::<T>(json!(n)).unwrap();
            }
        }
        // Each list below is exhaustive: the `match`es make a new variant a compile error.
        let place = |k: PlaceKind| match k {
            PlaceKind::Home | PlaceKind::Office | PlaceKind::Client | PlaceKind::Other => k,
        };
        same(
            PLACE_KINDS,
            &[
                PlaceKind::Home,
                PlaceKind::Office,
                PlaceKind::Client,
                PlaceKind::Other,
            ]
            .map(place),
        );
        let state = |s: TripState| match s {
            TripState::Active | TripState::Ended | TripState::Discarded => s,
        };
        same(
            TRIP_STATES,
            &[TripState::Active, TripState::Ended, TripState::Discarded].map(state),
        );
        let source = |s: TripSource| match s {
            TripSource::Carplay
            | TripSource::Bluetooth
            | TripSource::Manual
            | TripSource::Hook
            | TripSource::CarApi
            | TripSource::Import
            | TripSource::Auto => s,
        };
        same(
            TRIP_SOURCES,
            &[
                TripSource::Carplay,
                TripSource::Bluetooth,
                TripSource::Manual,
                TripSource::Hook,
                TripSource::CarApi,
                TripSource::Import,
                TripSource::Auto,
            ]
            .map(source),
        );
        let purpose = |p: Purpose| match p {
            Purpose::Business | Purpose::Private | Purpose::Commute => p,
        };
        same(
            PURPOSES,
            &[Purpose::Business, Purpose::Private, Purpose::Commute].map(purpose),
        );
        let decider = |d: Decider| match d {
            Decider::Rule | Decider::User => d,
        };
        same(DECIDERS, &[Decider::Rule, Decider::User].map(decider));
        let field = |f: TripField| match f {
            TripField::Purpose
            | TripField::BusinessPartner
            | TripField::Note
            | TripField::StartAddress
            | TripField::EndAddress
            | TripField::OdometerStart
            | TripField::OdometerEnd
            | TripField::Car
            | TripField::Discarded
            | TripField::MergedInto
            | TripField::MergedFrom
            | TripField::SplitInto
            | TripField::SplitFrom => f,
        };
        same(
            TRIP_FIELDS,
            &[
                TripField::Purpose,
                TripField::BusinessPartner,
                TripField::Note,
                TripField::StartAddress,
                TripField::EndAddress,
                TripField::OdometerStart,
                TripField::OdometerEnd,
                TripField::Car,
                TripField::Discarded,
                TripField::MergedInto,
                TripField::MergedFrom,
                TripField::SplitInto,
                TripField::SplitFrom,
            ]
            .map(field),
        );
        let reading = |r: ReadingSource| match r {
            ReadingSource::Manual | ReadingSource::CarApi => r,
        };
        same(
            READING_SOURCES,
            &[ReadingSource::Manual, ReadingSource::CarApi].map(reading),
        );
        let end = |e: TripEnd| match e {
            TripEnd::Start | TripEnd::End => e,
        };
        same(TRIP_ENDS, &[TripEnd::Start, TripEnd::End].map(end));
        let entry = |s: EntrySource| match s {
            EntrySource::Timer
            | EntrySource::Manual
            | EntrySource::Trip
            | EntrySource::Connector => s,
        };
        same(
            ENTRY_SOURCES,
            &[
                EntrySource::Timer,
                EntrySource::Manual,
                EntrySource::Trip,
                EntrySource::Connector,
            ]
            .map(entry),
        );
        use crate::connector::{ConflictState, LinkState, Resolution};
        let link = |s: LinkState| match s {
            LinkState::Pending | LinkState::Synced | LinkState::Conflict | LinkState::Error => s,
        };
        same(
            LINK_STATES,
            &[
                LinkState::Pending,
                LinkState::Synced,
                LinkState::Conflict,
                LinkState::Error,
            ]
            .map(link),
        );
        let conflict = |s: ConflictState| match s {
            ConflictState::Open | ConflictState::Resolved => s,
        };
        same(
            CONFLICT_STATES,
            &[ConflictState::Open, ConflictState::Resolved].map(conflict),
        );
        let resolution = |r: Resolution| match r {
            Resolution::KeepLocal | Resolution::KeepRemote | Resolution::Dismiss => r,
        };
        same(
            RESOLUTIONS,
            &[
                Resolution::KeepLocal,
                Resolution::KeepRemote,
                Resolution::Dismiss,
            ]
            .map(resolution),
        );
    }
}
