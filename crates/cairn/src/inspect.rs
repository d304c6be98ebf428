//! `cairn inspect` (being written).

use clap::Args;

use crate::error::CliError;

#[derive(Debug, Args)]
pub struct InspectArgs {}

pub fn run(_args: &InspectArgs) -> Result<(), CliError> {
    Err(CliError::Invalid("not written yet".into()))
}
