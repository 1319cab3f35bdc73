//! Async facade.

pub mod report;
