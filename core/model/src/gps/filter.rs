//! GPS noise filter and filtered path length (owned by the detector work).
//!
//! The filter walks fixes in time order and keeps one *anchor*: the last fix
//! that counted toward the distance. Each new fix is judged against it:
//!
//! - a fix whose accuracy is worse than [`FilterConfig::max_accuracy_m`] is
//!   kept for the map but never counted, and never becomes the anchor;
//! - a fix reachable from the anchor at a plausible speed counts, and the
//!   straight line to it is added to the distance;
//! - a fix that implies an impossible speed becomes a *suspect* and waits for
//!   the next fix. If that next fix agrees with the anchor, the suspect was a
//!   lone outlier and is dropped; if it agrees with the suspect, the suspect
//!   was a real jump (the receiver caught up after a tunnel) and counts.
//!   When the next fix agrees with neither, or there is no next fix, the
//!   suspect is judged against the anchor measured from the moment the
//!   anchor's position first froze, so a tunnel freeze-then-jump is bridged.
//!
//! The state is a handful of numbers and at most one held-back fix, so it can
//! be serialised after every ping.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{LatLon, Ping};

/// Tunables of the noise filter.
///
/// Defaults are chosen for cars: see the field docs for the reasoning.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FilterConfig {
    /// Fixes with an accuracy radius above this are kept but not counted.
    /// 100 m is what phones report without a satellite lock (Wi-Fi / cell
    /// positioning): good enough to show where the car was, far too coarse to
    /// add up as distance.
    pub max_accuracy_m: f64,
    /// Fastest believable ground speed. 70 m/s = 252 km/h sits just above
    /// the 250 km/h electronic limiter of most fast cars on unrestricted
    /// Autobahn stretches, while real GPS outliers imply hundreds of m/s or
    /// more. The accuracy radii of both fixes are granted as slack before the
    /// speed is computed, so jitter at 1 Hz does not trip it.
    pub max_speed_mps: f64,
}

impl Default for FilterConfig {
    fn default() -> Self {
        Self {
            max_accuracy_m: 100.0,
            max_speed_mps: 70.0,
        }
    }
}

/// How the filter judged one fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PointKind {
    /// Good fix: the line to it is part of the distance.
    Counted,
    /// Too coarse to count, but still a real position worth keeping.
    PoorAccuracy,
    /// A wild jump that no car could make: dropped.
    Outlier,
}

/// Serde for the floats of persisted state, written as decimal strings.
///
/// serde_json prints the shortest representation that round-trips, but
/// without its `float_roundtrip` feature it may parse a 17-digit number one
/// ulp off, and then a restored detector would differ from the stored one.
/// A string is parsed by `str::parse`, which rounds correctly. Plain numbers
/// are accepted too, for hand-written state.
pub(crate) mod exact {
    use serde::de::{self, Visitor};
    use serde::{Deserializer, Serializer};
    use std::fmt;

    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        if v.is_finite() {
            // Debug is the shortest round-trip form, with an exponent for
            // huge or tiny values (Display would print hundreds of digits).
            s.collect_str(&format_args!("{v:?}"))
        } else {
            // The detector rejects such fixes before they reach any state;
            // JSON has no NaN, so a standalone filter fed one stores 0.
            s.serialize_f64(0.0)
        }
    }

    struct F64Visitor;

    impl Visitor<'_> for F64Visitor {
        type Value = f64;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a number or a decimal string")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<f64, E> {
            v.parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .ok_or_else(|| E::custom("not a finite decimal"))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<f64, E> {
            Ok(v)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<f64, E> {
            Ok(v as f64)
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<f64, E> {
            Ok(v as f64)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        d.deserialize_any(F64Visitor)
    }

    /// The same for optional values; pair with `default` and
    /// `skip_serializing_if = "Option::is_none"`.
    pub mod opt {
        use serde::{Deserialize, Deserializer, Serializer};

        #[derive(Deserialize)]
        struct Wrap(#[serde(with = "super")] f64);

        pub fn serialize<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
            match v {
                Some(x) => super::serialize(x, s),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
            Ok(Option::<Wrap>::deserialize(d)?.map(|w| w.0))
        }
    }
}

/// A [`Ping`] as held in persisted state, with exact float round trips.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct StoredPing {
    at: DateTime<Utc>,
    #[serde(with = "exact")]
    lat: f64,
    #[serde(with = "exact")]
    lon: f64,
    #[serde(default, with = "exact::opt", skip_serializing_if = "Option::is_none")]
    acc: Option<f64>,
    #[serde(default, with = "exact::opt", skip_serializing_if = "Option::is_none")]
    spd: Option<f64>,
    #[serde(default, with = "exact::opt", skip_serializing_if = "Option::is_none")]
    hdg: Option<f64>,
    #[serde(default, with = "exact::opt", skip_serializing_if = "Option::is_none")]
    alt: Option<f64>,
}

impl From<Ping> for StoredPing {
    fn from(p: Ping) -> Self {
        Self {
            at: p.at,
            lat: p.lat,
            lon: p.lon,
            acc: p.accuracy_m,
            spd: p.speed_mps,
            hdg: p.heading_deg,
            alt: p.altitude_m,
        }
    }
}

impl From<StoredPing> for Ping {
    fn from(p: StoredPing) -> Self {
        Self {
            at: p.at,
            lat: p.lat,
            lon: p.lon,
            accuracy_m: p.acc,
            speed_mps: p.spd,
            heading_deg: p.hdg,
            altitude_m: p.alt,
        }
    }
}

/// A position in persisted state, with exact float round trips.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct StoredPos {
    #[serde(with = "exact")]
    lat: f64,
    #[serde(with = "exact")]
    lon: f64,
}

impl From<LatLon> for StoredPos {
    fn from(p: LatLon) -> Self {
        Self {
            lat: p.lat,
            lon: p.lon,
        }
    }
}

impl From<StoredPos> for LatLon {
    fn from(p: StoredPos) -> Self {
        Self {
            lat: p.lat,
            lon: p.lon,
        }
    }
}

/// Positions closer than this are treated as the same (a frozen receiver
/// repeats its last fix bit for bit; this only absorbs float dust).
const FROZEN_EPS_M: f64 = 0.01;

/// The last counted fix, against which new fixes are judged.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Anchor {
    #[serde(with = "exact")]
    lat: f64,
    #[serde(with = "exact")]
    lon: f64,
    at: DateTime<Utc>,
    /// When the receiver first reported this exact position (tunnel freeze).
    since: DateTime<Utc>,
    #[serde(default, with = "exact::opt", skip_serializing_if = "Option::is_none")]
    acc: Option<f64>,
}

impl Anchor {
    fn pos(&self) -> LatLon {
        LatLon {
            lat: self.lat,
            lon: self.lon,
        }
    }
}

/// Incremental filter: push fixes in time order, get each fix's verdict
/// (possibly one fix late, because telling a lone outlier from a tunnel jump
/// needs the next fix), then `finish()`.
///
/// Its state is O(1) so the detector can persist it after every ping.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PathFilter {
    cfg: FilterConfig,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    anchor: Option<Anchor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    suspect: Option<StoredPing>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_at: Option<DateTime<Utc>>,
    #[serde(with = "exact")]
    distance_m: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    first: Option<StoredPos>,
    /// First and last kept fix of poor accuracy: the fallback ends of a
    /// track that never had a good fix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    poor_first: Option<StoredPos>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    poor_last: Option<StoredPos>,
}

impl PathFilter {
    /// An empty filter; the config is copied in so a persisted filter keeps
    /// judging a trip by the rules it started with.
    pub fn new(cfg: FilterConfig) -> Self {
        Self {
            cfg,
            anchor: None,
            suspect: None,
            last_at: None,
            distance_m: 0.0,
            first: None,
            poor_first: None,
            poor_last: None,
        }
    }

    /// The config this filter judges by.
    pub fn config(&self) -> &FilterConfig {
        &self.cfg
    }

    /// Feeds the next fix and returns the verdicts that became final, in time
    /// order: usually the fix itself, sometimes nothing (it is held as a
    /// suspect), sometimes the previous suspect and this fix.
    ///
    /// A fix not later than the previous one is ignored (returns nothing):
    /// the detector reports those as dropped before they get here. A fix with
    /// non-finite or out-of-range coordinates is an `Outlier`, so garbage
    /// can never poison the distance.
    pub fn push(&mut self, ping: Ping) -> Vec<(Ping, PointKind)> {
        let mut out = Vec::with_capacity(2);
        if !coords_ok(&ping) {
            out.push((ping, PointKind::Outlier));
            return out;
        }
        if self.last_at.is_some_and(|t| ping.at <= t) {
            return out;
        }
        self.last_at = Some(ping.at);

        if let Some(suspect) = self.suspect.take().map(Ping::from) {
            let verdict = self.resolve_suspect(&suspect, &ping);
            if verdict == PointKind::Counted {
                self.count(&suspect);
            }
            out.push((suspect, verdict));
        }
        if let Some(v) = self.judge(&ping) {
            out.push((ping, v));
        }
        out
    }

    /// Settles the held-back suspect, if any, with no next fix to compare:
    /// it counts if it is believable from the moment the anchor froze.
    /// The filter stays usable afterwards.
    pub fn finish(&mut self) -> Vec<(Ping, PointKind)> {
        let mut out = Vec::new();
        if let Some(suspect) = self.suspect.take().map(Ping::from) {
            let ok = self
                .anchor
                .is_none_or(|a| self.plausible(a.pos(), a.acc, a.since, &suspect));
            let verdict = if ok {
                self.count(&suspect);
                PointKind::Counted
            } else {
                PointKind::Outlier
            };
            out.push((suspect, verdict));
        }
        out
    }

    /// Sum of the straight lines between counted fixes, in metres. Excludes a
    /// suspect still waiting for its verdict.
    pub fn distance_m(&self) -> f64 {
        self.distance_m
    }

    /// First counted position (else the first poor-accuracy one): the start
    /// to show and geocode.
    pub fn first(&self) -> Option<LatLon> {
        self.first.or(self.poor_first).map(LatLon::from)
    }

    /// Last counted position (else the last poor-accuracy one): the end to
    /// show and geocode.
    pub fn last(&self) -> Option<LatLon> {
        self.anchor
            .map(|a| a.pos())
            .or(self.poor_last.map(LatLon::from))
    }

    /// Whether a fix is being held back for the next one's verdict.
    pub fn has_pending(&self) -> bool {
        self.suspect.is_some()
    }

    /// Judges a fix against the anchor; `None` when it becomes the suspect.
    fn judge(&mut self, ping: &Ping) -> Option<PointKind> {
        if !self.accurate(ping) {
            // A coarse fix never anchors; drop it only if even its coarse
            // radius cannot explain where it claims to be.
            let wild = self
                .anchor
                .is_some_and(|a| !self.plausible(a.pos(), a.acc, a.since, ping));
            if wild {
                return Some(PointKind::Outlier);
            }
            self.poor_first.get_or_insert(ping.position().into());
            self.poor_last = Some(ping.position().into());
            return Some(PointKind::PoorAccuracy);
        }
        match self.anchor {
            Some(a) if !self.plausible(a.pos(), a.acc, a.at, ping) => {
                self.suspect = Some((*ping).into());
                None
            }
            _ => {
                self.count(ping);
                Some(PointKind::Counted)
            }
        }
    }

    /// Decides a suspect with the fix that followed it.
    fn resolve_suspect(&self, suspect: &Ping, next: &Ping) -> PointKind {
        let Some(a) = self.anchor else {
            return PointKind::Counted;
        };
        if self.plausible(a.pos(), a.acc, a.at, next) {
            // The track carries on from before the suspect: a lone outlier.
            PointKind::Outlier
        } else if self.plausible(suspect.position(), suspect.accuracy_m, suspect.at, next) {
            // The track carries on from the suspect: a real jump.
            PointKind::Counted
        } else if self.plausible(a.pos(), a.acc, a.since, suspect) {
            // Undecided by the next fix; a jump after a freeze is a gap.
            PointKind::Counted
        } else {
            PointKind::Outlier
        }
    }

    /// Makes a good fix the anchor and adds the line to it.
    fn count(&mut self, ping: &Ping) {
        let pos = ping.position();
        let since = match self.anchor {
            Some(a) => {
                let d = a.pos().distance_m(pos);
                if d.is_finite() {
                    self.distance_m += d;
                }
                if d <= FROZEN_EPS_M { a.since } else { ping.at }
            }
            None => ping.at,
        };
        self.first.get_or_insert(pos.into());
        self.anchor = Some(Anchor {
            lat: ping.lat,
            lon: ping.lon,
            at: ping.at,
            since,
            acc: ping.accuracy_m,
        });
    }

    fn accurate(&self, ping: &Ping) -> bool {
        // NaN compares false, so a NaN accuracy is treated as poor.
        ping.accuracy_m.is_none_or(|a| a <= self.cfg.max_accuracy_m)
    }

    /// Whether `to` can be reached from `from` (seen there since `since`)
    /// without exceeding the speed limit, after granting both accuracy radii.
    fn plausible(
        &self,
        from: LatLon,
        from_acc: Option<f64>,
        since: DateTime<Utc>,
        to: &Ping,
    ) -> bool {
        let slack = self.slack(from_acc) + self.slack(to.accuracy_m);
        let d = (from.distance_m(to.position()) - slack).max(0.0);
        if d == 0.0 {
            return true;
        }
        let secs = (to.at - since).num_milliseconds() as f64 / 1000.0;
        secs > 0.0 && d / secs <= self.cfg.max_speed_mps
    }

    fn slack(&self, acc: Option<f64>) -> f64 {
        match acc {
            Some(a) if a.is_finite() && a > 0.0 => a.min(self.cfg.max_accuracy_m.max(0.0)),
            _ => 0.0,
        }
    }
}

fn coords_ok(p: &Ping) -> bool {
    p.lat.is_finite()
        && p.lon.is_finite()
        && (-90.0..=90.0).contains(&p.lat)
        && (-180.0..=180.0).contains(&p.lon)
}

/// Batch form over a whole track, same code path as [`PathFilter`], so a
/// finalised trip and a live one agree to the metre.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PathStats {
    /// Filtered path length in metres.
    pub distance_m: f64,
    /// Fixes that contributed to the distance.
    pub counted: usize,
    /// Fixes kept but too coarse to count.
    pub poor_accuracy: usize,
    /// Wild fixes dropped (including ones with impossible coordinates).
    pub outliers: usize,
    /// Fixes skipped because they were not later than the previous one.
    pub skipped: usize,
    /// Start position (see [`PathFilter::first`]).
    pub first: Option<LatLon>,
    /// End position (see [`PathFilter::last`]).
    pub last: Option<LatLon>,
}

/// Filters a whole track at once. Fixes whose time is not after the previous
/// fix's are skipped (counted in `skipped`), so an unsorted or duplicated
/// import cannot inflate the distance.
pub fn path_stats(pings: &[Ping], cfg: FilterConfig) -> PathStats {
    let mut f = PathFilter::new(cfg);
    let mut stats = PathStats {
        distance_m: 0.0,
        counted: 0,
        poor_accuracy: 0,
        outliers: 0,
        skipped: 0,
        first: None,
        last: None,
    };
    let tally = |verdicts: Vec<(Ping, PointKind)>, stats: &mut PathStats| {
        for (_, k) in verdicts {
            match k {
                PointKind::Counted => stats.counted += 1,
                PointKind::PoorAccuracy => stats.poor_accuracy += 1,
                PointKind::Outlier => stats.outliers += 1,
            }
        }
    };
    let mut prev: Option<DateTime<Utc>> = None;
    for p in pings {
        if coords_ok(p) && prev.is_some_and(|t| p.at <= t) {
            stats.skipped += 1;
            continue;
        }
        if coords_ok(p) {
            prev = Some(p.at);
        }
        tally(f.push(*p), &mut stats);
    }
    tally(f.finish(), &mut stats);
    stats.distance_m = f.distance_m();
    stats.first = f.first();
    stats.last = f.last();
    stats
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_600_000_000 + s, 0)
            .single()
            .unwrap_or_default()
    }

    /// A 1 Hz drive north at ~11 m/s.
    fn drive(n: i64) -> Vec<Ping> {
        (0..n)
            .map(|i| Ping::at(t(i), 48.0 + i as f64 * 0.0001, 11.0))
            .collect()
    }

    #[test]
    fn lone_outlier_is_dropped_and_later_fixes_kept() {
        let clean = drive(30);
        let mut noisy = clean.clone();
        noisy[15].lat += 0.05; // ~5.5 km off
        let a = path_stats(&clean, FilterConfig::default());
        let b = path_stats(&noisy, FilterConfig::default());
        assert_eq!(b.outliers, 1);
        assert_eq!(b.counted, 29);
        // The straight line past the outlier equals the two legs it skipped.
        assert!((a.distance_m - b.distance_m).abs() < 1.0, "{a:?} {b:?}");
    }

    #[test]
    fn freeze_then_jump_is_bridged() {
        let mut track: Vec<Ping> = (0..30).map(|i| Ping::at(t(i), 48.0, 11.0)).collect();
        // 450 m north one second after a 30 s freeze, then driving on.
        for i in 0..5 {
            track.push(Ping::at(t(30 + i), 48.004 + i as f64 * 0.0001, 11.0));
        }
        let s = path_stats(&track, FilterConfig::default());
        assert_eq!(s.outliers, 0);
        assert!(s.distance_m > 440.0 + 40.0, "{s:?}");
    }

    #[test]
    fn jump_as_last_fix_after_freeze_is_kept() {
        let mut track: Vec<Ping> = (0..30).map(|i| Ping::at(t(i), 48.0, 11.0)).collect();
        track.push(Ping::at(t(30), 48.004, 11.0));
        let s = path_stats(&track, FilterConfig::default());
        assert_eq!(s.outliers, 0, "{s:?}");
        // Without the freeze it would be a 445 m/s leap: dropped.
        let s = path_stats(
            &[Ping::at(t(0), 48.0, 11.0), Ping::at(t(1), 48.004, 11.0)],
            FilterConfig::default(),
        );
        assert_eq!(s.outliers, 1, "{s:?}");
    }

    #[test]
    fn poor_accuracy_is_kept_but_not_counted() {
        let mut track = drive(10);
        track[5].accuracy_m = Some(500.0);
        let s = path_stats(&track, FilterConfig::default());
        assert_eq!((s.counted, s.poor_accuracy, s.outliers), (9, 1, 0));
        let clean = path_stats(&drive(10), FilterConfig::default());
        assert!((s.distance_m - clean.distance_m).abs() < 0.01);
    }

    #[test]
    fn unsorted_and_garbage_input_is_skipped() {
        let mut track = drive(10);
        track.insert(5, track[2]);
        track.insert(7, Ping::at(t(3), f64::NAN, 11.0));
        let s = path_stats(&track, FilterConfig::default());
        let clean = path_stats(&drive(10), FilterConfig::default());
        assert_eq!(s.skipped, 1);
        assert_eq!(s.outliers, 1);
        assert!((s.distance_m - clean.distance_m).abs() < 1e-9);
    }
}
