//! Merge and split of trips as ops that converge (docs/adr/0013-trip-merge-split-as-ops.md).
//!
//! A merge or a split never rewrites a trip or its points. It creates new trip headers that
//! *reference* their sources (`merged_from`, or `split_from` plus a time window) and marks each
//! source `replaced_by` the new trips. Points stay in the sources' `trip_points` chunks, written
//! only by the device that recorded them; a derived trip reads them by reference. Every field
//! involved is an ordinary last-writer-wins trip field, so replicas converge on the fields, and
//! which trips count is then a pure function of those fields ([`statuses`]):
//!
//! - a derived trip is **valid** when each of its sources is valid, not discarded, and names
//!   it in `replaced_by` (a concurrent merge or split of the same source that won the
//!   source's `replaced_by` leaves the loser invalid: [`TripStatus::Superseded`]);
//! - a trip is **replaced** when a valid trip names it as a source;
//! - only trips that are neither discarded, superseded nor replaced count in totals.
//!
//! Ids of derived trips are derived from what they are made of ([`merged_id`], [`split_id`]),
//! so two devices doing the same merge or split offline write one trip, not two.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::gps::{LatLon, Ping};
use crate::id::TripId;

/// The lineage fields of a trip header (all `None` for a recorded trip).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TripLineage {
    /// For a merged trip: its sources, in time order.
    #[serde(default)]
    pub merged_from: Option<Vec<TripId>>,
    /// For a split part: the trip it was cut from.
    #[serde(default)]
    pub split_from: Option<TripId>,
    /// For a split part: its points are the source's from this instant (inclusive; `None` =
    /// from the start).
    #[serde(default)]
    pub window_from: Option<DateTime<Utc>>,
    /// For a split part: … until this instant (exclusive; `None` = to the end).
    #[serde(default)]
    pub window_until: Option<DateTime<Utc>>,
    /// For a source: the trips that replace it (the merged trip, or the split parts).
    #[serde(default)]
    pub replaced_by: Option<Vec<TripId>>,
}

impl TripLineage {
    /// The trips this one was made from (empty for a recorded trip).
    pub fn sources(&self) -> Vec<TripId> {
        match (&self.merged_from, self.split_from) {
            (Some(from), _) => from.clone(),
            (None, Some(from)) => vec![from],
            (None, None) => Vec::new(),
        }
    }

    /// Whether an instant falls in this part's window (always, for a trip that is not a part).
    pub fn in_window(&self, at: DateTime<Utc>) -> bool {
        self.window_from.is_none_or(|f| at >= f) && self.window_until.is_none_or(|u| at < u)
    }
}

/// Whether a trip counts, and if not, why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TripStatus {
    /// Counts in totals and reports.
    Current,
    /// Discarded by a person; restorable.
    Discarded,
    /// Replaced by a merged trip or split parts, which count instead.
    Replaced,
    /// A merge or split that lost to a concurrent one on the same source (or whose source
    /// was discarded); kept for the history, not counted.
    Superseded,
}

impl TripStatus {
    /// Stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Current => "current",
            Self::Discarded => "discarded",
            Self::Replaced => "replaced",
            Self::Superseded => "superseded",
        }
    }
}

/// What [`statuses`] needs of one trip.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LineageNode {
    /// Tombstoned (discarded).
    pub discarded: bool,
    /// Its lineage fields.
    pub lineage: TripLineage,
}

/// The status of every trip, from the merged lineage fields alone (so every replica that
/// holds the same fields decides the same).
pub fn statuses(nodes: &BTreeMap<TripId, LineageNode>) -> BTreeMap<TripId, TripStatus> {
    let mut valid: BTreeMap<TripId, bool> = BTreeMap::new();
    for id in nodes.keys() {
        is_valid(*id, nodes, &mut valid, &mut BTreeSet::new());
    }
    nodes
        .iter()
        .map(|(id, node)| {
            let status =
                if node.discarded {
                    TripStatus::Discarded
                } else if !valid.get(id).copied().unwrap_or(false) {
                    TripStatus::Superseded
                } else if node.lineage.replaced_by.iter().flatten().any(|by| {
                    valid.get(by).copied().unwrap_or(false) && names_source(nodes, *by, *id)
                }) {
                    TripStatus::Replaced
                } else {
                    TripStatus::Current
                };
            (*id, status)
        })
        .collect()
}

fn names_source(nodes: &BTreeMap<TripId, LineageNode>, derived: TripId, source: TripId) -> bool {
    nodes
        .get(&derived)
        .is_some_and(|n| n.lineage.sources().contains(&source))
}

/// Valid: recorded, or every source is valid, live and points back. A cycle (only a forged
/// log can make one) is invalid.
fn is_valid(
    id: TripId,
    nodes: &BTreeMap<TripId, LineageNode>,
    memo: &mut BTreeMap<TripId, bool>,
    visiting: &mut BTreeSet<TripId>,
) -> bool {
    if let Some(v) = memo.get(&id) {
        return *v;
    }
    let Some(node) = nodes.get(&id) else {
        return false;
    };
    if !visiting.insert(id) {
        return false;
    }
    let sources = node.lineage.sources();
    let mut ok = true;
    for source in &sources {
        let Some(s) = nodes.get(source) else {
            ok = false;
            break;
        };
        let points_back = s.lineage.replaced_by.iter().flatten().any(|by| *by == id);
        if s.discarded || !points_back || !is_valid(*source, nodes, memo, visiting) {
            ok = false;
            break;
        }
    }
    visiting.remove(&id);
    memo.insert(id, ok);
    ok
}

const MERGE_NS: Uuid = Uuid::from_u128(0x7461_6368_6f2d_6d65_7267_6500_0000_0001);
const SPLIT_NS: Uuid = Uuid::from_u128(0x7461_6368_6f2d_7370_6c69_7400_0000_0001);

/// The id of the merge of `sources` (in order): the same on every device.
pub fn merged_id(sources: &[TripId]) -> TripId {
    let key: Vec<String> = sources.iter().map(ToString::to_string).collect();
    TripId(Uuid::new_v5(&MERGE_NS, key.join("+").as_bytes()))
}

/// The id of the part of `source` in a window: the same on every device.
pub fn split_id(
    source: TripId,
    from: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
) -> TripId {
    let ms = |t: Option<DateTime<Utc>>| {
        t.map_or_else(|| "-".to_owned(), |t| t.timestamp_millis().to_string())
    };
    TripId(Uuid::new_v5(
        &SPLIT_NS,
        format!("{source}:{}:{}", ms(from), ms(until)).as_bytes(),
    ))
}

/// One point as the rules below need it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PathPoint {
    /// The fix.
    pub ping: Ping,
    /// Whether it counts towards the distance (good accuracy).
    pub counted: bool,
}

/// The share of a recorded trip's distance that lies in `[from, until)`, by path length
/// along its counted points: the stretch up to the first point at or after a bound belongs
/// to the window before it, so the shares of adjacent windows add up to exactly 1. A trip
/// without a measurable path is shared by time between `started_at` and `ended_at`.
pub fn window_share(
    points: &[PathPoint],
    started_at: DateTime<Utc>,
    ended_at: DateTime<Utc>,
    from: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
) -> f64 {
    let counted: Vec<&PathPoint> = points.iter().filter(|p| p.counted).collect();
    let mut cumulative = Vec::with_capacity(counted.len());
    let mut total = 0.0;
    for (i, p) in counted.iter().enumerate() {
        if i > 0 {
            total += position(&counted[i - 1].ping).distance_m(position(&p.ping));
        }
        cumulative.push(total);
    }
    if total > 0.0 {
        let at = |bound: Option<DateTime<Utc>>, none: f64| match bound {
            None => none,
            Some(t) => counted
                .iter()
                .position(|p| p.ping.at >= t)
                .map_or(total, |i| cumulative[i]),
        };
        return ((at(until, total) - at(from, 0.0)) / total).clamp(0.0, 1.0);
    }
    let span = (ended_at - started_at).num_milliseconds();
    if span <= 0 {
        let inside = from.is_none_or(|f| started_at >= f) && until.is_none_or(|u| started_at < u);
        return if inside { 1.0 } else { 0.0 };
    }
    let clip = |t: Option<DateTime<Utc>>, none: DateTime<Utc>| {
        t.unwrap_or(none).clamp(started_at, ended_at)
    };
    let len = (clip(until, ended_at) - clip(from, started_at)).num_milliseconds();
    (len as f64 / span as f64).clamp(0.0, 1.0)
}

fn position(p: &Ping) -> LatLon {
    LatLon {
        lat: p.lat,
        lon: p.lon,
    }
}

/// Stationary means the next fix is within this many metres (or the two fixes' accuracy).
pub const STOP_RADIUS_M: f64 = 150.0;
/// A stop shorter than this is a traffic light, not a place to split at.
pub const MIN_STOP_SECS: i64 = 60;

/// Where to split a trip at its longest stop: the longest run of fixes that stay within
/// [`STOP_RADIUS_M`] of the run's first one, split after the largest time gap inside it (for
/// two drives merged, the gap between the first's last fix and the second's first fix).
/// Returns the instant of the first fix of the second part, or `None` without a stop of at
/// least [`MIN_STOP_SECS`] that leaves fixes on both sides.
pub fn longest_stop(points: &[PathPoint]) -> Option<DateTime<Utc>> {
    let mut pings: Vec<Ping> = points.iter().map(|p| p.ping).collect();
    pings.sort_by_key(|p| p.at);
    let mut best: Option<(i64, DateTime<Utc>)> = None;
    let mut start = 0;
    while start < pings.len() {
        let anchor = position(&pings[start]);
        let radius = STOP_RADIUS_M.max(pings[start].accuracy_m.unwrap_or(0.0));
        let mut end = start;
        while end + 1 < pings.len() && anchor.distance_m(position(&pings[end + 1])) <= radius {
            end += 1;
        }
        if end > start {
            let duration = (pings[end].at - pings[start].at).num_seconds();
            // The largest gap inside the run; the first of equal gaps, for one answer.
            let mut cut = start + 1;
            for k in start + 1..=end {
                if pings[k].at - pings[k - 1].at > pings[cut].at - pings[cut - 1].at {
                    cut = k;
                }
            }
            if duration >= MIN_STOP_SECS && best.is_none_or(|(d, _)| duration > d) {
                best = Some((duration, pings[cut].at));
            }
            start = end;
        } else {
            start += 1;
        }
    }
    best.map(|(_, at)| at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    fn id(n: u128) -> TripId {
        TripId(Uuid::from_u128(n))
    }

    fn node(
        merged: Option<Vec<TripId>>,
        split: Option<TripId>,
        by: Option<Vec<TripId>>,
    ) -> LineageNode {
        LineageNode {
            discarded: false,
            lineage: TripLineage {
                merged_from: merged,
                split_from: split,
                replaced_by: by,
                ..TripLineage::default()
            },
        }
    }

    #[test]
    fn a_merge_replaces_its_sources_and_a_losing_merge_is_superseded() {
        let (a, b, c, m, n) = (id(1), id(2), id(3), id(10), id(11));
        let mut nodes = BTreeMap::new();
        nodes.insert(a, node(None, None, Some(vec![m])));
        // b went to n (the concurrent merge that won b's `replaced_by`).
        nodes.insert(b, node(None, None, Some(vec![n])));
        nodes.insert(c, node(None, None, Some(vec![n])));
        nodes.insert(m, node(Some(vec![a, b]), None, None));
        nodes.insert(n, node(Some(vec![b, c]), None, None));
        let s = statuses(&nodes);
        assert_eq!(s[&m], TripStatus::Superseded);
        assert_eq!(
            s[&a],
            TripStatus::Current,
            "a's merge lost, so a counts again"
        );
        assert_eq!(s[&b], TripStatus::Replaced);
        assert_eq!(s[&c], TripStatus::Replaced);
        assert_eq!(s[&n], TripStatus::Current);
        // A discarded source invalidates the merge; the other source counts again.
        nodes.get_mut(&c).unwrap().discarded = true;
        let s = statuses(&nodes);
        assert_eq!(s[&n], TripStatus::Superseded);
        assert_eq!(s[&b], TripStatus::Current);
        assert_eq!(s[&c], TripStatus::Discarded);
    }

    #[test]
    fn chains_and_cycles() {
        let (a, b, m, p, q) = (id(1), id(2), id(10), id(20), id(21));
        let mut nodes = BTreeMap::new();
        nodes.insert(a, node(None, None, Some(vec![m])));
        nodes.insert(b, node(None, None, Some(vec![m])));
        nodes.insert(m, node(Some(vec![a, b]), None, Some(vec![p, q])));
        nodes.insert(p, node(None, Some(m), None));
        nodes.insert(q, node(None, Some(m), None));
        let s = statuses(&nodes);
        assert_eq!(
            [s[&a], s[&b], s[&m], s[&p], s[&q]],
            [
                TripStatus::Replaced,
                TripStatus::Replaced,
                TripStatus::Replaced,
                TripStatus::Current,
                TripStatus::Current
            ]
        );
        // A forged cycle counts nothing twice and does not loop.
        let (x, y) = (id(30), id(31));
        nodes.insert(x, node(None, Some(y), Some(vec![y])));
        nodes.insert(y, node(None, Some(x), Some(vec![x])));
        let s = statuses(&nodes);
        assert_eq!(
            (s[&x], s[&y]),
            (TripStatus::Superseded, TripStatus::Superseded)
        );
    }

    fn pt(secs: i64, lat: f64) -> PathPoint {
        let t0 = Utc.with_ymd_and_hms(2026, 3, 2, 8, 0, 0).unwrap();
        PathPoint {
            ping: Ping::at(t0 + Duration::seconds(secs), lat, 5.0),
            counted: true,
        }
    }

    #[test]
    fn window_shares_of_adjacent_windows_add_up_to_one() {
        let pts: Vec<PathPoint> = (0..20)
            .map(|i| pt(i * 10, 52.0 + i as f64 * 0.001))
            .collect();
        let (s, e) = (pts[0].ping.at, pts[19].ping.at);
        let cut = pts[7].ping.at + Duration::seconds(3);
        let a = window_share(&pts, s, e, None, Some(cut));
        let b = window_share(&pts, s, e, Some(cut), None);
        assert!((a + b - 1.0).abs() < 1e-12, "{a} + {b}");
        assert!((a - 8.0 / 19.0).abs() < 1e-6, "{a}");
        assert_eq!(window_share(&pts, s, e, None, None), 1.0);
        // No path: shared by time.
        assert!(
            (window_share(&[], s, e, None, Some(s + Duration::seconds(95))) - 0.5).abs() < 1e-9
        );
    }

    #[test]
    fn the_longest_stop_is_cut_at_its_largest_gap() {
        let mut pts: Vec<PathPoint> = (0..10)
            .map(|i| pt(i * 5, 52.0 + i as f64 * 0.001))
            .collect();
        // Parked for 20 minutes with a fix now and then, then on.
        pts.push(pt(50, 52.009_01));
        pts.push(pt(1250, 52.009_02));
        pts.push(pt(1255, 52.009_03));
        pts.extend((1..10).map(|i| pt(1255 + i * 5, 52.009 + i as f64 * 0.001)));
        assert_eq!(longest_stop(&pts), Some(pts[11].ping.at));
        // A short halt is no stop.
        let short: Vec<PathPoint> = (0..10)
            .map(|i| pt(i * 5, 52.0 + i as f64 * 0.001))
            .collect();
        assert_eq!(longest_stop(&short), None);
    }
}
