//! `tacho trip discard|restore|merge|split`: changes to recorded trips that keep the
//! originals in the history (docs/adr/0013-trip-merge-split-as-ops.md). Exit codes as
//! everywhere (`main.rs`): 3 bad input (a time that is no time, or not inside the trip),
//! 4 trip not found, 5 conflict (still recording, discarded, replaced, not consecutive,
//! different cars, no stop) or locked period.

use serde_json::{Value, json};
use tacho_core::{Core, SplitAt, TripDetail};
use tacho_model::lineage::TripStatus;

use crate::args::TripCmd;
use crate::commands::{bad, trip_line};
use crate::output::{self, out, short};
use crate::time::parse_instant;

/// Runs one of the trip changes.
pub async fn run(core: &Core, cmd: TripCmd, json: bool) -> anyhow::Result<()> {
    match cmd {
        TripCmd::Discard { id } => {
            let before = core.trip(&id).await?;
            let already = before.status == TripStatus::Discarded;
            core.discard_trip(&id).await?;
            let detail = core.trip(&id).await?;
            if json {
                output::json(&json!({ "discarded": id, "changed": !already, "trip": detail }))?;
            } else if already {
                out!("trip {} was already discarded", short(detail.trip.id))?;
            } else {
                out!(
                    "trip discarded (kept in the history; `tacho trip restore {}` brings it back)",
                    short(detail.trip.id)
                )?;
            }
        }
        TripCmd::Restore { id } => {
            let (detail, changed) = core.restore_trip(&id).await?;
            if json {
                output::json(&json!({ "restored": id, "changed": changed, "trip": detail }))?;
            } else if changed {
                out!("trip restored: {}", trip_line(&detail.trip))?;
            } else {
                out!("trip {} was not discarded", short(detail.trip.id))?;
            }
        }
        TripCmd::Merge { first, second } => {
            let merged = core.merge_trips(&first, &second).await?;
            if json {
                output::json(&json!({ "merged": merged }))?;
            } else {
                out!("merged into {}", merged.trip.id)?;
                out!("  {}", trip_line(&merged.trip))?;
            }
        }
        TripCmd::Split {
            id,
            at,
            at_longest_stop,
        } => {
            let at = match (at, at_longest_stop) {
                (_, true) => SplitAt::LongestStop,
                (Some(at), false) => {
                    SplitAt::Time(parse_instant(&at, core.now()).map_err(|e| bad(e.0))?)
                }
                (None, false) => return Err(bad("give --at TIME or --at-longest-stop")),
            };
            let (a, b) = core.split_trip(&id, at).await?;
            if json {
                output::json(&json!({ "parts": [a, b] }))?;
            } else {
                out!("split into {} and {}", a.trip.id, b.trip.id)?;
                out!("  {}", trip_line(&a.trip))?;
                out!("  {}", trip_line(&b.trip))?;
            }
        }
        other => return Err(bad(format!("not a trip change: {other:?}"))),
    }
    Ok(())
}

/// Adds `status` (and `counted`) to a trip's JSON row.
pub fn add_status(row: &mut Value, status: Option<TripStatus>) {
    let status = status.unwrap_or(TripStatus::Current);
    if let Value::Object(map) = row {
        map.insert("status".into(), Value::from(status.as_str()));
        map.insert("counted".into(), Value::from(status == TripStatus::Current));
    }
}

/// The flag after a trip's line in `trip list --all`.
pub fn status_flag(status: Option<TripStatus>) -> &'static str {
    match status.unwrap_or(TripStatus::Current) {
        TripStatus::Current => "",
        TripStatus::Discarded => "  [discarded]",
        TripStatus::Replaced => "  [merged/split into others]",
        TripStatus::Superseded => "  [superseded merge/split]",
    }
}

/// The status and lineage lines of `trip show`.
pub fn show_lineage(detail: &TripDetail) -> anyhow::Result<()> {
    let ids = |ids: &[tacho_model::id::TripId]| {
        ids.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    out!(
        "counts     {}",
        match detail.status {
            TripStatus::Current => "yes",
            TripStatus::Discarded => "no: discarded",
            TripStatus::Replaced => "no: merged or split into the trips below",
            TripStatus::Superseded => "no: a merge or split another device's change replaced",
        }
    )?;
    let l = &detail.lineage;
    if let Some(from) = &l.merged_from {
        out!("merged of  {}", ids(from))?;
    }
    if let Some(from) = l.split_from {
        let bound = |t: Option<chrono::DateTime<chrono::Utc>>| {
            t.map_or("…".to_owned(), |t| t.to_rfc3339())
        };
        out!(
            "split of   {from}  [{} .. {})",
            bound(l.window_from),
            bound(l.window_until)
        )?;
    }
    if let Some(by) = &l.replaced_by {
        out!("replaced   by {}", ids(by))?;
    }
    Ok(())
}
