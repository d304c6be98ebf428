//! `cairn serve`.

use cairn_server::{ServeArgs, Server, ServerConfig};

use crate::error::CliError;

pub fn run(args: &ServeArgs) -> Result<(), CliError> {
    let config = ServerConfig::resolve(args).map_err(|e| CliError::Invalid(e.to_string()))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("cairn-server")
        .build()
        .map_err(|e| CliError::Invalid(format!("cannot start the runtime: {e}")))?;
    runtime
        .block_on(async {
            let server = Server::start(config).await?;
            server.run_until_signal().await
        })
        .map_err(|e| CliError::Invalid(e.to_string()))
}
