//! `cairn import` (being written).

use clap::Args;

use crate::error::CliError;

#[derive(Debug, Args)]
pub struct ImportArgs {}

pub fn run(_args: &ImportArgs) -> Result<(), CliError> {
    Err(CliError::Invalid("not written yet".into()))
}
