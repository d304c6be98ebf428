//! `cairn shell` (being written).

use clap::Args;

use crate::error::CliError;

#[derive(Debug, Args)]
pub struct SqlArgs {}

pub fn run(_args: &SqlArgs) -> Result<(), CliError> {
    Err(CliError::Invalid("not written yet".into()))
}
