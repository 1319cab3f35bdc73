#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
//! Work time through the `Core` facade: the timer's "today" is the person's local day.

use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use tacho_core::{Core, CoreConfig, NewEntry};
use tacho_model::clock::ManualClock;

async fn open(dir: &std::path::Path, clock: Arc<ManualClock>, zone: &str) -> Core {
    let mut config = CoreConfig::new(dir.join(format!("{}.db", zone.replace('/', "_"))));
    config.time_zone = zone.into();
    Core::open_with_clock(config, clock).await.unwrap()
}

async fn entry(core: &Core, start: chrono::DateTime<Utc>, minutes: i64) {
    core.add_entry(NewEntry {
        description: "work".into(),
        start: Some(start),
        stop: Some(start + Duration::minutes(minutes)),
        ..Default::default()
    })
    .await
    .unwrap();
}

/// At 00:40 in Amsterdam (23:40 UTC the day before) today holds what began
/// after local midnight plus the running timer, not the UTC day's entries.
#[tokio::test]
async fn today_is_the_local_day_of_the_cores_time_zone() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 3, 9, 23, 10, 0).unwrap(),
    ));
    let amsterdam = open(dir.path(), clock.clone(), "Europe/Amsterdam").await;
    let utc = open(dir.path(), clock.clone(), "UTC").await;
    for core in [&amsterdam, &utc] {
        // 22:00–22:30 UTC: 23:00–23:30 on 9 March in Amsterdam.
        entry(
            core,
            Utc.with_ymd_and_hms(2026, 3, 9, 22, 0, 0).unwrap(),
            30,
        )
        .await;
        // 23:05–23:10 UTC: 00:05–00:10 on 10 March in Amsterdam.
        entry(core, Utc.with_ymd_and_hms(2026, 3, 9, 23, 5, 0).unwrap(), 5).await;
        core.start_timer(None, "late", vec![]).await.unwrap();
    }
    clock.set(Utc.with_ymd_and_hms(2026, 3, 9, 23, 40, 0).unwrap());
    let local = amsterdam.timer_status().await.unwrap();
    assert_eq!(local.elapsed_s, 30 * 60);
    assert_eq!(
        local.today_s,
        (5 + 30) * 60,
        "only what began after local midnight"
    );
    let utc = utc.timer_status().await.unwrap();
    assert_eq!(utc.today_s, (30 + 5 + 30) * 60, "the whole UTC day");
}
