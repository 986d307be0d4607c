//! The storage format's versions, and the upgrades that bring an older
//! database to the current one on open, one version at a time.

use ledger_core::{
    Account, AccountCode, AccountKind, AuditRecord, Decimal, NormalBalance, Posting, StorageError, Transaction,
    TransactionKind,
};

use crate::codec::{decode, encode};
use crate::error::{self, corrupt};
use crate::keys;
use crate::trees::{Trees, encode_head};

/// The storage format this crate writes; opening another one fails.
/// Version 2 added the identity trees and the `audit_by_actor` index (a
/// version 1 database has audit records that index does not list). Version
/// 3 added ledger account codes (`account_codes`), the `metadata_index`, and
/// history under every account a transaction touches. Version 4 added each
/// posting's running balance and commit time, the `posting_times` index,
/// and the last commit's time in the audit head. Version 5 added the change
/// feed (`changes`) and the sinks' cursors (`sink_cursors`); a version 4
/// database's feed starts empty at the upgrade (its earlier commits were
/// never recorded as changes). Older versions from 2 on are upgraded on
/// open, one version at a time ([`upgrade_from_2`], [`upgrade_from_3`],
/// [`upgrade_from_4`]).
const FORMAT_VERSION: &[u8] = b"5";

/// The version [`upgrade_from_2`] upgrades from.
const FORMAT_VERSION_2: &[u8] = b"2";

/// The version [`upgrade_from_3`] upgrades from.
const FORMAT_VERSION_3: &[u8] = b"3";

/// The version [`upgrade_from_4`] upgrades from.
const FORMAT_VERSION_4: &[u8] = b"4";

/// Checks the database's format marker, upgrading an older format, or
/// writing the marker into a new database. `existed` says whether the
/// directory held a sled database before this open (then it must carry
/// our format marker).
pub(crate) fn check_or_upgrade(trees: &Trees, existed: bool) -> Result<(), StorageError> {
    let format = trees.meta.get(keys::META_FORMAT).map_err(|e| error::sled("cannot read the format version", e))?;
    match format {
        Some(version) if version.as_ref() == FORMAT_VERSION => {}
        Some(version) if version.as_ref() == FORMAT_VERSION_2 => {
            upgrade_from_2(trees)?;
            upgrade_from_3(trees)?;
            upgrade_from_4(trees)?;
        }
        Some(version) if version.as_ref() == FORMAT_VERSION_3 => {
            upgrade_from_3(trees)?;
            upgrade_from_4(trees)?;
        }
        Some(version) if version.as_ref() == FORMAT_VERSION_4 => upgrade_from_4(trees)?,
        Some(version) => {
            let found = String::from_utf8_lossy(&version).into_owned();
            let ours = String::from_utf8_lossy(FORMAT_VERSION);
            return Err(StorageError::new(
                error::BACKEND,
                format!("unsupported storage format version {found:?} (this build reads version {ours})"),
            ));
        }
        // sled recovers an unreadable log as an empty database; starting a
        // new ledger over it would bury the old one for good.
        None if existed => {
            return Err(StorageError::new(
                error::BACKEND,
                "the sled database has no ledger format marker: it is another program's, was never \
                 initialised, or its log is unreadable; refusing to start a new ledger over it",
            ));
        }
        None => {
            trees
                .meta
                .insert(keys::META_FORMAT, FORMAT_VERSION)
                .map_err(|e| error::sled("cannot write the format version", e))?;
            // Durable before any data, so a database with data always has it.
            trees.db.flush().map_err(|e| error::sled("cannot flush the format version", e))?;
        }
    }
    Ok(())
}

/// Upgrades a format 2 database to 3: the settlement accounts become
/// ledger accounts (a code, debit-normal, indexed by code), and every
/// account a posting touched gets its transaction in its history (format 2
/// indexed only a transaction's first two accounts). Idempotent, and the
/// marker moves to 3 only at the end, so an upgrade a crash cut short runs
/// again whole.
fn upgrade_from_2(trees: &Trees) -> Result<(), StorageError> {
    let failed = |e| error::sled("upgrading the database to format 3", e);
    for entry in trees.accounts.iter() {
        let (key, bytes) = entry.map_err(failed)?;
        let mut account: Account = decode("an account", &bytes)?;
        if account.kind == AccountKind::Settlement && account.code.is_none() {
            let code = AccountCode::settlement(account.currency);
            account.code = Some(code.clone());
            account.normal_balance = NormalBalance::Debit;
            trees.account_codes.insert(code.as_str().as_bytes(), &key).map_err(failed)?;
            trees.accounts.insert(&key, encode("an account", &account)?).map_err(failed)?;
        }
    }
    for entry in trees.account_postings.iter() {
        let (_, bytes) = entry.map_err(failed)?;
        let posting: Posting = decode("a posting", &bytes)?;
        let Some(seq) = trees.transaction_ids.get(keys::transaction(posting.transaction_id)).map_err(failed)? else {
            return Err(corrupt("a posting names a missing transaction"));
        };
        let history = keys::account_sequence(posting.account_id, keys::sequence_suffix(&seq)?);
        trees.account_history.insert(&history[..], &[]).map_err(failed)?;
    }
    trees.meta.insert(keys::META_FORMAT, FORMAT_VERSION_3).map_err(failed)?;
    trees.db.flush().map_err(failed)?;
    Ok(())
}

/// Upgrades a format 3 database to 4: every posting gets its running
/// balance (the sum of its account's postings up to it, in commit order)
/// and its commit time (its transaction's), and is indexed by time; the
/// audit head learns the last record's time. Idempotent (it recomputes
/// from the postings alone), and the marker moves to 4 last.
fn upgrade_from_3(trees: &Trees) -> Result<(), StorageError> {
    let failed = |e| error::sled("upgrading the database to format 4", e);
    let mut account: Option<(Vec<u8>, Decimal)> = None;
    for entry in trees.account_postings.iter() {
        let (key, bytes) = entry.map_err(failed)?;
        let mut posting: Posting = decode("a posting", &bytes)?;
        let prefix = key.get(..16).ok_or_else(|| corrupt("a posting key is too short"))?.to_vec();
        let running = match &account {
            Some((current, sum)) if *current == prefix => *sum + posting.amount,
            _ => posting.amount,
        };
        account = Some((prefix, running));
        let Some(seq) = trees.transaction_ids.get(keys::transaction(posting.transaction_id)).map_err(failed)? else {
            return Err(corrupt("a posting names a missing transaction"));
        };
        let Some(transaction) = trees.transactions.get(&seq).map_err(failed)? else {
            return Err(corrupt("a transaction id names a missing transaction"));
        };
        let transaction: Transaction = decode("a transaction", &transaction)?;
        // A captured hold's lines committed at its capture, its last change.
        posting.at =
            if transaction.kind == TransactionKind::Hold { transaction.updated_at } else { transaction.created_at };
        posting.balance_after = running;
        trees.account_postings.insert(&key, encode("a posting", &posting)?).map_err(failed)?;
        let time_key = keys::account_time_sequence(posting.account_id, posting.at, posting.sequence);
        trees.posting_times.insert(&time_key[..], &[]).map_err(failed)?;
    }
    if let Some(last) = trees.audit.last().map_err(failed)? {
        let record: AuditRecord = decode("an audit record", &last.1)?;
        trees.meta.insert(keys::META_AUDIT_HEAD, encode_head(record.head())).map_err(failed)?;
    }
    trees.meta.insert(keys::META_FORMAT, FORMAT_VERSION_4).map_err(failed)?;
    trees.db.flush().map_err(failed)?;
    Ok(())
}

/// Upgrades a format 4 database to 5: the `changes` and `sink_cursors`
/// trees exist once opened, and start empty, so only the marker moves.
fn upgrade_from_4(trees: &Trees) -> Result<(), StorageError> {
    let failed = |e| error::sled("upgrading the database to format 5", e);
    trees.meta.insert(keys::META_FORMAT, FORMAT_VERSION).map_err(failed)?;
    trees.db.flush().map_err(failed)?;
    Ok(())
}
