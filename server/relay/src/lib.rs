//! Tacho relay.
