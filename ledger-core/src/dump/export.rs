//! [`Export`]: a store's records in dump order, read a page at a time, so
//! a dump of any size is written without holding the store in memory.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::dump::record::{DumpRecord, Section};
use crate::error::StorageError;
use crate::id::AccountId;
use crate::store::Store;

/// How many records an export reads per store call, unless told otherwise.
pub const EXPORT_PAGE_RECORDS: usize = 1000;

/// Reads every record of a store, section by section in dump order, each
/// section in its canonical order, decimals in their shortest form
/// ([`DumpRecord::canonical`]): the same ledger gives the same records from
/// any backend. Meant for a store no one writes to meanwhile (a
/// stopped service): records committed during an export may be missing
/// from sections already read.
pub struct Export {
    store: Arc<dyn Store>,
    page: usize,
    /// The section being read; `None` once every section is read.
    section: Option<usize>,
    /// The last record read of the section.
    last: Option<DumpRecord>,
    /// The account whose postings are being read (postings section).
    account: Option<AccountId>,
    /// The accounts after it, read a page ahead.
    accounts_ahead: VecDeque<AccountId>,
}

impl Export {
    /// An export of `store`, [`EXPORT_PAGE_RECORDS`] records per read.
    pub fn new(store: Arc<dyn Store>) -> Export {
        Export::with_page(store, EXPORT_PAGE_RECORDS)
    }

    /// An export of `store`, `page` records (at least 1) per read.
    pub fn with_page(store: Arc<dyn Store>, page: usize) -> Export {
        Export {
            store,
            page: page.max(1),
            section: Some(0),
            last: None,
            account: None,
            accounts_ahead: VecDeque::new(),
        }
    }

    /// The next records in dump order, or `None` once every record was read.
    pub async fn next_page(&mut self) -> Result<Option<Vec<DumpRecord>>, StorageError> {
        while let Some(index) = self.section {
            let Some(section) = Section::ALL.get(index).copied() else {
                self.section = None;
                break;
            };
            let page: Vec<DumpRecord> = self.read(section).await?.into_iter().map(DumpRecord::canonical).collect();
            match page.last() {
                Some(last) => {
                    self.last = Some(last.clone());
                    return Ok(Some(page));
                }
                None if section == Section::Postings && self.next_account().await? => {}
                None => {
                    self.section = Some(index + 1);
                    self.last = None;
                }
            }
        }
        Ok(None)
    }

    /// Moves the postings section to the next account; whether there is one.
    async fn next_account(&mut self) -> Result<bool, StorageError> {
        if self.accounts_ahead.is_empty() {
            let after = self.account;
            self.accounts_ahead = self.store.accounts(after, self.page).await?.into_iter().map(|a| a.id).collect();
        }
        self.account = self.accounts_ahead.pop_front();
        self.last = None;
        Ok(self.account.is_some())
    }

    /// The next page of `section` after the last record read.
    async fn read(&mut self, section: Section) -> Result<Vec<DumpRecord>, StorageError> {
        let (store, page, last) = (&self.store, self.page, self.last.as_ref());
        Ok(match section {
            Section::Users => {
                let after = match last {
                    Some(DumpRecord::User(u)) => Some(u.id),
                    _ => None,
                };
                store.users(after, page).await?.into_iter().map(DumpRecord::User).collect()
            }
            Section::Sessions => {
                let after = match last {
                    Some(DumpRecord::Session(s)) => Some(s.id),
                    _ => None,
                };
                store.sessions(after, page).await?.into_iter().map(DumpRecord::Session).collect()
            }
            Section::ResetTokens => {
                let after = match last {
                    Some(DumpRecord::ResetToken(t)) => Some(t.token_digest),
                    _ => None,
                };
                store.reset_tokens(after, page).await?.into_iter().map(DumpRecord::ResetToken).collect()
            }
            Section::Accounts => {
                let after = match last {
                    Some(DumpRecord::Account(a)) => Some(a.id),
                    _ => None,
                };
                store.accounts(after, page).await?.into_iter().map(DumpRecord::Account).collect()
            }
            Section::Transactions => {
                let after = match last {
                    Some(DumpRecord::Transaction(t)) => Some(t.sequence),
                    _ => None,
                };
                store.transactions_after(after, page).await?.into_iter().map(DumpRecord::Transaction).collect()
            }
            Section::Postings => {
                let Some(account) = self.account else { return Ok(Vec::new()) };
                let after = match last {
                    Some(DumpRecord::Posting(p)) => Some(p.sequence),
                    _ => None,
                };
                store.postings(account, after, page).await?.into_iter().map(DumpRecord::Posting).collect()
            }
            Section::Idempotency => {
                let after = match last {
                    Some(DumpRecord::Idempotency(r)) => Some(&r.key),
                    _ => None,
                };
                store.idempotency_records(after, page).await?.into_iter().map(DumpRecord::Idempotency).collect()
            }
            Section::Audit => {
                let after = match last {
                    Some(DumpRecord::Audit(r)) => r.sequence,
                    _ => 0,
                };
                store.audit_records(after, page).await?.into_iter().map(DumpRecord::Audit).collect()
            }
            Section::Changes => {
                let after = match last {
                    Some(DumpRecord::Change(c)) => c.sequence,
                    _ => 0,
                };
                store.changes_after(after, page).await?.into_iter().map(|c| DumpRecord::Change(Box::new(c))).collect()
            }
            Section::SinkCursors => match last {
                // One read: a store has a handful of sinks.
                Some(_) => Vec::new(),
                None => store.sink_cursors().await?.into_iter().map(DumpRecord::SinkCursor).collect(),
            },
        })
    }
}
