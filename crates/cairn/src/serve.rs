//! `cairn serve`.

use std::io::Write as _;

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
            let server = Server::start(config.clone()).await?;
            announce(&server, &config);
            server.run_until_signal().await
        })
        .map_err(|e| CliError::Invalid(e.to_string()))
}

/// Where to connect, on stdout (tests and scripts read the `listening` lines).
fn announce(server: &Server, config: &ServerConfig) {
    let mut out = std::io::stdout().lock();
    let mut lines = vec![format!(
        "cairn {} serving {}",
        env!("CARGO_PKG_VERSION"),
        config.data_dir.display()
    )];
    if let Some(a) = server.pg_addr {
        lines.push(format!(
            "listening postgres {a}    psql -h {} -p {} -U cairn default",
            a.ip(),
            a.port()
        ));
    }
    if let Some(a) = server.http_addr {
        lines.push(format!(
            "listening http {a}    curl -d '{{\"sql\":\"SELECT 1\"}}' http://{a}/query"
        ));
    }
    if let Some(a) = server.ilp_addr {
        lines.push(format!("listening ilp {a}    line protocol over TCP"));
    }
    if config.users.is_empty() {
        lines.push(
            "no users configured: loopback clients only, as user cairn without a password".into(),
        );
    }
    lines.push("stop with Ctrl-C or SIGTERM".into());
    for l in lines {
        let _w = writeln!(out, "{l}");
    }
    let _f = out.flush();
}
