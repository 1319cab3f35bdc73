//! TODO
/// t
pub struct FakeZammad;
