//! Tacho's core exported through uniffi (skeleton; filled in by the apps issue).
uniffi::setup_scaffolding!();
