//! What clients.rs and hostile.rs share: `cairn serve` as a child process on a temporary data
//! directory (its ports read from the `listening` lines it prints), child processes bounded
//! in time, and where the installed clients are.

#![allow(dead_code)] // each test binary uses part of it

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long the server gets to print its addresses, and to stop after SIGTERM.
const START_TIMEOUT: Duration = Duration::from_secs(60);
const STOP_TIMEOUT: Duration = Duration::from_secs(60);

/// `cairn serve` on `root/data`, its log in `root/server.log`; killed when dropped.
pub struct Serve {
    child: Option<Child>,
    root: PathBuf,
    extra: Vec<String>,
    pub pg: SocketAddr,
    pub http: SocketAddr,
    pub ilp: SocketAddr,
}

impl Serve {
    /// Starts the server with every listener on a loopback port the OS picks, plus `extra`
    /// flags.
    pub fn start(root: &Path, extra: &[&str]) -> Serve {
        let unset = SocketAddr::from(([127, 0, 0, 1], 0));
        let mut s = Serve {
            child: None,
            root: root.to_path_buf(),
            extra: extra.iter().map(|s| s.to_string()).collect(),
            pg: unset,
            http: unset,
            ilp: unset,
        };
        s.spawn();
        s
    }

    pub fn data_dir(&self) -> PathBuf {
        self.root.join("data")
    }

    fn log_path(&self) -> PathBuf {
        self.root.join("server.log")
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .unwrap();
        let data = self.data_dir();
        let mut child = Command::new(env!("CARGO_BIN_EXE_cairn"))
            .arg("serve")
            .arg("--data-dir")
            .arg(&data)
            .args(["--pg-listen", "127.0.0.1:0"])
            .args(["--http-listen", "127.0.0.1:0"])
            .args(["--ilp-listen", "127.0.0.1:0"])
            .args(&self.extra)
            .env_remove("CAIRN_CONFIG")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        self.child = Some(child);
        let (tx, rx) = mpsc::channel();
        // Reads the addresses, then keeps draining stdout so the server never blocks on it.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _sent = tx.send(line);
            }
        });
        let deadline = Instant::now() + START_TIMEOUT;
        let mut found = 0;
        while found < 3 {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = match rx.recv_timeout(left) {
                Ok(l) => l,
                Err(e) => panic!(
                    "cairn serve printed no `listening` lines ({e}); its log:\n{}",
                    self.log()
                ),
            };
            let mut words = line.split_whitespace();
            if words.next() != Some("listening") {
                continue;
            }
            let (what, addr) = (words.next(), words.next().map(|a| a.parse().unwrap()));
            match (what, addr) {
                (Some("postgres"), Some(a)) => self.pg = a,
                (Some("http"), Some(a)) => self.http = a,
                (Some("ilp"), Some(a)) => self.ilp = a,
                _ => continue,
            }
            found += 1;
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// The server is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.as_mut().map(Child::try_wait), Some(Ok(None)))
    }

    /// SIGTERM, then waits for a clean exit (a graceful shutdown flushes and syncs).
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        signal(&child, libc::SIGTERM);
        let status = wait_until(&mut child, STOP_TIMEOUT);
        match status {
            Some(s) if s.success() => {}
            Some(s) => panic!(
                "cairn serve exited with {s} after SIGTERM; log:\n{}",
                self.log()
            ),
            None => {
                let _killed = child.kill();
                let _reaped = child.wait();
                panic!(
                    "cairn serve did not stop after SIGTERM; log:\n{}",
                    self.log()
                );
            }
        }
    }

    /// Stops the server gracefully and starts it again on the same data directory (new ports).
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// The server's log so far (its stderr).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _killed = child.kill();
            let _reaped = child.wait();
        }
    }
}

fn signal(child: &Child, sig: libc::c_int) {
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    // SAFETY: kill(2) on our own child's pid; no memory is involved.
    let rc = unsafe { libc::kill(pid, sig) };
    assert_eq!(rc, 0, "kill({pid}, {sig})");
}

fn wait_until(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs `cmd` to completion, killing it (and failing) after `timeout`.
pub fn run_bounded(cmd: &mut Command, timeout: Duration) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _read = r.read_to_end(&mut buf);
            buf
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let status = match wait_until(&mut child, timeout) {
        Some(s) => s,
        None => {
            let _killed = child.kill();
            let _reaped = child.wait();
            let stderr = String::from_utf8_lossy(&err.join().unwrap()).into_owned();
            panic!("{cmd:?} did not finish within {timeout:?}; stderr:\n{stderr}");
        }
    };
    Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// Where `.ci/install-clients.sh` puts node-postgres: `target/clients` beside the test
/// binaries (or `$CAIRN_CLIENTS_DIR`).
pub fn clients_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("CAIRN_CLIENTS_DIR") {
        return PathBuf::from(d);
    }
    let bin = Path::new(env!("CARGO_BIN_EXE_cairn"));
    // target/<profile>/cairn -> target/clients
    bin.parent().and_then(Path::parent).unwrap().join("clients")
}

/// The client scripts and suites (tests/clients).
pub fn scripts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients")
}

/// Whether a client is installed (`probe` succeeds). A missing client fails the test, unless
/// `CAIRN_SKIP_MISSING_CLIENTS` is set, when it is skipped with a message.
pub fn client_available(what: &str, probe: &mut Command) -> bool {
    let ok = probe
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        return true;
    }
    if std::env::var_os("CAIRN_SKIP_MISSING_CLIENTS").is_some() {
        eprintln!("SKIPPED: {what} is not installed (CAIRN_SKIP_MISSING_CLIENTS is set)");
        return false;
    }
    panic!(
        "{what} is not installed: run `.ci/install-clients.sh` as root (Debian) to install every \
         client these tests use, or set CAIRN_SKIP_MISSING_CLIENTS=1 to skip missing ones"
    );
}

/// Samples the server's VmRSS every 20 ms and keeps the maximum.
pub struct RssWatch {
    stop: Arc<AtomicBool>,
    max: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl RssWatch {
    pub fn start(pid: u32) -> RssWatch {
        let stop = Arc::new(AtomicBool::new(false));
        let max = Arc::new(AtomicU64::new(0));
        let (s, m) = (stop.clone(), max.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                if let Some(rss) = rss_of(pid) {
                    m.fetch_max(rss, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        RssWatch {
            stop,
            max,
            thread: Some(thread),
        }
    }

    pub fn max(&self) -> u64 {
        self.max.load(Ordering::Relaxed)
    }

    /// Starts a new peak from the current RSS.
    pub fn reset(&self, pid: u32) {
        self.max.store(rss_of(pid).unwrap_or(0), Ordering::Relaxed);
    }
}

impl Drop for RssWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _joined = t.join();
        }
    }
}

pub fn rss_of(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(kb * 1024)
}

pub fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, Iterator::count)
}
