//! Invariants shared by the importer targets.

use tacho_model::import::{ImportError, Track};

/// Checks what every successful import must satisfy, and that errors are printable.
pub fn check_import(result: Result<Track, ImportError>) {
    match result {
        Ok(track) => {
            let mut count = 0;
            for segment in &track.segments {
                for p in segment {
                    count += 1;
                    assert!(
                        p.lat.is_finite() && (-90.0..=90.0).contains(&p.lat),
                        "lat {p:?}"
                    );
                    assert!(
                        p.lon.is_finite() && (-180.0..=180.0).contains(&p.lon),
                        "lon {p:?}"
                    );
                    for (name, v) in [
                        ("accuracy_m", p.accuracy_m),
                        ("speed_mps", p.speed_mps),
                        ("heading_deg", p.heading_deg),
                        ("altitude_m", p.altitude_m),
                    ] {
                        if let Some(v) = v {
                            assert!(v.is_finite(), "{name} {v} not finite in {p:?}");
                        }
                    }
                    // Timestamps must be representable as the trip_points wire form (ms).
                    let _ = p.at.timestamp_millis();
                }
            }
            assert_eq!(track.point_count(), count);
            assert_eq!(track.pings().count(), count);
        }
        Err(e) => {
            assert!(!e.message.is_empty(), "empty error message");
            let shown = e.to_string();
            assert!(!shown.is_empty());
            // Error messages quote user data through `snippet`, so they stay short.
            assert!(shown.len() < 4096, "error message of {} bytes", shown.len());
        }
    }
}
