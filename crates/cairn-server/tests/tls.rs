#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! TLS on the PostgreSQL port, checked with psql (libpq): `sslmode=require` connects (it
//! refuses a server that does not speak TLS), and plain connections still work.
//! psql is installed by `.ci/install-clients.sh`.

use cairn_server::{Server, ServerConfig};

fn psql(port: u16, sslmode: &str, sql: &str) -> std::process::Output {
    std::process::Command::new("psql")
        .arg(format!(
            "host=127.0.0.1 port={port} user=cairn dbname=default sslmode={sslmode}"
        ))
        .args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .output()
        .expect("psql is not installed: run .ci/install-clients.sh")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_psql() {
    let dir = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.key_pair.serialize_pem()).unwrap();
    let mut config = ServerConfig::for_tests(&dir.path().join("data"));
    config.tls = Some((cert_path, key_path));
    let server = Server::start(config).await.unwrap();
    let port = server.pg_addr.unwrap().port();
    let out = tokio::task::spawn_blocking(move || {
        (
            psql(port, "require", "SELECT 1"),
            psql(port, "disable", "SELECT 40 + 2"),
        )
    })
    .await
    .unwrap();
    let (tls, plain) = out;
    assert!(
        tls.status.success(),
        "sslmode=require failed: {}",
        String::from_utf8_lossy(&tls.stderr)
    );
    assert!(
        plain.status.success() && String::from_utf8_lossy(&plain.stdout).trim() == "42",
        "plain: {} {}",
        String::from_utf8_lossy(&plain.stdout),
        String::from_utf8_lossy(&plain.stderr)
    );
    server.shutdown().await.unwrap();
}
