//! TODO
/// t
pub struct FakeKimai;
