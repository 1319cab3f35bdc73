//! No importer panics, whatever the input: arbitrary text, arbitrary bytes
//! decoded lossily, and valid samples truncated or with one character changed.
//! Every error must carry a message.

// Test helpers outside #[test] functions: failing loudly is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use proptest::prelude::*;
use tacho_model::import::{self, TrackFormat};

fn sample(rel: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/import")
        .join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Small valid inputs of every format, to mutate.
fn samples() -> Vec<(TrackFormat, String)> {
    vec![
        (TrackFormat::Gpx, sample("gpx11_ten_points.gpx")),
        (TrackFormat::Gpx, sample("gpx10_speed_course.gpx")),
        (TrackFormat::Nmea, sample("nmea_midnight.nmea")),
        (TrackFormat::GeoJson, sample("geojson_linestring.geojson")),
        (TrackFormat::Csv, sample("csv_semicolon_unix.csv")),
    ]
}

fn check_all_formats(input: &str) -> Result<(), TestCaseError> {
    for format in TrackFormat::ALL {
        check(format, input)?;
    }
    Ok(())
}

fn check(format: TrackFormat, input: &str) -> Result<(), TestCaseError> {
    if let Err(e) = import::parse(format, input) {
        prop_assert!(
            !e.message.is_empty(),
            "{format:?}: empty message for {input:?}"
        );
        prop_assert_eq!(e.format, format);
        prop_assert!(!e.to_string().is_empty());
    }
    Ok(())
}

/// Text that looks a bit like each format, so the fuzzing gets past the first byte.
fn format_like() -> impl Strategy<Value = String> {
    prop_oneof![
        "(<[a-z:]{0,8}( lat=\"[-0-9.]{0,6}\")?( lon=\"[-0-9.e]{0,6}\")?/?>|</[a-z]{0,6}>|[0-9TZ:.-]{0,22}|\n|&[a-z#0-9]{0,4};?){0,30}",
        "(\\$G[PN](RMC|GGA|GSV),[0-9.]{0,10},[AV0-9]?,[0-9.]{0,10},[NSQ]?,[0-9.]{0,11},[EW]?,[0-9.,]{0,20}(\\*[0-9A-F]{0,3})?\r?\n){0,6}",
        "[\\[\\]{}\",:0-9.a-zA-Z ]{0,120}",
        "(lat|lon|time|speed|[0-9.,;\"\n-]){0,60}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(input in any::<String>()) {
        check_all_formats(&input)?;
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        check_all_formats(&String::from_utf8_lossy(&bytes))?;
    }

    #[test]
    fn format_like_text_never_panics(input in format_like()) {
        check_all_formats(&input)?;
    }

    #[test]
    fn truncated_samples_never_panic(which in 0usize..5, cut in any::<prop::sample::Index>()) {
        let all = samples();
        let (format, text) = &all[which % all.len()];
        let at = cut.index(text.len() + 1);
        let prefix = String::from_utf8_lossy(&text.as_bytes()[..at]);
        check(*format, &prefix)?;
    }

    #[test]
    fn mutated_samples_never_panic(
        which in 0usize..5,
        pos in any::<prop::sample::Index>(),
        replacement in prop_oneof![any::<char>(), prop::sample::select(vec!['<', '>', '"', ',', ';', '$', '*', '\n', '-', '.', '9', '{', ']', '&'])],
    ) {
        let all = samples();
        let (format, text) = &all[which % all.len()];
        let chars: Vec<char> = text.chars().collect();
        let at = pos.index(chars.len());
        let mutated: String = chars
            .iter()
            .enumerate()
            .map(|(i, &c)| if i == at { replacement } else { c })
            .collect();
        check(*format, &mutated)?;
    }
}

#[test]
fn samples_are_valid_before_mutation() {
    for (format, text) in samples() {
        assert!(import::parse(format, &text).is_ok(), "{format:?}");
    }
}
