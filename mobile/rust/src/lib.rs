//! Tacho's core exported to the Flutter app through flutter_rust_bridge.
//!
//! Everything the Dart side can call lives in [`api`]; `frb_generated` is the
//! glue `scripts/gen-flutter-bridge` writes from it (committed, never edited
//! by hand). The crate is deliberately thin: it converts between Dart-friendly
//! types (ids as strings, instants as unix milliseconds) and the core's types
//! and maps `CoreError` to [`api::error::ApiError`]; every rule lives in
//! `tacho-core`.

pub mod api;
mod mapping;
mod shared;

// The generated glue is the only place in this crate allowed to use `unsafe`
// (the FFI boundary needs it). It is written by flutter_rust_bridge, not us;
// the one workspace lint it trips (`unwrap()` in its decoders) is allowed
// here and nowhere else.
#[allow(unsafe_code, clippy::unwrap_used)]
mod frb_generated;
