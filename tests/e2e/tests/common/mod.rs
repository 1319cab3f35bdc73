//! Shared helpers of the fault and convergence tests: a device's whole
//! visible state, bounded sync retries, relay snapshots and their checks.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    missing_docs,
    dead_code
)]

use std::collections::{BTreeMap, HashSet};

use chrono::Duration;
use serde_json::{Value, json};
use tacho_core::{Core, EntryFilter, SyncReport};
use tacho_e2e::proxy::http_json;
use tacho_model::car::Car;
use tacho_model::gps::Ping;
use tacho_model::lineage::{TripLineage, TripStatus};
use tacho_model::place::Place;
use tacho_model::trip::{Trip, TripEdit, TripSource};
use tacho_model::work::{Project, TimeEntry, TimeEntryEdit};
use tacho_store::{TripFilter, TripPoint};

pub const PASSWORD: &str = "correct horse battery";

/// A unique email for one test run.
pub fn email(tag: &str) -> String {
    format!("{tag}-{}@example.org", uuid::Uuid::now_v7().simple())
}

/// Everything a person can see on a device that sync should make equal.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceState {
    pub trips: Vec<Trip>,
    pub points: BTreeMap<String, Vec<TripPoint>>,
    pub history: BTreeMap<String, Vec<TripEdit>>,
    /// Whether each trip counts, and its merge/split lineage.
    pub lineage: BTreeMap<String, (TripStatus, TripLineage)>,
    pub entries: Vec<TimeEntry>,
    /// The edit history of every live entry, by entry id.
    pub entry_history: BTreeMap<String, Vec<TimeEntryEdit>>,
    pub projects: Vec<Project>,
    pub cars: Vec<Car>,
    pub places: Vec<Place>,
}

impl DeviceState {
    pub fn running(&self) -> Vec<&TimeEntry> {
        self.entries.iter().filter(|e| e.stop.is_none()).collect()
    }
}

pub async fn state(core: &Core) -> DeviceState {
    let trips = core
        .trips(TripFilter {
            include_discarded: true,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut points = BTreeMap::new();
    let mut history = BTreeMap::new();
    let mut lineage = BTreeMap::new();
    for t in &trips {
        let key = t.id.to_string();
        points.insert(key.clone(), core.trip_points(&key).await.unwrap());
        let detail = core.trip(&key).await.unwrap();
        history.insert(key.clone(), detail.history);
        lineage.insert(key.clone(), (detail.status, detail.lineage));
    }
    let entries = core.entries(EntryFilter::default()).await.unwrap();
    let mut entry_history = BTreeMap::new();
    for e in &entries {
        let key = e.id.to_string();
        let history = core.entry(&key).await.unwrap().history;
        entry_history.insert(key, history);
    }
    DeviceState {
        trips,
        points,
        history,
        lineage,
        entries,
        entry_history,
        projects: core.projects().await.unwrap(),
        cars: core.cars().await.unwrap(),
        places: core.places().await.unwrap(),
    }
}

/// No duplicated points (gap-free `seq` from 0, no repeated fix, the header's
/// count matches), no duplicated edit, at most one running entry.
pub fn assert_well_formed(name: &str, s: &DeviceState) {
    for t in &s.trips {
        let key = t.id.to_string();
        let pts = &s.points[&key];
        for (i, p) in pts.iter().enumerate() {
            assert_eq!(p.seq as usize, i, "{name}: trip {key} point seqs not 0..n");
        }
        let fixes: HashSet<(i64, u64, u64)> = pts
            .iter()
            .map(|p| {
                (
                    p.ping.at.timestamp_millis(),
                    p.ping.lat.to_bits(),
                    p.ping.lon.to_bits(),
                )
            })
            .collect();
        assert_eq!(
            fixes.len(),
            pts.len(),
            "{name}: trip {key} has duplicate fixes"
        );
        assert_eq!(
            t.point_count as usize,
            pts.len(),
            "{name}: trip {key} header count vs stored points"
        );
        let edits = &s.history[&key];
        let unique: HashSet<String> = edits.iter().map(|e| format!("{e:?}")).collect();
        assert_eq!(
            unique.len(),
            edits.len(),
            "{name}: trip {key} duplicate edits"
        );
    }
    // No drive counts twice: a fix belongs to at most one trip that counts (merged trips
    // and split parts read their sources' fixes, which then no longer count themselves).
    let mut counted_fixes = HashSet::new();
    for t in &s.trips {
        let key = t.id.to_string();
        if s.lineage[&key].0 != TripStatus::Current {
            continue;
        }
        for p in &s.points[&key] {
            let fix = (
                p.ping.at.timestamp_millis(),
                p.ping.lat.to_bits(),
                p.ping.lon.to_bits(),
            );
            assert!(
                counted_fixes.insert(fix),
                "{name}: a fix of trip {key} is counted in another trip too"
            );
        }
    }
    assert!(
        s.running().len() <= 1,
        "{name}: several running entries: {:?}",
        s.running()
    );
    let ids: HashSet<_> = s.entries.iter().map(|e| e.id).collect();
    assert_eq!(ids.len(), s.entries.len(), "{name}: duplicate entries");
    for (key, edits) in &s.entry_history {
        let unique: HashSet<String> = edits.iter().map(|e| format!("{e:?}")).collect();
        assert_eq!(
            unique.len(),
            edits.len(),
            "{name}: entry {key} duplicate edits"
        );
        assert!(
            edits.windows(2).all(|p| p[0].at <= p[1].at),
            "{name}: entry {key} history out of order"
        );
    }
}

/// Field-by-field comparison with a readable failure. Lists are compared
/// by id: every list query sorts on a key that can tie (name, start time)
/// and breaks ties by arrival order, a known bug pinned by
/// `listings_with_ties_are_ordered_the_same_everywhere` and
/// `same_named_projects_list_in_the_same_order_everywhere`; the history's
/// order by `edit_history_order_is_the_same_on_every_device`.
pub fn assert_same(a_name: &str, a: &DeviceState, b_name: &str, b: &DeviceState) {
    same_by_id("trips", a_name, &a.trips, b_name, &b.trips, |t| {
        t.id.to_string()
    });
    assert_eq!(a.points, b.points, "points differ: {a_name} vs {b_name}");
    assert_eq!(
        a.lineage, b.lineage,
        "trip statuses or lineage differ: {a_name} vs {b_name}"
    );
    let (sa, sb) = (sorted_history(&a.history), sorted_history(&b.history));
    for (trip, ea) in &sa {
        let eb = sb.get(trip).cloned().unwrap_or_default();
        let only_a: Vec<_> = ea.iter().filter(|e| !eb.contains(e)).collect();
        let only_b: Vec<_> = eb.iter().filter(|e| !ea.contains(e)).collect();
        assert!(
            only_a.is_empty() && only_b.is_empty() && ea.len() == eb.len(),
            "trip {trip} history: only on {a_name}: {only_a:#?}\nonly on {b_name}: {only_b:#?}"
        );
    }
    assert_eq!(sa, sb, "histories differ: {a_name} vs {b_name}");
    same_by_id("entries", a_name, &a.entries, b_name, &b.entries, |e| {
        e.id.to_string()
    });
    // Entry histories are read in one order on every device (time, device, field).
    assert_eq!(
        a.entry_history, b.entry_history,
        "entry histories differ: {a_name} vs {b_name}"
    );
    same_by_id("projects", a_name, &a.projects, b_name, &b.projects, |p| {
        p.id.to_string()
    });
    same_by_id("cars", a_name, &a.cars, b_name, &b.cars, |c| {
        c.id.to_string()
    });
    same_by_id("places", a_name, &a.places, b_name, &b.places, |p| {
        p.id.to_string()
    });
}

fn same_by_id<T: PartialEq + std::fmt::Debug + Clone>(
    what: &str,
    a_name: &str,
    a: &[T],
    b_name: &str,
    b: &[T],
    id: impl Fn(&T) -> String,
) {
    let index = |v: &[T]| -> BTreeMap<String, T> { v.iter().map(|x| (id(x), x.clone())).collect() };
    let (ia, ib) = (index(a), index(b));
    assert_eq!(ia.len(), a.len(), "{what}: duplicate ids on {a_name}");
    assert_eq!(ib.len(), b.len(), "{what}: duplicate ids on {b_name}");
    for (k, x) in &ia {
        assert_eq!(
            Some(x),
            ib.get(k),
            "{what}: {k} differs: {a_name} vs {b_name}"
        );
    }
    for k in ib.keys() {
        assert!(ia.contains_key(k), "{what}: {k} only on {b_name}");
    }
}

/// Each trip's edits in a canonical order (time, device, field, value).
pub fn sorted_history(h: &BTreeMap<String, Vec<TripEdit>>) -> BTreeMap<String, Vec<TripEdit>> {
    h.iter()
        .map(|(k, edits)| {
            let mut edits = edits.clone();
            edits.sort_by_key(|e| {
                (
                    e.at,
                    e.device.to_string(),
                    e.field.as_str(),
                    e.new_value.clone(),
                    e.old_value.clone(),
                )
            });
            (k.clone(), edits)
        })
        .collect()
}

/// Retries `sync_once` until it succeeds; panics after `max` attempts.
/// Answers the successful report and the number of failed attempts.
pub async fn sync_until_ok(core: &Core, max: usize) -> (SyncReport, usize) {
    let mut last = None;
    for failed in 0..max {
        match core.sync_once().await {
            Ok(report) => return (report, failed),
            Err(e) => last = Some(e),
        }
    }
    panic!("sync_once failed {max} times in a row; last error: {last:?}");
}

/// Syncs every device (in order) until a full round moves nothing, at most
/// `rounds` rounds; then one more round must be quiet too.
pub async fn settle(cores: &[&Core]) {
    for _ in 0..6 {
        let mut moved = 0;
        for c in cores {
            let (r, _) = sync_until_ok(c, 5).await;
            moved += r.pushed + r.changed;
        }
        if moved == 0 {
            return;
        }
    }
    panic!("devices did not settle in 6 clean sync rounds");
}

/// An access token for a fresh inspector device of the account, straight
/// from the relay.
pub async fn inspector_token(relay: &str, email: &str) -> String {
    device_token(relay, email, &uuid::Uuid::now_v7().to_string()).await
}

/// An access token for `device` (an existing device of the account).
pub async fn device_token(relay: &str, email: &str, device: &str) -> String {
    let (status, body) = http_json(
        relay,
        "POST",
        "/v1/auth/login",
        None,
        Some(&json!({"email": email, "password": PASSWORD, "device_id": device, "device_name": "inspector"})),
    )
    .await
    .unwrap();
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().unwrap().to_owned()
}

/// The relay's snapshot ops.
pub async fn snapshot(relay: &str, token: &str) -> Vec<Value> {
    let (status, body) = http_json(relay, "GET", "/v1/snapshot", Some(token), None)
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    body["ops"].as_array().unwrap().clone()
}

/// No two ops share an `op_id`, cursors are 1..=n, and each device's ops
/// are exactly its outbox but the ops the relay refused (parked): `device_seq`
/// 1..=len with no repeat and no gap but those.
pub async fn assert_snapshot_exact(ops: &[Value], cores: &[&Core]) {
    let ids: HashSet<&str> = ops.iter().map(|o| o["op_id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), ops.len(), "the relay stored an op_id twice");
    for (i, op) in ops.iter().enumerate() {
        assert_eq!(op["cursor"].as_u64(), Some(i as u64 + 1), "cursor gap");
    }
    for core in cores {
        let device = core.device().unwrap().to_string();
        let mut seqs: Vec<u64> = ops
            .iter()
            .filter(|o| o["device"].as_str() == Some(device.as_str()))
            .map(|o| o["device_seq"].as_u64().unwrap())
            .collect();
        seqs.sort_unstable();
        // Ops the relay refused (parked on the device) are in its outbox but not in the log.
        let parked: HashSet<_> = core
            .parked_ops()
            .await
            .unwrap()
            .into_iter()
            .map(|p| p.op.op_id)
            .collect();
        let outbox: Vec<_> = core
            .outbox(0, usize::MAX)
            .await
            .unwrap()
            .into_iter()
            .filter(|o| !parked.contains(&o.op_id))
            .collect();
        let expected: Vec<u64> = outbox.iter().map(|o| o.device_seq).collect();
        assert_eq!(
            seqs, expected,
            "device {device}: relay's ops vs the device's outbox"
        );
        let relay_ids: HashSet<&str> = ops
            .iter()
            .filter(|o| o["device"].as_str() == Some(device.as_str()))
            .map(|o| o["op_id"].as_str().unwrap())
            .collect();
        for op in &outbox {
            assert!(relay_ids.contains(op.op_id.to_string().as_str()));
        }
    }
}

/// Records a trip of `n` fixes 200 ms apart starting now, and ends it.
pub async fn drive(core: &Core, n: i64, lat0: f64) -> String {
    let start = core.now();
    let started = core.connect(TripSource::Carplay, None).await.unwrap();
    let id = started.started[0];
    let pings: Vec<Ping> = (0..n)
        .map(|i| {
            let mut p = Ping::at(
                start + Duration::milliseconds(i * 200),
                lat0 + i as f64 * 0.00002,
                5.0 + i as f64 * 0.00001,
            );
            p.accuracy_m = Some(5.0);
            p
        })
        .collect();
    core.ping_batch(pings).await.unwrap();
    core.end_trip().await.unwrap();
    id.to_string()
}
