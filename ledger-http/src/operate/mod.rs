//! The operator commands of the binary (`admin`, `verify`, `export`,
//! `import`): each opens the store a `serve` would, does one thing through
//! the ledger (or, for dumps, on the store itself), and says what it did in
//! words on standard output.

mod admin;
mod dump;
mod secret_input;
mod verify;

use std::process::ExitCode;

use ledger_core::identity::HashParams;
use ledger_core::{Ledger, LedgerConfig, LedgerError, StorageError};

use crate::cli::{AdminCommand, KycCommand, StoreArgs};
use crate::storage::{self, OpenedStore, StorageOptions};

/// Why an operator command could not do its work.
#[derive(Debug, thiserror::Error)]
pub enum OperateError {
    /// The store did not open or answer.
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
    /// The ledger refused.
    #[error("{0}")]
    Ledger(#[from] LedgerError),
    /// Input the command needs was missing or unreadable.
    #[error("{0}")]
    Input(String),
    /// A dump could not be written, read or imported.
    #[error("{0}")]
    Dump(#[from] crate::dump_file::DumpFileError),
}

/// Runs `ledger-http admin ...`.
pub async fn admin(command: AdminCommand) -> Result<ExitCode, OperateError> {
    match command {
        AdminCommand::Create { email, name, store } => {
            let password = secret_input::new_password()?;
            with_ledger(&store, |ledger| admin::create(ledger, email, name, password)).await
        }
        AdminCommand::Kyc(KycCommand::Approve { email, store }) => {
            with_ledger(&store, |ledger| admin::decide_kyc(ledger, email, None)).await
        }
        AdminCommand::Kyc(KycCommand::Reject { email, reason, store }) => {
            with_ledger(&store, |ledger| admin::decide_kyc(ledger, email, Some(reason))).await
        }
    }
}

/// Runs `ledger-http verify`: exit 0 when sound, 1 when anything is off.
pub async fn verify(store: StoreArgs) -> Result<ExitCode, OperateError> {
    let url = store.url();
    with_ledger(&store, |ledger| verify::run(ledger, url)).await
}

/// Runs `ledger-http export --to FILE`.
pub async fn export(store: StoreArgs, to: std::path::PathBuf) -> Result<ExitCode, OperateError> {
    let url = store.url();
    let opened = storage::open(&url, StorageOptions::default()).await?;
    dump::export(&opened.store, &url, &to).await
}

/// Runs `ledger-http import --from FILE`: exit 0 when imported and sound,
/// 1 when the imported store does not verify.
pub async fn import(store: StoreArgs, from: std::path::PathBuf) -> Result<ExitCode, OperateError> {
    let url = store.url();
    let opened = storage::open(&url, StorageOptions::default()).await?;
    dump::import(&opened.store, &url, &from).await?;
    on_ledger(opened, |ledger| verify::run(ledger, url)).await
}

/// Opens the store and a ledger on it, runs `work`, and flushes the store.
async fn with_ledger<F, Fut>(store: &StoreArgs, work: F) -> Result<ExitCode, OperateError>
where
    F: FnOnce(Ledger) -> Fut,
    Fut: std::future::Future<Output = Result<ExitCode, OperateError>>,
{
    let opened: OpenedStore = storage::open(&store.url(), StorageOptions::default()).await?;
    on_ledger(opened, work).await
}

/// Opens a ledger on an opened store, runs `work`, and flushes the store.
async fn on_ledger<F, Fut>(opened: OpenedStore, work: F) -> Result<ExitCode, OperateError>
where
    F: FnOnce(Ledger) -> Fut,
    Fut: std::future::Future<Output = Result<ExitCode, OperateError>>,
{
    let config = LedgerConfig::default().password_hash(HashParams::RECOMMENDED);
    let ledger = Ledger::builder(opened.store.clone()).config(config).open().await?;
    let outcome = work(ledger).await;
    opened.flush().await?;
    outcome
}
