//! TODO
/// t
pub struct FakeTempo;
