//! Tacho's core exported through flutter_rust_bridge (skeleton; filled in by the apps issue).
