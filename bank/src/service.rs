//! The service under test: the real `ledger-http` binary as a child
//! process. It is started on a free port, found by the `listening on URL`
//! line it prints, killed with SIGKILL (and reaped, so a sled store's lock
//! is released before the restart) or stopped with SIGTERM.

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::error::BankError;

/// How long a start may take before it counts as failed, in seconds.
const STARTUP_SECS_MAX: u64 = 30;
/// How many times a restart is tried (the database may be down meanwhile).
const START_ATTEMPTS_MAX: u32 = 20;
/// Pause between failed start attempts, in milliseconds.
const START_RETRY_MILLIS: u64 = 500;
/// How long a SIGTERMed service gets to exit, in seconds.
const STOP_SECS_MAX: u64 = 20;
/// The prefix of the line the service prints once it accepts connections.
const LISTENING_PREFIX: &str = "listening on ";

/// The password of the bootstrap admin (and of every customer).
pub const PASSWORD: &str = "bank-test-Passw0rd!";

/// How to start the service: binary, storage URL, admin, log file.
#[derive(Debug, Clone)]
pub struct ServiceSpec {
    /// The `ledger-http` binary.
    pub binary: PathBuf,
    /// Its `--storage` URL.
    pub storage: String,
    /// Its `--storage-read` URL (a read replica), if any.
    pub storage_read: Option<String>,
    /// Email of the bootstrap admin.
    pub admin_email: String,
    /// Where the service's stderr goes (appended across restarts).
    pub log: PathBuf,
}

/// The current base URL of one instance; it changes on every restart, and
/// clients read it afresh for every attempt.
#[derive(Debug, Clone, Default)]
pub struct Endpoint(Arc<RwLock<String>>);

impl Endpoint {
    /// The base URL (`http://127.0.0.1:PORT`).
    pub fn url(&self) -> String {
        self.0.read().map(|u| u.clone()).unwrap_or_else(|p| p.into_inner().clone())
    }

    fn set(&self, url: String) {
        match self.0.write() {
            Ok(mut current) => *current = url,
            Err(poisoned) => *poisoned.into_inner() = url,
        }
    }
}

/// One running instance of the service.
#[derive(Debug)]
pub struct Instance {
    spec: ServiceSpec,
    child: Option<Child>,
    endpoint: Endpoint,
}

impl Instance {
    /// Starts an instance and waits until it listens.
    pub async fn start(spec: ServiceSpec) -> Result<Instance, BankError> {
        let mut instance = Instance { spec, child: None, endpoint: Endpoint::default() };
        instance.restart().await?;
        Ok(instance)
    }

    /// Where clients reach it.
    pub fn endpoint(&self) -> Endpoint {
        self.endpoint.clone()
    }

    /// Kills the process with SIGKILL and waits until it is reaped.
    pub async fn kill(&mut self) -> Result<(), BankError> {
        if let Some(mut child) = self.child.take() {
            child.start_kill().map_err(|e| BankError::io("SIGKILL ledger-http", e))?;
            child.wait().await.map_err(|e| BankError::io("reaping ledger-http", e))?;
        }
        Ok(())
    }

    /// Stops the process with SIGTERM (graceful shutdown, store flushed)
    /// and returns its exit status.
    pub async fn terminate(&mut self) -> Result<ExitStatus, BankError> {
        let Some(mut child) = self.child.take() else {
            return Err(BankError::Startup("terminate: the instance is not running".into()));
        };
        if let Some(pid) = child.id().and_then(|id| i32::try_from(id).ok()) {
            kill(Pid::from_raw(pid), Signal::SIGTERM).map_err(|e| BankError::io("SIGTERM ledger-http", e.into()))?;
        }
        match tokio::time::timeout(Duration::from_secs(STOP_SECS_MAX), child.wait()).await {
            Ok(status) => status.map_err(|e| BankError::io("waiting for ledger-http", e)),
            Err(_) => {
                let _ = child.start_kill();
                let _ = child.wait().await;
                Err(BankError::Startup(format!("ledger-http ignored SIGTERM for {STOP_SECS_MAX} s")))
            }
        }
    }

    /// Starts the process again (after a kill), retrying while it fails to
    /// come up, and publishes its new address.
    pub async fn restart(&mut self) -> Result<(), BankError> {
        self.kill().await?;
        let mut last = String::new();
        for _ in 0..START_ATTEMPTS_MAX {
            match spawn(&self.spec).await {
                Ok((child, url)) => {
                    self.child = Some(child);
                    self.endpoint.set(url);
                    return Ok(());
                }
                Err(error) => last = error.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(START_RETRY_MILLIS)).await;
        }
        Err(BankError::Startup(format!(
            "{START_ATTEMPTS_MAX} attempts; last: {last}; log: {}",
            self.spec.log.display()
        )))
    }
}

/// Spawns the binary and reads its address from stdout.
async fn spawn(spec: &ServiceSpec) -> Result<(Child, String), BankError> {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&spec.log)
        .map_err(|e| BankError::io(format!("opening {}", spec.log.display()), e))?;
    let mut child = Command::new(&spec.binary)
        .args(["--bind", "127.0.0.1:0", "--storage", &spec.storage, "--rate-limit-per-second", "0"])
        .args(["--request-timeout-secs", "20", "--shutdown-grace-secs", "5"])
        .args(spec.storage_read.iter().flat_map(|url| ["--storage-read", url.as_str()]))
        .env("LEDGER_BOOTSTRAP_ADMIN_EMAIL", &spec.admin_email)
        .env("LEDGER_BOOTSTRAP_ADMIN_PASSWORD", PASSWORD)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log))
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| BankError::io(format!("spawning {}", spec.binary.display()), e))?;
    let stdout = child.stdout.take().ok_or_else(|| BankError::Startup("no stdout pipe".into()))?;
    let mut lines = BufReader::new(stdout).lines();
    let first = tokio::time::timeout(Duration::from_secs(STARTUP_SECS_MAX), lines.next_line()).await;
    let url = match first {
        Ok(Ok(Some(line))) => line.strip_prefix(LISTENING_PREFIX).map(str::to_owned),
        _ => None,
    };
    let Some(url) = url else {
        let _ = child.start_kill();
        let _ = child.wait().await;
        return Err(BankError::Startup(format!("no `{LISTENING_PREFIX}URL` line within {STARTUP_SECS_MAX} s")));
    };
    // Keep draining stdout so the service never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok((child, url))
}

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> Result<u16, BankError> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| BankError::io("finding a free port", e))?;
    listener.local_addr().map(|a| a.port()).map_err(|e| BankError::io("finding a free port", e))
}

/// The `ledger-http` binary next to this one (both land in the same target dir).
pub fn default_binary() -> Result<PathBuf, BankError> {
    let me = std::env::current_exe().map_err(|e| BankError::io("locating ledger-bank", e))?;
    let dir = me.parent().map(Path::to_path_buf).unwrap_or_default();
    Ok(dir.join(format!("ledger-http{}", std::env::consts::EXE_SUFFIX)))
}
