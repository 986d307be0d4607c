//! What a booking leaves for the sealer (a row of `pending`): the booking
//! as ledger-core's [`Unsealed`] keeps it, and which of the rows it read
//! were written by bookings not yet sealed, by ticket. The sealer settles
//! the booking's copies of those rows by what their seals gave them
//! ([`EarlierSeals`]): the seal of every such booking comes first, since it
//! committed before this booking locked the row and so took a lower ticket.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use ledger_core::{AccountId, EarlierSeals, SEQUENCE_STRIDE, TransactionId, Unsealed};
use serde::{Deserialize, Serialize};

/// A booking waiting for its seal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct PendingBooking {
    /// The verdict, its rows numbered by position, at the booked time.
    pub(crate) unsealed: Unsealed,
    /// What it read unsealed.
    pub(crate) read: UnsealedReads,
}

/// The rows a booking read while they carried another booking's unsealed
/// writes, each with that booking's ticket.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct UnsealedReads {
    /// Accounts last written by an unsealed booking.
    pub(crate) written: Vec<(AccountId, u64)>,
    /// Accounts opened by an unsealed booking.
    pub(crate) opened: Vec<(AccountId, u64)>,
    /// Transactions created by an unsealed booking: its ticket and the
    /// transaction's position in it.
    pub(crate) created: Vec<(TransactionId, u64, u64)>,
}

impl UnsealedReads {
    /// The tickets of every booking named.
    pub(crate) fn tickets(&self) -> impl Iterator<Item = u64> + '_ {
        let written = self.written.iter().map(|(_, ticket)| *ticket);
        let opened = self.opened.iter().map(|(_, ticket)| *ticket);
        written.chain(opened).chain(self.created.iter().map(|(_, ticket, _)| *ticket))
    }
}

/// Where a sealed booking sits in the chain: its audit record's sequence
/// and commit time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TicketSeal {
    /// The audit record's sequence.
    pub(crate) sequence: u64,
    /// Its commit time.
    pub(crate) at: DateTime<Utc>,
}

/// [`EarlierSeals`] for one booking: its unsealed reads, looked up in the
/// seals of the bookings they name.
pub(crate) struct Earlier<'a> {
    /// The booking's reads.
    pub(crate) read: &'a UnsealedReads,
    /// The seals of (at least) every ticket the reads name.
    pub(crate) seals: &'a HashMap<u64, TicketSeal>,
}

impl Earlier<'_> {
    fn seal_of(&self, ticket: u64) -> Option<TicketSeal> {
        self.seals.get(&ticket).copied()
    }
}

impl EarlierSeals for Earlier<'_> {
    fn account_written_at(&self, account: AccountId) -> Option<DateTime<Utc>> {
        let (_, ticket) = self.read.written.iter().find(|(id, _)| *id == account)?;
        self.seal_of(*ticket).map(|seal| seal.at)
    }

    fn account_created_at(&self, account: AccountId) -> Option<DateTime<Utc>> {
        let (_, ticket) = self.read.opened.iter().find(|(id, _)| *id == account)?;
        self.seal_of(*ticket).map(|seal| seal.at)
    }

    fn transaction_created(&self, transaction: TransactionId) -> Option<(u64, DateTime<Utc>)> {
        let (_, ticket, position) = self.read.created.iter().find(|(id, _, _)| *id == transaction)?;
        self.seal_of(*ticket).map(|seal| (seal.sequence * SEQUENCE_STRIDE + position, seal.at))
    }
}

/// The placeholder sequence of the record at `position` of the booking
/// holding `ticket`: negative, so it never meets a sealed sequence, and
/// unique because tickets are.
pub(crate) fn placeholder(ticket: u64, position: u64) -> i64 {
    debug_assert!(position < SEQUENCE_STRIDE, "a booking holds more records than its stride");
    -(crate::stmt::int(ticket.saturating_mul(SEQUENCE_STRIDE).saturating_add(position)))
}

/// The ticket and position a placeholder sequence stands for (`None`: a
/// sealed sequence, 0 or more).
pub(crate) fn placed(placeholder: i64) -> Option<(u64, u64)> {
    if placeholder >= 0 {
        return None;
    }
    let stored = placeholder.unsigned_abs();
    Some((stored / SEQUENCE_STRIDE, stored % SEQUENCE_STRIDE))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_placeholder_names_its_ticket_and_position_and_is_never_a_sealed_sequence() {
        for (ticket, position) in [(1, 0), (1, 4095), (77, 3), (1 << 40, 12)] {
            let stored = placeholder(ticket, position);
            assert!(stored < 0);
            assert_eq!(placed(stored), Some((ticket, position)));
        }
        assert_eq!(placed(0), None);
        assert_eq!(placed(5), None);
    }

    #[test]
    fn earlier_seals_answer_only_for_what_the_booking_read_unsealed() {
        let (account, other) = (AccountId::new(), AccountId::new());
        let transaction = TransactionId::new();
        let at = DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::seconds(90);
        let read =
            UnsealedReads { written: vec![(account, 7)], opened: vec![(other, 7)], created: vec![(transaction, 7, 2)] };
        let seals = HashMap::from([(7, TicketSeal { sequence: 10, at })]);
        let earlier = Earlier { read: &read, seals: &seals };
        assert_eq!(earlier.account_written_at(account), Some(at));
        assert_eq!(earlier.account_written_at(other), None);
        assert_eq!(earlier.account_created_at(other), Some(at));
        assert_eq!(earlier.transaction_created(transaction), Some((10 * SEQUENCE_STRIDE + 2, at)));
        assert_eq!(earlier.transaction_created(TransactionId::new()), None);
        assert_eq!(read.tickets().collect::<Vec<_>>(), vec![7, 7, 7]);
    }
}
