//! The memory store's transactions, in sequence order.

use super::chunked_vec::ChunkedVec;
use crate::transaction::Transaction;

/// Transactions in sequence order. Commits are serialized and sequences grow
/// with them, so appending keeps the order and a lookup is a binary search.
#[derive(Debug, Default)]
pub(super) struct Journal(pub(super) ChunkedVec<Transaction>);

impl Journal {
    pub(super) fn position(&self, sequence: u64) -> Result<usize, usize> {
        let i = self.0.partition_point(|t| t.sequence < sequence);
        match self.0.get(i) {
            Some(t) if t.sequence == sequence => Ok(i),
            _ => Err(i),
        }
    }

    pub(super) fn get(&self, sequence: u64) -> Option<&Transaction> {
        self.position(sequence).ok().and_then(|i| self.0.get(i))
    }

    /// Adds a transaction newer than every one so far (checked against the
    /// last one only: a search per append would cost more than the rest of
    /// the write).
    pub(super) fn append(&mut self, transaction: Transaction) {
        if self.0.last().is_none_or(|last| last.sequence < transaction.sequence) {
            self.0.push(transaction);
            return;
        }
        debug_assert!(false, "transaction sequences must grow");
        self.replace(transaction);
    }

    /// Stores a new state of a transaction already here.
    pub(super) fn replace(&mut self, transaction: Transaction) {
        match self.position(transaction.sequence) {
            Ok(i) => {
                if let Some(slot) = self.0.get_mut(i) {
                    *slot = transaction;
                }
            }
            Err(i) => self.0.insert(i, transaction),
        }
    }

    /// The transactions with sequences below `sequence`, oldest first (and
    /// newest first when reversed).
    pub(super) fn below(&self, sequence: u64) -> impl DoubleEndedIterator<Item = &Transaction> {
        self.0.range(0, self.0.partition_point(|t| t.sequence < sequence))
    }
}
