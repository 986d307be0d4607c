//! The binary's command line: `serve` (the default, whose flags may also
//! come first without the word) and the operator commands.

use clap::{Args, Parser, Subcommand};

use crate::config::Config;
use crate::storage::StorageUrl;

/// `ledger-http`: the ledger's HTTP service and its operator commands.
///
/// With no command it serves (`ledger-http --bind ...` is `ledger-http
/// serve --bind ...`).
#[derive(Debug, Parser)]
#[command(name = "ledger-http", version, about, args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
    /// The service's flags, when no command is given.
    #[command(flatten)]
    pub serve: Config,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP service (the default).
    Serve(Config),
    /// Create admins and decide KYC from the command line.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Check a store: the audit chain, that every balance equals its
    /// postings and each currency sums to zero, and the store's indexes.
    /// Exits 1 when anything is off, 2 when the check could not run.
    Verify(StoreArgs),
    /// Write a complete dump of a store to a new file: every account,
    /// transaction, posting, hold, idempotency record, user, session and
    /// the audit log with its hashes, as versioned JSON Lines ending in a
    /// SHA-256 trailer. Stop the service first: records committed during
    /// an export may be missing. Exits 2 when the export failed (no file is
    /// left under the name).
    Export {
        /// The file to write (must not exist).
        #[arg(long, value_name = "FILE")]
        to: std::path::PathBuf,
        /// The store.
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Load a dump into a new, empty store (any backend: the way from sled
    /// to SQLite or PostgreSQL), then verify it. The whole file is checked
    /// first; a truncated or altered file, or a store that is not empty, is
    /// refused and nothing is imported. Exits 1 when the imported store
    /// does not verify, 2 when the import was refused or failed.
    Import {
        /// The dump file to read.
        #[arg(long, value_name = "FILE")]
        from: std::path::PathBuf,
        /// The store (new and empty: do not `verify` or serve it first).
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Show the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
}

/// `ledger-http config ...`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the effective serving configuration (file, environment and
    /// flags together) as TOML, secrets masked.
    Print(Config),
}

/// `ledger-http admin ...`.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create an admin. The password is read from a prompt (twice) on a
    /// terminal, else from the first line of standard input; never from an
    /// argument, which other users of the machine could see.
    Create {
        /// The admin's email.
        #[arg(long)]
        email: String,
        /// The admin's full name.
        #[arg(long, default_value = "Administrator")]
        name: String,
        /// The store.
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Approve or reject a customer's submitted KYC.
    #[command(subcommand)]
    Kyc(KycCommand),
}

/// `ledger-http admin kyc ...`.
#[derive(Debug, Subcommand)]
pub enum KycCommand {
    /// Approve the customer's pending KYC.
    Approve {
        /// The customer's email.
        #[arg(long)]
        email: String,
        /// The store.
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Reject the customer's pending KYC, with a reason they will see.
    Reject {
        /// The customer's email.
        #[arg(long)]
        email: String,
        /// Why (shown to the customer).
        #[arg(long)]
        reason: String,
        /// The store.
        #[command(flatten)]
        store: StoreArgs,
    },
}

/// The store an operator command works on.
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// Storage: `sled:PATH`, `sqlite:PATH` or `postgres://...` [default:
    /// the embedded store in ./ledger-data, as `serve` uses]
    #[arg(long, env = "LEDGER_STORAGE")]
    pub storage: Option<StorageUrl>,
}

impl StoreArgs {
    /// The store to open: `--storage`, or the embedded one.
    pub fn url(&self) -> StorageUrl {
        match &self.storage {
            Some(url) => url.clone(),
            None => StorageUrl::embedded(std::path::Path::new(crate::storage::EMBEDDED_DIR)),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("ledger-http").chain(args.iter().copied()))
    }

    #[test]
    fn no_command_serves_with_the_flags_given() {
        let cli = parse(&["--bind", "127.0.0.1:0"]).unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.serve.bind.port(), 0);
        let Some(Command::Serve(config)) = parse(&["serve", "--bind", "127.0.0.1:9"]).unwrap().command else {
            panic!("serve")
        };
        assert_eq!(config.bind.port(), 9);
    }

    #[test]
    fn admin_commands_take_no_password_argument() {
        let cli = parse(&["admin", "create", "--email", "a@example.com", "--storage", "sqlite:x.db"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Admin(AdminCommand::Create { .. }))));
        assert!(parse(&["admin", "create", "--email", "a@example.com", "--password", "secret"]).is_err());
        assert!(parse(&["admin", "kyc", "reject", "--email", "a@example.com"]).is_err(), "a reason is required");
        assert!(parse(&["--bind", "127.0.0.1:0", "verify"]).is_err(), "serving flags do not mix with a command");
    }
}
