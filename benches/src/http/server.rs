//! Spawning a server on 127.0.0.1 port 0 for a load run: `ledger-http`,
//! or the minimal axum baseline (`ledger-bench-http-baseline`). Both print
//! `listening on http://ADDR` once they accept connections.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use super::HttpArgs;
use crate::BenchError;

/// How long a spawned server may take to print its address.
const START_SECS_MAX: u64 = 30;

/// The baseline server's binary name (a `[[bin]]` of this package).
pub const BASELINE_BIN: &str = "ledger-bench-http-baseline";

/// A server child process, killed when dropped.
pub struct SpawnedServer {
    child: Child,
    /// Its base URL.
    pub url: String,
    /// Its process id.
    pub pid: u32,
}

/// A binary next to the running executable (all live in the same cargo
/// target profile directory).
fn beside_this_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    let dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    // Integration tests and benches run from target/<profile>/deps.
    let dir = if dir.ends_with("deps") { dir.parent().map(Path::to_path_buf).unwrap_or(dir) } else { dir };
    dir.join(name)
}

impl SpawnedServer {
    /// Starts ledger-http on `storage` with load-friendly settings (no
    /// per-IP rate limit) and waits for its address.
    pub async fn ledger(args: &HttpArgs, storage: &str) -> Result<SpawnedServer, BenchError> {
        let binary = args.server_bin.clone().unwrap_or_else(|| beside_this_binary("ledger-http"));
        let mut command = Command::new(&binary);
        command
            .args(["--bind", "127.0.0.1:0", "--storage", storage, "--rate-limit-per-second", "0"])
            .env("LEDGER_WEBHOOK_SECRET", &args.webhook_secret)
            .env("LEDGER_BOOTSTRAP_ADMIN_EMAIL", &args.admin_email)
            .env("LEDGER_BOOTSTRAP_ADMIN_PASSWORD", &args.admin_password)
            .env("RUST_LOG", "warn");
        SpawnedServer::start(command, &binary).await
    }

    /// Starts the minimal axum baseline answering `body` and waits for its
    /// address.
    pub async fn baseline(args: &HttpArgs, body: &str) -> Result<SpawnedServer, BenchError> {
        let binary = args.baseline_bin.clone().unwrap_or_else(|| beside_this_binary(BASELINE_BIN));
        let mut command = Command::new(&binary);
        command.args([OsString::from("--bind"), "127.0.0.1:0".into(), "--body".into(), body.into()]);
        SpawnedServer::start(command, &binary).await
    }

    async fn start(mut command: Command, binary: &Path) -> Result<SpawnedServer, BenchError> {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| BenchError::io(format!("starting {}", binary.display()), e))?;
        let pid = child.id().ok_or_else(|| BenchError::Http("the server exited at once".into()))?;
        let stdout = child.stdout.take().ok_or_else(|| BenchError::Http("no stdout from the server".into()))?;
        let mut lines = BufReader::new(stdout).lines();
        let wait = async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(url) = line.strip_prefix("listening on ") {
                    return Some(url.trim().to_owned());
                }
            }
            None
        };
        let url = tokio::time::timeout(Duration::from_secs(START_SECS_MAX), wait)
            .await
            .ok()
            .flatten()
            .ok_or_else(|| BenchError::Http(format!("{} did not print its address", binary.display())))?;
        // Keep draining stdout so the server never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(SpawnedServer { child, url, pid })
    }

    /// Stops the server.
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}
