//! Importer behaviour on small hand-written samples (testdata/import) and on
//! the enviroCar fixtures (testdata/gps).

// Test helpers outside #[test] functions: failing loudly is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use tacho_model::gps::Ping;
use tacho_model::import::{
    self, HDOP_TO_ACCURACY_M, ImportError, Location, Track, TrackFormat, csv, geojson, gpx, nmea,
};

fn testdata(rel: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

#[track_caller]
fn close(got: f64, want: f64) {
    assert!((got - want).abs() < 1e-9, "got {got}, want {want}");
}

#[track_caller]
fn close_opt(got: Option<f64>, want: f64) {
    close(
        got.unwrap_or_else(|| panic!("missing value, want {want}")),
        want,
    );
}

fn first(track: &Track) -> Ping {
    track.segments[0][0]
}

fn last(track: &Track) -> Ping {
    *track.segments.last().unwrap().last().unwrap()
}

// ---------------------------------------------------------------- detect / FromStr

#[test]
fn detect_by_extension_first() {
    use TrackFormat::*;
    assert_eq!(TrackFormat::detect(Some("gpx"), ""), Some(Gpx));
    assert_eq!(TrackFormat::detect(Some(".GPX"), "$GPRMC"), Some(Gpx));
    for ext in ["nmea", "nma", "txt", "LOG"] {
        assert_eq!(TrackFormat::detect(Some(ext), "<gpx>"), Some(Nmea), "{ext}");
    }
    assert_eq!(TrackFormat::detect(Some("geojson"), ""), Some(GeoJson));
    assert_eq!(TrackFormat::detect(Some("json"), "lat,lon"), Some(GeoJson));
    assert_eq!(TrackFormat::detect(Some("Csv"), "{"), Some(Csv));
}

#[test]
fn detect_by_content_when_extension_unknown() {
    use TrackFormat::*;
    assert_eq!(
        TrackFormat::detect(None, "\u{feff}  \n<?xml version=\"1.0\"?>"),
        Some(Gpx)
    );
    assert_eq!(TrackFormat::detect(Some("dat"), "\r\n$GPGGA,"), Some(Nmea));
    assert_eq!(TrackFormat::detect(None, " {\"type\":"), Some(GeoJson));
    assert_eq!(TrackFormat::detect(Some("bin"), "[{}]"), Some(GeoJson));
    assert_eq!(TrackFormat::detect(None, "lat;lon;time"), Some(Csv));
    assert_eq!(TrackFormat::detect(None, ""), None);
    assert_eq!(TrackFormat::detect(Some("xyz"), " \n\t"), None);
}

#[test]
fn format_names_round_trip() {
    for f in TrackFormat::ALL {
        assert_eq!(f.as_str().parse::<TrackFormat>(), Ok(f));
        let json = serde_json::to_string(&f).unwrap();
        assert_eq!(json, format!("\"{}\"", f.as_str()));
    }
    assert_eq!("GeoJSON".parse::<TrackFormat>(), Ok(TrackFormat::GeoJson));
    let err = "kml".parse::<TrackFormat>().unwrap_err().to_string();
    assert!(
        err.contains("\"kml\"") && err.contains("gpx, nmea, geojson, csv"),
        "{err}"
    );
}

#[test]
fn top_level_parse_dispatches() {
    let track = import::parse(TrackFormat::Csv, "lat,lon,time\n1,2,0\n").unwrap();
    assert_eq!(track.point_count(), 1);
    let err = import::parse(TrackFormat::Gpx, "lat,lon,time\n1,2,0\n").unwrap_err();
    assert_eq!(err.format, TrackFormat::Gpx);
}

// ---------------------------------------------------------------- GPX

#[test]
fn gpx_11_ten_points_two_segments() {
    let track = gpx::parse(&testdata("import/gpx11_ten_points.gpx")).unwrap();
    assert_eq!(track.name.as_deref(), Some("Morning drive & back"));
    assert_eq!(track.point_count(), 10);
    let lens: Vec<usize> = track.segments.iter().map(Vec::len).collect();
    assert_eq!(
        lens,
        [6, 4],
        "the empty trkseg gives no segment; wpt/rte are ignored"
    );

    let p0 = first(&track);
    assert_eq!(p0.at, t("2024-05-01T08:00:00Z"));
    close(p0.lat, 53.0750);
    close(p0.lon, 8.8070);
    close_opt(p0.altitude_m, 10.0);
    assert_eq!(
        (p0.speed_mps, p0.heading_deg, p0.accuracy_m),
        (None, None, None)
    );

    let p1 = track.segments[0][1];
    close_opt(p1.accuracy_m, 1.2 * HDOP_TO_ACCURACY_M);

    let p2 = track.segments[0][2];
    close_opt(p2.speed_mps, 13.5);
    close_opt(p2.heading_deg, 45.0);

    let p9 = last(&track);
    assert_eq!(p9.at, t("2024-05-01T08:00:45Z"));
    close(p9.lat, 53.0795);
    close(p9.lon, 8.8133);
    close_opt(p9.altitude_m, 14.5);
}

#[test]
fn gpx_10_speed_and_course() {
    let track = gpx::parse(&testdata("import/gpx10_speed_course.gpx")).unwrap();
    assert_eq!(track.name.as_deref(), Some("GPX 1.0 drive"));
    assert_eq!(track.segments.len(), 1);
    assert_eq!(track.point_count(), 3);
    let [a, b, c] = track.segments[0][..] else {
        panic!()
    };
    assert_eq!(a.at, t("2024-05-02T07:15:00Z"));
    close(a.lat, 48.1373);
    close(a.lon, 11.53447);
    close_opt(a.speed_mps, 12.25);
    close_opt(a.heading_deg, 182.5);
    close_opt(a.altitude_m, 520.0);
    close_opt(a.accuracy_m, 0.8 * HDOP_TO_ACCURACY_M);
    assert_eq!(b.at, t("2024-05-02T07:15:01.5Z"));
    close_opt(b.heading_deg, 181.0);
    assert_eq!(b.altitude_m, None);
    assert_eq!(c.at, t("2024-05-02T07:15:03Z"), "offset converted to UTC");
    close_opt(c.speed_mps, 0.0);
    close(c.lat, 48.1369);
}

#[test]
fn gpx_trkpt_without_lat_names_element_and_line() {
    let err = gpx::parse(&testdata("import/gpx_trkpt_without_lat.gpx")).unwrap_err();
    assert_eq!(
        err.location,
        Location::Element {
            path: "gpx/trk/trkseg/trkpt".into(),
            line: 7
        }
    );
    assert_eq!(
        err.to_string(),
        "GPX line 7, element <trkpt>: missing attribute lat"
    );
}

#[test]
fn gpx_trkpt_without_time_names_element_and_line() {
    let err = gpx::parse(&testdata("import/gpx_trkpt_without_time.gpx")).unwrap_err();
    assert_eq!(
        err.location,
        Location::Element {
            path: "gpx/trk/trkseg/trkpt".into(),
            line: 6
        }
    );
    assert!(err.message.contains("time"), "{err}");
}

fn gpx_doc(body: &str) -> String {
    format!(
        "<?xml version=\"1.0\"?>\n<gpx version=\"1.1\" xmlns=\"http://www.topografix.com/GPX/1/1\">\n{body}\n</gpx>\n"
    )
}

#[track_caller]
fn gpx_err(body: &str) -> ImportError {
    gpx::parse(&gpx_doc(body)).expect_err("should be rejected")
}

#[test]
fn gpx_rejects_bad_values_with_their_element() {
    let e = gpx_err(
        "<trk><trkseg>\n<trkpt lat=\"north\" lon=\"8\"><time>2024-01-01T00:00:00Z</time></trkpt></trkseg></trk>",
    );
    assert_eq!(
        e.location,
        Location::Element {
            path: "gpx/trk/trkseg/trkpt".into(),
            line: 4
        }
    );
    assert!(
        e.message.contains("lat") && e.message.contains("north"),
        "{e}"
    );

    let e = gpx_err(
        "<trk><trkseg><trkpt lat=\"1\" lon=\"8\">\n<time>noon</time></trkpt></trkseg></trk>",
    );
    assert_eq!(
        e.location,
        Location::Element {
            path: "gpx/trk/trkseg/trkpt/time".into(),
            line: 4
        }
    );
    assert_eq!(
        e.to_string(),
        "GPX line 4, element <time>: bad time \"noon\": expected ISO 8601 / RFC 3339"
    );

    let e = gpx_err(
        "<trk><trkseg><trkpt lat=\"1\" lon=\"8\"><time>2024-01-01T00:00:00Z</time>\n\n<ele>high</ele></trkpt></trkseg></trk>",
    );
    assert_eq!(
        e.location,
        Location::Element {
            path: "gpx/trk/trkseg/trkpt/ele".into(),
            line: 5
        }
    );

    // A start tag spread over lines is reported at its first line.
    let e = gpx_err(
        "<trk><trkseg>\n<trkpt\n  lat=\"1.0\"\n  lon=\"\">\n<time>2024-01-01T00:00:00Z</time></trkpt></trkseg></trk>",
    );
    assert_eq!(
        e.location,
        Location::Element {
            path: "gpx/trk/trkseg/trkpt".into(),
            line: 4
        }
    );
    assert_eq!(e.message, "attribute lon is not a number: \"\"");

    let e = gpx_err(
        "<trk><trkseg><trkpt lat=\"91\" lon=\"8\"><time>2024-01-01T00:00:00Z</time></trkpt></trkseg></trk>",
    );
    assert!(e.message.contains("latitude 91"), "{e}");
}

#[test]
fn gpx_rejects_malformed_xml_with_line() {
    let e = gpx_err(
        "<trk><trkseg>\n<trkpt lat=\"1\" lon=\"2\"><time>2024-01-01T00:00:00Z</time></trkseg></trk>",
    );
    assert_eq!(e.location, Location::Line(4), "{e}");
    assert!(e.message.starts_with("malformed XML"), "{e}");

    let e = gpx::parse("<gpx><trk><trkseg>\n<trkpt lat=\"1\" lon=\"2\">").unwrap_err();
    assert!(e.message.contains("ends before </trkpt>"), "{e}");
    assert_eq!(
        e.location,
        Location::Element {
            path: "gpx/trk/trkseg/trkpt".into(),
            line: 2
        }
    );

    let e = gpx::parse("<kml><Placemark/></kml>").unwrap_err();
    assert!(e.message.contains("not a GPX file"), "{e}");
    assert!(
        gpx::parse("")
            .unwrap_err()
            .message
            .contains("not a GPX file")
    );
}

#[test]
fn gpx_without_track_points_is_an_error() {
    let e = gpx_err(
        "<wpt lat=\"1\" lon=\"2\"><time>2024-01-01T00:00:00Z</time></wpt>\n<rte><rtept lat=\"1\" lon=\"2\"/></rte><trk><trkseg/></trk>",
    );
    assert!(e.message.starts_with("no track points"), "{e}");
    assert_eq!(
        e.location,
        Location::Element {
            path: "gpx".into(),
            line: 2
        }
    );
}

#[test]
fn gpx_prefixed_namespace_and_bom() {
    let doc = "\u{feff}<g:gpx xmlns:g=\"http://www.topografix.com/GPX/1/0\"><g:trk><g:trkseg><g:trkpt lat=\"1.5\" lon=\"-2.5\"><g:time>2024-01-01T00:00:00Z</g:time></g:trkpt></g:trkseg></g:trk></g:gpx>";
    let track = gpx::parse(doc).unwrap();
    assert_eq!(track.point_count(), 1);
    close(first(&track).lon, -2.5);
}

// ---------------------------------------------------------------- NMEA

#[test]
fn nmea_rmc_gga_pairs_across_midnight() {
    let track = nmea::parse(&testdata("import/nmea_midnight.nmea")).unwrap();
    assert_eq!(track.segments.len(), 1);
    let pings = &track.segments[0];
    assert_eq!(pings.len(), 4, "{pings:#?}");
    let kn = 1852.0 / 3600.0;

    let a = pings[0];
    assert_eq!(a.at, t("2023-12-31T23:59:58Z"));
    close(a.lat, 53.075);
    close(a.lon, 8.807);
    close_opt(a.speed_mps, 10.0 * kn);
    close_opt(a.heading_deg, 90.0);
    close_opt(a.altitude_m, 12.5);
    close_opt(a.accuracy_m, 4.5); // HDOP 0.9 at 5 m per unit

    // 23:59:59 is void (RMC V, GGA quality 0); GNRMC and GPRMC of 00:00:00 are one fix.
    let b = pings[1];
    assert_eq!(b.at, t("2024-01-01T00:00:00Z"));
    close(b.lat, 53.0 + 4.501 / 60.0);
    close_opt(b.speed_mps, 11.0 * kn);
    close_opt(b.altitude_m, 13.0);

    // GGA without RMC: dated from the RMC before it.
    let c = pings[2];
    assert_eq!(c.at, t("2024-01-01T00:00:01Z"));
    close_opt(c.altitude_m, 13.5);
    close_opt(c.accuracy_m, 1.0 * HDOP_TO_ACCURACY_M);
    assert_eq!(c.speed_mps, None);

    let d = pings[3];
    assert_eq!(d.at, t("2024-01-01T00:00:02.5Z"));
    close(d.lat, -(53.0 + 4.503 / 60.0));
    close(d.lon, -(8.0 + 48.46 / 60.0));
    close_opt(d.speed_mps, 0.0);
    assert_eq!((d.heading_deg, d.altitude_m), (None, None));
}

#[test]
fn nmea_gga_only_epochs_get_rolled_dates() {
    // No checksums here: they are optional.
    let log = "$GPGGA,235958,5304.5,N,00848.4,E,1,8,1.0,10,M,,M,,\n\
               $GPRMC,235959,A,5304.5,N,00848.4,E,0,0,311223,,\n\
               $GPGGA,000001,5304.5,N,00848.4,E,1,8,1.0,10,M,,M,,\n";
    let track = nmea::parse(log).unwrap();
    let times: Vec<_> = track.pings().map(|p| p.at).collect();
    assert_eq!(
        times,
        [
            t("2023-12-31T23:59:58Z"),
            t("2023-12-31T23:59:59Z"),
            t("2024-01-01T00:00:01Z")
        ]
    );

    let log = "$GPGGA,235959,5304.5,N,00848.4,E,1,8,1.0,10,M,,M,,\n\
               $GPRMC,000001,A,5304.5,N,00848.4,E,0,0,010124,,\n";
    let times: Vec<_> = nmea::parse(log).unwrap().pings().map(|p| p.at).collect();
    assert_eq!(
        times,
        [t("2023-12-31T23:59:59Z"), t("2024-01-01T00:00:01Z")]
    );
}

#[test]
fn nmea_bad_checksum_names_the_line() {
    let e = nmea::parse(&testdata("import/nmea_bad_checksum.nmea")).unwrap_err();
    assert_eq!(e.location, Location::Line(3));
    assert!(e.message.contains("checksum"), "{e}");
    assert!(e.to_string().starts_with("NMEA line 3: "), "{e}");
}

#[test]
fn nmea_rejections() {
    let e = nmea::parse("$GPGGA,120000,5304.5,N,00848.4,E,1,8,1.0,10,M,,M,,\n").unwrap_err();
    assert_eq!(e.message, "no date: NMEA import needs RMC sentences");
    assert_eq!(e.location, Location::Line(1));

    let e = nmea::parse("$GPRMC,120000,A,5304.5,N,00848.4,E,0,0,010124,,\nhello\n").unwrap_err();
    assert_eq!(e.location, Location::Line(2));

    let e = nmea::parse("\n$GPRMC,120000,A,53x4.5,N,00848.4,E,0,0,010124,,\n").unwrap_err();
    assert_eq!(e.location, Location::Line(2));
    assert!(e.message.contains("latitude"), "{e}");

    let e = nmea::parse("$GPRMC,120000,A,5304.5,N,00848.4,E,fast,0,010124,,\n").unwrap_err();
    assert!(
        e.message.contains("speed") && e.message.contains("fast"),
        "{e}"
    );

    let e = nmea::parse("$GPRMC,120000,A,5304.5,N,00848.4,Q,0,0,010124,,\n").unwrap_err();
    assert!(e.message.contains("hemisphere"), "{e}");

    let e = nmea::parse("$GPRMC,120000,A,5304.5,N,00848.4,E,0,0,310224,,\n").unwrap_err();
    assert!(e.message.contains("date"), "{e}");

    let e = nmea::parse("$GPGSV,1,1,0*49\n$GPRMC,,V,,,,,,,,,,N\n").unwrap_err();
    assert!(e.message.starts_with("no fixes"), "{e}");
}

// ---------------------------------------------------------------- GeoJSON

#[test]
fn envirocar_fixtures_point_counts() {
    for (file, count, first_at, last_at) in [
        (
            "trackData2.json",
            334,
            "2020-03-05T13:22:06Z",
            "2020-03-05T13:50:07Z",
        ),
        (
            "trackData8.json",
            74,
            "2020-03-04T12:09:49Z",
            "2020-03-04T12:15:58Z",
        ),
        (
            "trackData9.json",
            177,
            "2020-03-04T11:50:47Z",
            "2020-03-04T12:05:36Z",
        ),
    ] {
        let track = geojson::parse(&testdata(&format!("gps/{file}"))).unwrap();
        assert_eq!(track.point_count(), count, "{file}");
        assert_eq!(track.segments.len(), 1, "{file}");
        assert_eq!(first(&track).at, t(first_at), "{file}");
        assert_eq!(last(&track).at, t(last_at), "{file}");
    }
}

#[test]
fn envirocar_first_fix_fields() {
    let track = geojson::parse(&testdata("gps/trackData2.json")).unwrap();
    assert_eq!(track.name.as_deref(), Some("5e61052477e02d42aa97fe9e"));
    let p = first(&track);
    assert_eq!(p.at, t("2020-03-05T13:22:06Z"));
    assert_eq!(p.lon, 9.188576279522042);
    assert_eq!(p.lat, 53.09904477227998);
    close_opt(p.speed_mps, 92.98336654128798 / 3.6);
    close_opt(p.accuracy_m, 1.0);
    close_opt(p.heading_deg, 213.1722909095297);
    close_opt(p.altitude_m, 65.0);
}

#[test]
fn geojson_linestring_with_coord_times_and_skipped_geometries() {
    let track = geojson::parse(&testdata("import/geojson_linestring.geojson")).unwrap();
    assert_eq!(track.name.as_deref(), Some("Converted drive"));
    assert_eq!(track.point_count(), 4);
    let p = &track.segments[0];
    assert_eq!(p[0].at, t("2024-05-01T08:00:00Z"));
    close(p[0].lon, 8.8070);
    close(p[0].lat, 53.0750);
    close_opt(p[0].altitude_m, 10.0);
    assert_eq!(p[2].at, t("2024-05-01T08:00:10Z"));
    assert_eq!(p[2].altitude_m, None);
    // The Point has only OBD speed and HDOP.
    assert_eq!(p[3].at, t("2024-05-01T08:00:15Z"));
    close_opt(p[3].speed_mps, 10.0);
    close_opt(p[3].accuracy_m, HDOP_TO_ACCURACY_M);
}

#[test]
fn geojson_point_without_time_names_the_feature() {
    let e = geojson::parse(&testdata("import/geojson_point_without_time.geojson")).unwrap_err();
    assert_eq!(e.location, Location::Feature { index: 2 });
    assert!(e.message.contains("time"), "{e}");
    assert!(e.to_string().starts_with("GeoJSON features[2]: "), "{e}");
}

#[test]
fn geojson_rejections() {
    let pt = |coords: &str| {
        format!(
            "{{\"type\":\"FeatureCollection\",\"features\":[{{\"type\":\"Feature\",\"properties\":{{\"time\":\"2024-01-01T00:00:00Z\"}},\"geometry\":{{\"type\":\"Point\",\"coordinates\":{coords}}}}}]}}"
        )
    };
    assert!(geojson::parse(&pt("[8.0, 53.0]")).is_ok());
    let e = geojson::parse(&pt("[\"8.0\", 53.0]")).unwrap_err();
    assert_eq!(e.location, Location::Feature { index: 0 });
    assert!(e.message.contains("longitude"), "{e}");
    let e = geojson::parse(&pt("[8.0]")).unwrap_err();
    assert_eq!(e.location, Location::Feature { index: 0 });

    let e = geojson::parse("{\"type\":\"FeatureCollection\",\n\"features\": [,]}").unwrap_err();
    assert!(
        matches!(e.location, Location::LineColumn { line: 2, .. }),
        "{e}"
    );

    let e = geojson::parse("{\"type\":\"FeatureCollection\",\"features\":[]}").unwrap_err();
    assert!(e.message.starts_with("no track points"), "{e}");

    let ls = "[{\"type\":\"Feature\",\"properties\":{\"coordTimes\":[\"2024-01-01T00:00:00Z\"]},\"geometry\":{\"type\":\"LineString\",\"coordinates\":[[8,53],[8.1,53]]}}]";
    let e = geojson::parse(ls).unwrap_err();
    assert!(e.message.contains("2 coordinates but 1 coordTimes"), "{e}");
}

// ---------------------------------------------------------------- CSV

#[test]
fn csv_semicolons_unix_times_and_decimal_commas() {
    let track = csv::parse(&testdata("import/csv_semicolon_unix.csv")).unwrap();
    assert_eq!(track.point_count(), 5);
    let p = &track.segments[0];
    assert_eq!(p[0].at, t("2024-05-01T08:00:00Z"));
    close(p[0].lat, 53.075);
    close(p[0].lon, 8.807);
    close_opt(p[0].speed_mps, 0.0);
    assert_eq!(p[0].heading_deg, None);
    close_opt(p[0].altitude_m, 10.5);
    close_opt(p[0].accuracy_m, 4.0);
    assert_eq!(p[2].at, t("2024-05-01T08:00:10Z"), "milliseconds");
    close_opt(p[2].heading_deg, 45.5);
    close_opt(p[3].speed_mps, 12.5);
    assert_eq!(p[4].at, t("2024-05-01T08:00:20Z"));
    close(p[4].lat, 53.077);
    close(p[4].lon, 8.8098);
    assert_eq!((p[4].altitude_m, p[4].accuracy_m), (None, None));
}

#[test]
fn csv_bad_cell_names_line_and_column() {
    let e = csv::parse(&testdata("import/csv_bad_latitude.csv")).unwrap_err();
    assert_eq!(e.location, Location::LineColumn { line: 4, column: 1 });
    assert_eq!(
        e.to_string(),
        "CSV line 4, column 1: column \"lat\": not a number: \"north\""
    );
}

#[test]
fn csv_line_numbers_count_multiline_fields() {
    let input = "lat,lon,time,note\n1,2,0,\"two\nlines\"\n1,2,zero,x\n";
    let e = csv::parse(input).unwrap_err();
    assert_eq!(e.location, Location::LineColumn { line: 4, column: 3 });
    assert!(e.message.contains("\"time\""), "{e}");
}

#[test]
fn csv_time_forms_and_header_aliases() {
    let input = "LATITUDE,Lng,Date,Time,Heading,Altitude\n\
                 53.0,8.0,2024-05-01,08:00:00,10,5\n\
                 53.1,8.1,2024-05-01,2024-05-01T08:00:05+00:00,,\n";
    let track = csv::parse(input).unwrap();
    let times: Vec<_> = track.pings().map(|p| p.at).collect();
    assert_eq!(
        times,
        [t("2024-05-01T08:00:00Z"), t("2024-05-01T08:00:05Z")]
    );
    close_opt(first(&track).heading_deg, 10.0);

    let track = csv::parse("\n\nlat;lon;time\n53;8;2024-05-01 10:00:00+02:00\n").unwrap();
    assert_eq!(first(&track).at, t("2024-05-01T08:00:00Z"));

    let track = csv::parse("lon,lat,time\r\n8,53,2024-05-01T08:00:00.250Z\r\n").unwrap();
    assert_eq!(first(&track).at, t("2024-05-01T08:00:00.25Z"));
    close(first(&track).lat, 53.0);
}

#[test]
fn csv_rejections() {
    let e = csv::parse("53.0,8.0,1714550400\n").unwrap_err();
    assert_eq!(e.location, Location::Line(1));
    assert!(e.message.starts_with("header row required"), "{e}");

    let e = csv::parse("lat,latitude,lon,time\n").unwrap_err();
    assert!(e.message.contains("ambiguous"), "{e}");

    let e = csv::parse("lat,lon,time\n1,2,0\n1,2\n").unwrap_err();
    assert_eq!(e.location, Location::Line(3));

    let e = csv::parse("lat,lon,time\n1,2,\"0\n").unwrap_err();
    assert!(e.message.contains("unterminated"), "{e}");

    let e = csv::parse("lat,lon,time\n1,2,yesterday\n").unwrap_err();
    assert_eq!(e.location, Location::LineColumn { line: 2, column: 3 });

    let e = csv::parse("lat,lon,time\n1,200,0\n").unwrap_err();
    assert_eq!(e.location, Location::LineColumn { line: 2, column: 2 });

    let e = csv::parse("lat,lon,time\n").unwrap_err();
    assert!(e.message.starts_with("no track points"), "{e}");
}

// ---------------------------------------------------------------- JSON that is not GeoJSON

/// `testdata/gps/x0001-001.json` (barefoot's map-matcher samples) is a test fixture, not a
/// track export: the message says what it is and which formats are imported, instead of
/// reading it as GeoJSON without points.
#[test]
fn the_barefoot_fixture_is_named_not_misread_as_geojson() {
    let input = testdata("gps/x0001-001.json");
    let format = TrackFormat::detect(Some("json"), &input).unwrap();
    let err = import::parse(format, &input).unwrap_err().to_string();
    assert!(err.contains("not GeoJSON"), "{err}");
    assert!(err.contains("barefoot"), "{err}");
    assert!(!err.contains("no track points"), "{err}");
    for named in ["GPX", "NMEA", "GeoJSON", "CSV"] {
        assert!(err.contains(named), "{named} missing: {err}");
    }
    let other = import::parse(TrackFormat::GeoJson, r#"[{"lat":1,"lon":2}]"#)
        .unwrap_err()
        .to_string();
    assert!(other.contains("no GeoJSON features"), "{other}");
    assert!(other.contains("\"lat, lon\""), "{other}");
    // A bare array of real features still imports.
    let ok = import::parse(
        TrackFormat::GeoJson,
        r#"[{"type":"Feature","properties":{"time":"2024-01-01T00:00:00Z"},"geometry":{"type":"Point","coordinates":[2,1]}}]"#,
    )
    .unwrap();
    assert_eq!(ok.point_count(), 1);
}

// ---------------------------------------------------------------- cut short and not UTF-8

/// Two whole fixes with checksums, as a logger writes them.
const TWO_FIXES: &str = "$GPRMC,120000.00,A,5304.5000,N,00848.4200,E,10.0,90.0,010124,,,A*56\n\
                         $GPRMC,120001.00,A,5304.5010,N,00848.4300,E,10.0,90.0,010124,,,A*57\n";

#[test]
fn nmea_a_last_line_cut_short_is_skipped_with_a_warning_naming_it() {
    let whole = nmea::parse(TWO_FIXES).unwrap();
    assert_eq!(whole.point_count(), 2);
    assert!(whole.warnings.is_empty());
    for (tail, why) in [
        ("$GPG", "first characters"),
        (
            "$GPRMC,120002.00,A,5304.5020,N,00848.4400,E,10.0,90.0,010124,,,A",
            "before its *hh",
        ),
        (
            "$GPRMC,120002.00,A,5304.5020,N,00848.4400,E,10.0,90.0,010124,,,A*5",
            "inside its *hh",
        ),
    ] {
        for end in ["", "\n"] {
            let log = format!("{TWO_FIXES}{tail}{end}");
            let track = nmea::parse(&log).unwrap_or_else(|e| panic!("{tail}: {e}"));
            assert_eq!(track.point_count(), 2, "{tail}");
            assert_eq!(track.warnings.len(), 1, "{tail}");
            let w = &track.warnings[0];
            assert_eq!(w.location, Location::Line(3), "{tail}");
            assert!(w.message.contains(why), "{tail}: {w}");
            assert!(
                w.to_string()
                    .starts_with("NMEA line 3: skipped the last line"),
                "{w}"
            );
        }
    }
}

#[test]
fn nmea_the_same_damage_above_the_last_line_is_an_error() {
    // Not the last line: a corrupt file, not a logger losing power.
    let log =
        format!("$GPRMC,120002.00,A,5304.5020,N,00848.4400,E,10.0,90.0,010124,,,A*5\n{TWO_FIXES}");
    let e = nmea::parse(&log).unwrap_err();
    assert_eq!(e.location, Location::Line(1));
    assert!(e.message.contains("checksum"), "{e}");
    let log = format!("$GPRMC,120002.00,A,5304.5020,N,00848.4\n{TWO_FIXES}");
    let e = nmea::parse(&log).unwrap_err();
    assert_eq!(e.location, Location::Line(1));
    assert!(e.message.contains("cut short or damaged"), "{e}");
    // A last line with a whole but wrong checksum is corruption too.
    let log =
        format!("{TWO_FIXES}$GPRMC,120002.00,A,5304.5020,N,00848.4400,E,10.0,90.0,010124,,,A*00\n");
    let e = nmea::parse(&log).unwrap_err();
    assert_eq!(e.location, Location::Line(3));
}

#[test]
fn every_track_format_refuses_non_utf8_with_line_and_offset() {
    let mut bytes = b"first line\nsecond ".to_vec();
    bytes.push(0xFF);
    bytes.extend_from_slice(b" rest\n");
    for format in TrackFormat::ALL {
        let e = import::parse_bytes(format, &bytes).unwrap_err();
        assert_eq!(e.format, format);
        assert_eq!(
            e.location,
            Location::Byte {
                line: 2,
                offset: 18
            },
            "{format}"
        );
        assert!(e.to_string().contains("line 2, byte offset 18"), "{e}");
        assert!(
            e.message.contains("0xFF") && e.message.contains("UTF-8"),
            "{e}"
        );
    }
    // And the good files still read through the same door.
    assert_eq!(
        import::parse_bytes(TrackFormat::Nmea, TWO_FIXES.as_bytes())
            .unwrap()
            .point_count(),
        2
    );
}
