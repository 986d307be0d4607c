//! A throwaway PostgreSQL server for one run: `initdb` into a temporary
//! directory, started on a free port on 127.0.0.1 with `fsync=on` and
//! `synchronous_commit=on`, crashed and restarted by the nemesis
//! (`pg_ctl restart -m immediate`), stopped and deleted on drop, even when
//! the run fails. The machine's own server is never touched.

use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

use crate::error::BankError;

/// The OS user PostgreSQL runs as (it refuses to run as root).
const POSTGRES_OS_USER: &str = "postgres";
/// Where Debian installs the server binaries, one directory per version.
const POSTGRES_LIB_DIR: &str = "/usr/lib/postgresql";
/// How long `pg_ctl` waits for a start or a restart, in seconds.
const PG_CTL_WAIT_SECS: &str = "60";

/// A running throwaway server; dropping it stops the server and deletes its files.
#[derive(Debug)]
pub struct ThrowawayPostgres {
    bin: PathBuf,
    dir: TempDir,
    port: u16,
}

impl ThrowawayPostgres {
    /// Creates a cluster and starts it (blocking).
    pub fn start() -> Result<ThrowawayPostgres, BankError> {
        let bin = server_bin_dir()?;
        let dir =
            tempfile::Builder::new().prefix("ledger-bank-pg-").tempdir().map_err(|e| BankError::io("temp dir", e))?;
        hand_to_postgres_user(dir.path())?;
        let port = crate::service::free_port()?;
        let server = ThrowawayPostgres { bin, dir, port };
        server.run(
            "initdb",
            &[
                "-D",
                &server.data_dir(),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
                "--no-instructions",
            ],
        )?;
        let settings = format!(
            "-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={} -c fsync=on \
             -c synchronous_commit=on -c max_connections=100",
            server.dir.path().display()
        );
        let log = server.dir.path().join("postgres.log").display().to_string();
        server.run(
            "pg_ctl",
            &["-D", &server.data_dir(), "-l", &log, "-o", &settings, "-w", "-t", PG_CTL_WAIT_SECS, "start"],
        )?;
        Ok(server)
    }

    /// The URL the service connects to.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Crashes the server (immediate shutdown: no checkpoint, recovery on
    /// start) and starts it again with the same settings (blocking).
    pub fn crash_and_restart(&self) -> Result<(), BankError> {
        self.run("pg_ctl", &["-D", &self.data_dir(), "-m", "immediate", "-w", "-t", PG_CTL_WAIT_SECS, "restart"])
    }

    fn data_dir(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    /// Runs a server program, as the postgres OS user when we are root.
    fn run(&self, program: &str, args: &[&str]) -> Result<(), BankError> {
        let path = self.bin.join(program);
        let mut command = if nix::unistd::Uid::effective().is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", POSTGRES_OS_USER, "--"]).arg(&path);
            c
        } else {
            Command::new(&path)
        };
        // pg_ctl's children must not hold our pipes open, or output() would
        // wait for the server itself to exit.
        let log = self.dir.path().join(format!("{program}.out"));
        let out = std::fs::File::create(&log).map_err(|e| BankError::io("pg log file", e))?;
        hand_to_postgres_user(&log)?;
        let err = out.try_clone().map_err(|e| BankError::io("pg log file", e))?;
        let status = command
            .args(args)
            .current_dir(self.dir.path())
            .stdin(std::process::Stdio::null())
            .stdout(out)
            .stderr(err)
            .status()
            .map_err(|e| BankError::io(format!("running {program}"), e))?;
        if status.success() {
            return Ok(());
        }
        let output = std::fs::read_to_string(&log).unwrap_or_default();
        Err(BankError::Command { what: format!("{program} {}", args.join(" ")), detail: format!("{status}: {output}") })
    }
}

impl Drop for ThrowawayPostgres {
    fn drop(&mut self) {
        // Immediate: the data is about to be deleted anyway.
        if let Err(error) = self.run("pg_ctl", &["-D", &self.data_dir(), "-m", "immediate", "-w", "stop"]) {
            eprintln!("bank: stopping the throwaway PostgreSQL: {error}");
        }
    }
}

/// The newest installed server's `bin` directory.
fn server_bin_dir() -> Result<PathBuf, BankError> {
    let versions = std::fs::read_dir(POSTGRES_LIB_DIR).map_err(|e| BankError::io(POSTGRES_LIB_DIR, e))?;
    let mut bins: Vec<PathBuf> =
        versions.flatten().map(|v| v.path().join("bin")).filter(|bin| bin.join("initdb").exists()).collect();
    // Version directories are numbers ("15", "16"): compare numerically.
    bins.sort_by_key(|bin| {
        bin.parent().and_then(|v| v.file_name()).and_then(|v| v.to_str()).and_then(|v| v.parse::<u32>().ok())
    });
    bins.pop().ok_or_else(|| BankError::Options(format!("no PostgreSQL server under {POSTGRES_LIB_DIR}")))
}

/// Makes `path` owned by the postgres OS user (needed when we are root).
fn hand_to_postgres_user(path: &Path) -> Result<(), BankError> {
    if !nix::unistd::Uid::effective().is_root() {
        return Ok(());
    }
    let user = nix::unistd::User::from_name(POSTGRES_OS_USER)
        .map_err(|e| BankError::io("looking up the postgres user", e.into()))?
        .ok_or_else(|| BankError::Options(format!("no `{POSTGRES_OS_USER}` OS user to run PostgreSQL as")))?;
    std::os::unix::fs::chown(path, Some(user.uid.as_raw()), Some(user.gid.as_raw()))
        .map_err(|e| BankError::io(format!("chown {}", path.display()), e))
}
