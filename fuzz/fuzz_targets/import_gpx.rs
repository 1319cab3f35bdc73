//! The gpx importer on arbitrary text: never panics, and what it returns is sane.
#![no_main]

mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    common::check_import(tacho_model::import::gpx::parse(text));
});
