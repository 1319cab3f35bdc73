//! Tacho's core exported through [uniffi](https://mozilla.github.io/uniffi-rs/):
//! Swift for the watch app and the iOS extensions, Kotlin for completeness,
//! and Python, which the tests in `tests/ffi-python` drive.
//!
//! A thin layer, application-services style: one [`Core`] object wrapping
//! `tacho_core::Core`, records and enums with checked conversions
//! ([`types`]), one error enum ([`TachoError`]), a foreign event listener with
//! a cancel-on-drop [`TaskHandle`], log forwarding ([`LogSink`]) and a choice
//! of tokio runtime ([`RuntimeKind`]). Behaviour lives in the core; if
//! something here starts making decisions, it belongs there instead.
//!
//! Proc-macro uniffi (no UDL): the bindings are generated from this library's
//! metadata by the pinned `uniffi-bindgen` in `watch/rust/uniffi-bindgen`
//! (see `scripts/gen-bindings`).

uniffi::setup_scaffolding!();

mod clock;
mod core;
mod error;
mod events;
mod logging;
mod runtime;
mod secrets;
pub mod types;

pub use crate::clock::ClockSource;
pub use crate::core::Core;
pub use crate::error::TachoError;
pub use crate::events::{CoreEvent, CoreListener, TaskHandle};
pub use crate::logging::{LogLevel, LogRecord, LogSink, clear_log_sink, set_log_sink};
pub use crate::runtime::RuntimeKind;
pub use crate::secrets::{SecretStore, SecretStoreFailure};

#[cfg(test)]
mod tests {
    /// Only uniffi's generated glue may use `unsafe` (the crate's `[lints]`
    /// allow it for that reason): no hand-written source may contain the keyword.
    #[test]
    fn hand_written_code_has_no_unsafe() {
        let sources = [
            ("lib.rs", include_str!("lib.rs")),
            ("clock.rs", include_str!("clock.rs")),
            ("core.rs", include_str!("core.rs")),
            ("error.rs", include_str!("error.rs")),
            ("events.rs", include_str!("events.rs")),
            ("logging.rs", include_str!("logging.rs")),
            ("runtime.rs", include_str!("runtime.rs")),
            ("secrets.rs", include_str!("secrets.rs")),
            ("types.rs", include_str!("types.rs")),
        ];
        let keyword = ["un", "safe"].concat();
        for (name, text) in sources {
            for (n, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or_default();
                let has = code
                    .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .any(|word| word == keyword);
                assert!(!has, "{name}:{}: hand-written `{keyword}`", n + 1);
            }
        }
        // Every source file is listed above.
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let on_disk = std::fs::read_dir(dir)
            .map(|d| d.filter_map(|e| e.ok()).count())
            .unwrap_or_default();
        assert_eq!(on_disk, sources.len(), "list every file in src/ here");
    }
}
