//! Mileage log and odometer chain.
#![allow(clippy::unwrap_used, clippy::panic)] // test helpers may panic: a failed fixture is a failed test

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use tacho_model::car::{Car, OdometerReading, ReadingSource, TripEnd};
use tacho_model::gps::LatLon;
use tacho_model::id::{CarId, DeviceId, PlaceId, ReadingId, TripId};
use tacho_model::place::{Place, PlaceKind};
use tacho_model::report::{
    ChainOptions, ChainRow, LogRow, MileageInput, MileageLog, OdometerBasis, Period, ReportPurpose,
    TripRow, format_km, mileage_log, mileage_log_with, odometer_chain,
};
use tacho_model::trip::{Purpose, Trip, TripEdit, TripField, TripSource, TripState};

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

fn car() -> Car {
    Car {
        id: CarId::new(),
        name: "Lease".into(),
        make: Some("Volkswagen".into()),
        model: Some("ID.4".into()),
        plate: "AB-123-C".into(),
        available_from: None,
        available_to: None,
        connect_hint: None,
        retired: false,
    }
}

fn trip(
    car: &Car,
    start: DateTime<Utc>,
    minutes: i64,
    gps_m: f64,
    purpose: Option<Purpose>,
) -> Trip {
    Trip {
        id: TripId::new(),
        car_id: Some(car.id),
        state: TripState::Ended,
        source: TripSource::Carplay,
        car_hint: None,
        started_at: start,
        ended_at: Some(start + chrono::Duration::minutes(minutes)),
        time_zone: "Europe/Amsterdam".into(),
        start: Some(LatLon {
            lat: 52.370216,
            lon: 4.895168,
        }),
        end: Some(LatLon {
            lat: 52.090737,
            lon: 5.12142,
        }),
        start_address: None,
        end_address: None,
        start_place: None,
        end_place: None,
        distance_m: gps_m,
        point_count: 100,
        purpose,
        purpose_by: None,
        business_partner: None,
        note: None,
        recovered: false,
    }
}

fn reading(
    car: &Car,
    at: DateTime<Utc>,
    m: i64,
    trip: Option<(TripId, TripEnd)>,
) -> OdometerReading {
    OdometerReading {
        id: ReadingId::new(),
        car_id: car.id,
        at,
        odometer_m: m,
        source: ReadingSource::Manual,
        trip,
    }
}

/// Five trips of one car: one in December 2025, two in February 2026, one
/// in March and one that starts 31 March 23:30 UTC (1 April local).
struct Fleet {
    car: Car,
    trips: Vec<Trip>,
    readings: Vec<OdometerReading>,
    edits: Vec<TripEdit>,
    places: Vec<Place>,
    cars: Vec<Car>,
    locked: Vec<String>,
}

impl Fleet {
    fn new() -> Self {
        let car = car();
        let mut t0 = trip(
            &car,
            utc(2025, 12, 20, 10, 0),
            60,
            39_800.0,
            Some(Purpose::Private),
        );
        t0.note = Some("last year".into());
        let mut t1 = trip(
            &car,
            utc(2026, 2, 10, 8, 0),
            30,
            20_400.0,
            Some(Purpose::Private),
        );
        t1.note = Some("groceries".into());
        let t2 = trip(
            &car,
            utc(2026, 2, 20, 7, 0),
            40,
            15_000.0,
            Some(Purpose::Commute),
        );
        let mut t3 = trip(
            &car,
            utc(2026, 3, 5, 16, 0),
            30,
            30_000.0,
            Some(Purpose::Business),
        );
        t3.business_partner = Some("ACME BV".into());
        let t4 = trip(&car, utc(2026, 3, 31, 23, 30), 40, 10_000.0, None);
        let readings = vec![
            reading(
                &car,
                t0.started_at,
                9_950_000,
                Some((t0.id, TripEnd::Start)),
            ),
            reading(
                &car,
                t0.ended_at.unwrap(),
                9_990_000,
                Some((t0.id, TripEnd::End)),
            ),
            // Within the 1 km tolerance of T0's end: no gap row.
            reading(&car, utc(2026, 2, 1, 9, 0), 9_990_500, None),
            reading(
                &car,
                t2.ended_at.unwrap(),
                10_026_500,
                Some((t2.id, TripEnd::End)),
            ),
            // 12 km after T2's real end: unlogged driving.
            reading(
                &car,
                t3.started_at,
                10_038_500,
                Some((t3.id, TripEnd::Start)),
            ),
            reading(
                &car,
                t3.ended_at.unwrap(),
                10_069_000,
                Some((t3.id, TripEnd::End)),
            ),
        ];
        Self {
            car,
            trips: vec![t3, t0, t4, t2, t1], // deliberately unsorted
            readings,
            edits: vec![],
            places: vec![],
            cars: vec![],
            locked: vec![],
        }
    }

    fn trip(&self, start: DateTime<Utc>) -> &Trip {
        self.trips.iter().find(|t| t.started_at == start).unwrap()
    }

    fn log(&self, period: &str) -> MileageLog {
        mileage_log(&MileageInput {
            car: &self.car,
            period: period.parse().unwrap(),
            trips: &self.trips,
            readings: &self.readings,
            edits: &self.edits,
            places: &self.places,
            cars: &self.cars,
            locked_months: &self.locked,
        })
    }
}

fn trip_rows(log: &MileageLog) -> Vec<&TripRow> {
    log.rows
        .iter()
        .filter_map(|r| match r {
            LogRow::Trip(t) => Some(t),
            _ => None,
        })
        .collect()
}

#[test]
fn chain_marks_derived_values_and_emits_exactly_one_unexplained_gap() {
    let f = Fleet::new();
    let chain = odometer_chain(&f.trips, &f.readings, ChainOptions::default());
    let t1 = chain.trip(f.trip(utc(2026, 2, 10, 8, 0)).id).unwrap();
    let t2 = chain.trip(f.trip(utc(2026, 2, 20, 7, 0)).id).unwrap();
    let t3 = chain.trip(f.trip(utc(2026, 3, 5, 16, 0)).id).unwrap();
    let t4 = chain.trip(f.trip(utc(2026, 3, 31, 23, 30)).id).unwrap();

    // T1: no readings of its own; starts at the standalone reading.
    let s = t1.start.unwrap();
    assert_eq!(
        (s.m, s.derived, s.basis),
        (9_990_500, true, OdometerBasis::StandaloneReading)
    );
    let e = t1.end.unwrap();
    assert_eq!(
        (e.m, e.derived, e.basis),
        (9_990_500 + 20_400, true, OdometerBasis::StartPlusGps)
    );
    // T2: start carried from T1's derived end, end read.
    let s = t2.start.unwrap();
    assert_eq!(
        (s.m, s.derived, s.basis),
        (9_990_500 + 20_400, true, OdometerBasis::PreviousTrip)
    );
    assert_eq!(
        (t2.end.unwrap().m, t2.end.unwrap().derived),
        (10_026_500, false)
    );
    // T3: both ends read.
    assert!(!t3.start.unwrap().derived && !t3.end.unwrap().derived);
    assert_eq!(t3.distance_m(), Some(30_500));
    // T4: derived from T3's real end plus GPS.
    assert_eq!(t4.start.unwrap().m, 10_069_000);
    assert_eq!(t4.end.unwrap().m, 10_079_000);

    let gaps: Vec<&ChainRow> = chain.gaps().collect();
    assert_eq!(gaps.len(), 1, "{gaps:#?}");
    let ChainRow::Unexplained(gap) = gaps[0] else {
        panic!("expected unexplained, got {gaps:?}")
    };
    assert_eq!(gap.distance_m, 12_000);
    assert_eq!(
        (gap.from_odometer_m, gap.to_odometer_m),
        (10_026_500, 10_038_500)
    );
    assert_eq!(gap.from, f.trip(utc(2026, 2, 20, 7, 0)).ended_at.unwrap());
    assert_eq!(gap.to, utc(2026, 3, 5, 16, 0));
    assert_eq!(format_km(gap.distance_m), "12.0");
    // The gap sits between T2 and T3 in the row order.
    let pos = |id| {
        chain
            .rows
            .iter()
            .position(|r| matches!(r, ChainRow::Trip(t) if t.trip_id == id))
    };
    let gap_pos = chain
        .rows
        .iter()
        .position(|r| matches!(r, ChainRow::Unexplained(_)))
        .unwrap();
    assert_eq!(pos(f.trip(utc(2026, 3, 5, 16, 0)).id), Some(gap_pos + 1));
}

#[test]
fn march_log_has_the_gap_row_and_keeps_trip_km_unchanged() {
    let f = Fleet::new();
    let log = f.log("2026-03");
    let kinds: Vec<&str> = log.rows.iter().map(LogRow::kind).collect();
    assert_eq!(
        kinds,
        ["unexplained", "trip"],
        "T4 is 1 April local, so not in March"
    );
    let LogRow::Unexplained(gap) = &log.rows[0] else {
        panic!()
    };
    assert_eq!(gap.gap.distance_m, 12_000);
    assert_eq!(gap.date, NaiveDate::from_ymd_opt(2026, 3, 5).unwrap());
    let t3 = trip_rows(&log)[0];
    assert_eq!((t3.distance_m, t3.gps_m), (30_500, 30_000));
    assert_eq!(t3.business_partner.as_deref(), Some("ACME BV"));
    assert_eq!(log.totals.unexplained_m, 12_000);
    assert_eq!(log.totals.business_m, 30_500);
    assert_eq!(
        log.totals.total_m, 30_500,
        "the gap is not added to any trip or total of trips"
    );
    assert_eq!(
        (
            log.car.plate.as_str(),
            log.car.make.as_deref(),
            log.car.model.as_deref()
        ),
        ("AB-123-C", Some("Volkswagen"), Some("ID.4"))
    );
}

#[test]
fn totals_per_purpose_and_local_date_filtering() {
    let f = Fleet::new();
    let log = f.log("2026-02-01..2026-03-31");
    let t = log.totals;
    assert_eq!(
        t.trips, 3,
        "T4 (23:30 UTC on 31 March) belongs to 1 April in Amsterdam"
    );
    assert_eq!(t.private_m, 20_400);
    assert_eq!(t.commute_m, 15_600, "odometer difference, not GPS 15.0");
    assert_eq!(t.business_m, 30_500);
    assert_eq!(t.unclassified_m, 0);
    assert_eq!(t.total_m, 20_400 + 15_600 + 30_500);

    let april = f.log("2026-04");
    let rows = trip_rows(&april);
    assert_eq!(rows.len(), 1);
    let t4 = rows[0];
    assert_eq!(t4.date, NaiveDate::from_ymd_opt(2026, 4, 1).unwrap());
    assert_eq!(t4.start_local.to_string(), "2026-04-01 01:30:00");
    assert!(t4.time_zone_known);
    assert_eq!(t4.purpose, ReportPurpose::Unclassified);
    assert_eq!(april.totals.unclassified_m, 10_000);
    assert!(april.rows.iter().all(|r| r.kind() == "trip"));
}

#[test]
fn private_year_to_date_counts_this_year_only_and_commute_only_for_vat() {
    let f = Fleet::new();
    let log = f.log("2026-03");
    let p = log.private_limit;
    assert_eq!(p.span.from, NaiveDate::from_ymd_opt(2026, 1, 1).unwrap());
    assert_eq!(
        p.private_m, 20_400,
        "February's private trip counts, December 2025's does not"
    );
    assert_eq!(p.unexplained_m, 12_000);
    assert_eq!(p.limit_m, 500_000);
    assert!(!p.exceeded && !p.exceeded_worst_case);
    let v = &log.vat_private_use;
    assert_eq!(v.private_and_commute_m, 20_400 + 15_600);
    assert_eq!(v.total_m, 20_400 + 15_600 + 30_500 + 12_000);
    // 36.0 / 78.5 = 45.859…%
    assert_eq!(v.share_percent, "45.86");

    let jan = f.log("2026-01");
    assert_eq!(jan.private_limit.private_m, 0);
    assert!(jan.rows.is_empty());
}

#[test]
fn exceeding_the_500_km_limit_is_reported() {
    let car = car();
    let trips: Vec<Trip> = (0..6)
        .map(|i| {
            trip(
                &car,
                utc(2026, 5, 1 + i, 9, 0),
                60,
                90_000.0,
                Some(Purpose::Private),
            )
        })
        .collect();
    let log = mileage_log(&MileageInput {
        car: &car,
        period: Period::month(2026, 5).unwrap(),
        trips: &trips,
        readings: &[],
        edits: &[],
        places: &[],
        cars: &[],
        locked_months: &[],
    });
    assert_eq!(log.private_limit.private_m, 540_000);
    assert!(log.private_limit.exceeded);
    assert!(
        trip_rows(&log)
            .iter()
            .all(|t| t.odometer_start.is_none() && t.odometer_end.is_none())
    );
    assert_eq!(
        log.totals.private_m, 540_000,
        "GPS distance counts when no odometer is known"
    );
}

#[test]
fn backwards_odometer_is_its_own_row_and_not_netted() {
    let car = car();
    let a = trip(
        &car,
        utc(2026, 3, 2, 8, 0),
        30,
        10_000.0,
        Some(Purpose::Business),
    );
    let b = trip(
        &car,
        utc(2026, 3, 3, 8, 0),
        30,
        10_000.0,
        Some(Purpose::Business),
    );
    let readings = vec![
        reading(
            &car,
            a.ended_at.unwrap(),
            50_000_000,
            Some((a.id, TripEnd::End)),
        ),
        reading(&car, b.started_at, 49_995_000, Some((b.id, TripEnd::Start))),
    ];
    let log = mileage_log(&MileageInput {
        car: &car,
        period: Period::month(2026, 3).unwrap(),
        trips: &[b.clone(), a.clone()],
        readings: &readings,
        edits: &[],
        places: &[],
        cars: &[],
        locked_months: &[],
    });
    let kinds: Vec<&str> = log.rows.iter().map(LogRow::kind).collect();
    assert_eq!(kinds, ["trip", "backwards", "trip"]);
    let LogRow::Backwards(g) = &log.rows[1] else {
        panic!()
    };
    assert_eq!(g.gap.distance_m, -5_000);
    assert_eq!(log.totals.backwards_m, 5_000);
    assert_eq!(log.totals.unexplained_m, 0);
}

#[test]
fn tolerance_is_configurable_and_gps_slack_absorbs_accumulated_gps_error() {
    let car = car();
    let a = trip(&car, utc(2026, 3, 2, 8, 0), 30, 10_000.0, None);
    let b = trip(&car, utc(2026, 3, 3, 8, 0), 30, 10_000.0, None);
    let readings = vec![
        reading(
            &car,
            a.ended_at.unwrap(),
            1_000_000,
            Some((a.id, TripEnd::End)),
        ),
        reading(&car, b.started_at, 1_000_800, Some((b.id, TripEnd::Start))),
    ];
    let trips = [a.clone(), b.clone()];
    let strict = ChainOptions {
        gap_tolerance_m: 500,
        gps_slack_per_mille: 0,
    };
    assert_eq!(
        odometer_chain(&trips, &readings, ChainOptions::default())
            .gaps()
            .count(),
        0,
        "0.8 km is noise"
    );
    assert_eq!(odometer_chain(&trips, &readings, strict).gaps().count(), 1);

    // Ten 50 km GPS-only trips after a reading, then a reading 11 km beyond
    // the GPS sum: 1.1 km over 500 km is GPS error, not unlogged driving.
    let mut trips: Vec<Trip> = (0..10)
        .map(|i| {
            trip(
                &car,
                utc(2026, 4, 1 + i, 8, 0),
                60,
                50_000.0,
                Some(Purpose::Business),
            )
        })
        .collect();
    let last = trip(
        &car,
        utc(2026, 4, 20, 8, 0),
        60,
        1_000.0,
        Some(Purpose::Business),
    );
    let readings = vec![
        reading(&car, utc(2026, 3, 31, 8, 0), 2_000_000, None),
        reading(
            &car,
            last.started_at,
            2_000_000 + 500_000 + 11_000,
            Some((last.id, TripEnd::Start)),
        ),
    ];
    trips.push(last);
    let chain = odometer_chain(&trips, &readings, ChainOptions::default());
    assert_eq!(
        chain.gaps().count(),
        0,
        "1 km + 2% of 500 km = 11 km tolerance"
    );
    let no_slack = ChainOptions {
        gps_slack_per_mille: 0,
        ..ChainOptions::default()
    };
    assert_eq!(
        odometer_chain(&trips, &readings, no_slack).gaps().count(),
        1
    );
    let log = mileage_log_with(
        &MileageInput {
            car: &car,
            period: Period::month(2026, 4).unwrap(),
            trips: &trips,
            readings: &readings,
            edits: &[],
            places: &[],
            cars: &[],
            locked_months: &[],
        },
        no_slack,
    );
    assert_eq!(log.totals.unexplained_m, 11_000);
}

#[test]
fn standalone_reading_after_the_last_trip_reveals_unlogged_driving() {
    let car = car();
    let a = trip(
        &car,
        utc(2026, 3, 2, 8, 0),
        30,
        10_000.0,
        Some(Purpose::Private),
    );
    let readings = vec![
        reading(
            &car,
            a.ended_at.unwrap(),
            7_000_000,
            Some((a.id, TripEnd::End)),
        ),
        reading(&car, utc(2026, 3, 28, 12, 0), 7_025_000, None),
    ];
    let chain = odometer_chain(std::slice::from_ref(&a), &readings, ChainOptions::default());
    let gaps: Vec<&ChainRow> = chain.gaps().collect();
    assert!(matches!(gaps.as_slice(), [ChainRow::Unexplained(g)] if g.distance_m == 25_000));
}

#[test]
fn places_edits_and_german_fields_are_shown() {
    let mut f = Fleet::new();
    let home = Place {
        id: PlaceId::new(),
        name: "Home".into(),
        kind: PlaceKind::Home,
        center: LatLon {
            lat: 52.37,
            lon: 4.89,
        },
        radius_m: 150.0,
        address: Some("Damstraat 1, Amsterdam".into()),
    };
    let t3_start = utc(2026, 3, 5, 16, 0);
    let t3_id = f.trip(t3_start).id;
    for t in &mut f.trips {
        if t.id == t3_id {
            t.start_place = Some(home.id);
            t.end_address = Some("Stationsplein 1, Utrecht".into());
            t.end = Some(LatLon {
                lat: 52.0907374,
                lon: 5.1214201,
            });
            t.note = Some("detour via client site".into());
        }
    }
    f.places.push(home);
    let device = DeviceId::new();
    let edit = |field, old: Option<&str>, new: Option<&str>, at| TripEdit {
        trip_id: t3_id,
        field,
        old_value: old.map(Into::into),
        new_value: new.map(Into::into),
        at,
        device,
        arrived_after_lock: None,
    };
    f.edits = vec![
        edit(
            TripField::BusinessPartner,
            None,
            Some("ACME BV"),
            utc(2026, 3, 7, 9, 0),
        ),
        edit(
            TripField::Purpose,
            Some("private"),
            Some("business"),
            utc(2026, 3, 6, 9, 0),
        ),
    ];
    let log = f.log("2026-03");
    let t3 = trip_rows(&log)[0];
    assert_eq!(t3.start_place, "Home, Damstraat 1, Amsterdam");
    assert_eq!(t3.end_place, "Stationsplein 1, Utrecht");
    // The purpose is the purpose and the partner; a detour note is not the purpose.
    assert_eq!(t3.purpose_text, "business (ACME BV)");
    assert_eq!(t3.note.as_deref(), Some("detour via client site"));
    assert_eq!(t3.edits.len(), 2);
    assert_eq!(t3.edits[0].field, TripField::Purpose, "oldest edit first");
    assert_eq!(t3.edits[0].old_value.as_deref(), Some("private"));
    assert_eq!(t3.edits[1].new_value.as_deref(), Some("ACME BV"));

    let april = f.log("2026-04");
    let t4 = trip_rows(&april)[0];
    assert_eq!(t4.start_place, "52.37022,4.89517");
    assert_eq!(t4.purpose_text, "unclassified");
    assert!(t4.edits.is_empty());
}

#[test]
fn other_cars_and_unended_trips_are_left_out_and_unknown_zones_fall_back_to_utc() {
    let mut f = Fleet::new();
    let other = car();
    f.trips.push(trip(
        &other,
        utc(2026, 3, 10, 8, 0),
        30,
        5_000.0,
        Some(Purpose::Private),
    ));
    let mut active = trip(
        &f.car,
        utc(2026, 3, 11, 8, 0),
        30,
        5_000.0,
        Some(Purpose::Private),
    );
    active.state = TripState::Active;
    active.ended_at = None;
    f.trips.push(active);
    let mut odd = trip(
        &f.car,
        utc(2026, 3, 31, 23, 0),
        10,
        1_000.0,
        Some(Purpose::Private),
    );
    odd.time_zone = "Mars/Olympus".into();
    f.trips.push(odd);
    let log = f.log("2026-03");
    let rows = trip_rows(&log);
    assert_eq!(
        rows.len(),
        2,
        "T3 and the unknown-zone trip (31 March in UTC)"
    );
    assert!(!rows[1].time_zone_known);
    assert_eq!(rows[1].date, NaiveDate::from_ymd_opt(2026, 3, 31).unwrap());
    assert_eq!(log.totals.private_m, 1_000);
}

#[test]
fn the_log_serialises_with_row_kinds() {
    let f = Fleet::new();
    let json = serde_json::to_value(f.log("2026-03")).unwrap();
    assert_eq!(json["rows"][0]["kind"], "unexplained");
    assert_eq!(json["rows"][0]["distance_m"], 12_000);
    assert_eq!(json["rows"][1]["kind"], "trip");
    assert_eq!(json["rows"][1]["odometer_start"]["derived"], false);
    assert_eq!(json["totals"]["unexplained_m"], 12_000);
    let back: MileageLog = serde_json::from_value(json).unwrap();
    assert_eq!(back, f.log("2026-03"));
}

#[test]
fn km_formatting_rounds_half_away_from_zero() {
    assert_eq!(format_km(12_000), "12.0");
    assert_eq!(format_km(12_049), "12.0");
    assert_eq!(format_km(12_050), "12.1");
    assert_eq!(format_km(-5_000), "-5.0");
    assert_eq!(format_km(-40), "0.0");
    assert_eq!(format_km(0), "0.0");
}

#[test]
fn an_odometer_far_from_the_track_is_flagged_cars_are_named_and_locks_are_stated() {
    let mut f = Fleet::new();
    let march = f.log("2026-03");
    let t3 = trip_rows(&march)[0];
    // 30.5 km on the odometer against a 30.0 km track: within tolerance.
    assert_eq!((t3.distance_m, t3.gps_m), (30_500, 30_000));
    assert!(!t3.odometer_gps_mismatch);
    assert!(!march.locked);
    assert!(march.locked_months.is_empty());

    // The tester's trip: 52.4 km on the odometer, 37.6 km of track.
    let t3_id = t3.trip_id;
    let start = f.trip(utc(2026, 3, 5, 16, 0)).clone();
    f.trips
        .iter_mut()
        .find(|t| t.id == t3_id)
        .unwrap()
        .distance_m = 37_600.0;
    for r in &mut f.readings {
        if r.trip == Some((t3_id, TripEnd::End)) {
            r.odometer_m = 10_038_500 + 52_400;
        }
    }
    let other = Car {
        id: CarId::new(),
        name: "Pool car".into(),
        ..car()
    };
    f.cars = vec![f.car.clone(), other.clone()];
    f.edits = vec![TripEdit {
        trip_id: start.id,
        field: TripField::Car,
        old_value: Some(other.id.to_string()),
        new_value: Some(f.car.id.to_string()),
        at: utc(2026, 3, 6, 9, 0),
        device: DeviceId::new(),
        arrived_after_lock: Some("2026-03".into()),
    }];
    f.locked = vec!["2026-02".into(), "2026-03".into()];
    let march = f.log("2026-03");
    let t3 = trip_rows(&march)[0];
    assert_eq!((t3.distance_m, t3.gps_m), (52_400, 37_600));
    assert!(t3.odometer_gps_mismatch);
    assert_eq!(t3.edits[0].old_value.as_deref(), Some("Pool car"));
    assert_eq!(t3.edits[0].new_value.as_deref(), Some("Lease"));
    assert!(t3.edits[0].arrived_after_lock);
    assert!(march.locked);
    assert_eq!(march.locked_months, vec!["2026-03".to_owned()]);
    // A quarter of which one month is locked is not locked.
    let quarter = f.log("2026-01-01..2026-03-31");
    assert!(!quarter.locked);
    assert_eq!(
        quarter.locked_months,
        vec!["2026-02".to_owned(), "2026-03".to_owned()]
    );
}
