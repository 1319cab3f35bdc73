//! Async facade.
