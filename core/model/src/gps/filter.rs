//! GPS noise filter and filtered path length (owned by the detector work).
