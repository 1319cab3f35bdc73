//! The API the Flutter app sees. flutter_rust_bridge generates a Dart class
//! or function for every public item in these modules, so only what Dart
//! should call is `pub`; conversions live in `crate::mapping`.
//!
//! Conventions, chosen so the Dart side needs no extra packages:
//! - ids are `String`s (UUIDs, or any unique prefix where the core accepts
//!   a key, as the CLI does);
//! - instants are `i64` unix milliseconds (UTC), checked on the way in;
//! - distances are metres (`f64`), odometer values kilometres where people
//!   type them;
//! - errors are one [`error::ApiError`] with a kind and a message;
//! - no enums carry data, so the generated Dart needs neither `freezed` nor
//!   `build_runner`.

pub mod connectors;
pub mod error;
pub mod events;
pub mod hooks;
pub mod reference;
pub mod reports;
pub mod session;
pub mod sync;
pub mod trips;
pub mod types;
pub mod work;
