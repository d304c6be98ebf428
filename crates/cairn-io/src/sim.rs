//! Placeholder: the simulated file system is being written.
#[derive(Debug, Default)]
pub struct SimFs;
