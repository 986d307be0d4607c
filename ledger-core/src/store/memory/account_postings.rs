//! [`AccountPostings`]: one account's postings in commit order, beside a
//! dense index of their commit times for the searches by time (the balance
//! as of an instant, a balance-history page's ends).
//!
//! A binary search over the postings themselves (about 100 bytes each)
//! meets a fresh cache line at every step; over their commit times alone,
//! as nanoseconds since 1970 (8 bytes each, 160 KB for 20,000 postings), it
//! stays in the CPU's caches and each step is one integer compare. Outside
//! the years 1677-2262 the nanoseconds saturate, so the index cannot tell
//! such instants apart; a search for one bisects the postings instead.

use chrono::{DateTime, Utc};

use super::chunked_vec::ChunkedVec;
use crate::posting::Posting;

/// One account's postings, in commit order (which is time order too).
#[derive(Debug, Default)]
pub(super) struct AccountPostings {
    postings: ChunkedVec<Posting>,
    /// `times[i]` is `nanos(postings[i].at)`, for every `i`. One plain
    /// vector (its growth copies 8 bytes a posting, unlike the postings'),
    /// so a search is one bisection with no chunk to find first.
    times: Vec<i64>,
}

/// Nanoseconds since 1970, saturating: never decreasing with the instant,
/// exact between 1677 and 2262.
fn nanos(at: DateTime<Utc>) -> i64 {
    at.timestamp_nanos_opt().unwrap_or(if at.timestamp() < 0 { i64::MIN } else { i64::MAX })
}

impl AccountPostings {
    /// Appends a posting committed after every one held.
    pub fn push(&mut self, posting: Posting) {
        debug_assert!(
            self.postings.last().is_none_or(|last| last.at <= posting.at),
            "commit times follow commit order"
        );
        self.times.push(nanos(posting.at));
        self.postings.push(posting);
        debug_assert_eq!(self.times.len(), self.postings.len());
    }

    /// The number of postings.
    pub fn len(&self) -> usize {
        self.postings.len()
    }

    /// The postings at `start..end` (clamped), in commit order; it runs
    /// backwards too.
    pub fn range(&self, start: usize, end: usize) -> impl DoubleEndedIterator<Item = &Posting> {
        self.postings.range(start, end)
    }

    /// The index of the first posting for which `pred` is false, given that
    /// it holds for a prefix only (as `slice::partition_point`).
    pub fn partition_point(&self, pred: impl Fn(&Posting) -> bool) -> usize {
        self.postings.partition_point(pred)
    }

    /// How many postings committed strictly before `at`.
    pub fn count_before(&self, at: DateTime<Utc>) -> usize {
        match exact_nanos(at) {
            Some(key) => self.times.partition_point(|t| *t < key),
            None => self.postings.partition_point(|p| p.at < at),
        }
    }

    /// The last posting committed at or before `at`: the one whose
    /// `balance_after` is the account's posted balance then.
    pub fn as_of(&self, at: DateTime<Utc>) -> Option<&Posting> {
        let through = match exact_nanos(at) {
            Some(key) => self.times.partition_point(|t| *t <= key),
            None => self.postings.partition_point(|p| p.at <= at),
        };
        self.postings.get(through.checked_sub(1)?)
    }
}

/// `at`'s index entry if no other instant shares it: an entry that did not
/// saturate orders exactly against every other entry.
fn exact_nanos(at: DateTime<Utc>) -> Option<i64> {
    at.timestamp_nanos_opt().filter(|key| *key != i64::MIN && *key != i64::MAX)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::TimeZone;
    use rust_decimal::Decimal;

    use super::*;
    use crate::id::{AccountId, TransactionId};
    use crate::money::Currency;

    fn at(second: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + second, 0).unwrap()
    }

    /// Postings at the given seconds, sequence `i + 1`, balance `i + 1`.
    fn postings(seconds: &[i64]) -> AccountPostings {
        let mut all = AccountPostings::default();
        for (i, second) in seconds.iter().enumerate() {
            let n = u64::try_from(i).unwrap() + 1;
            all.push(Posting {
                sequence: n,
                transaction_id: TransactionId::new(),
                account_id: AccountId::new(),
                amount: Decimal::ONE,
                currency: Currency::Usd,
                balance_after: Decimal::from(n),
                at: at(*second),
            });
        }
        all
    }

    #[test]
    fn as_of_is_the_last_posting_at_or_before_the_instant() {
        let all = postings(&[10, 20, 20, 30]);
        let balance = |second| all.as_of(at(second)).map(|p| p.balance_after);
        assert_eq!(balance(9), None, "nothing had committed yet");
        assert_eq!(balance(10), Some(Decimal::from(1)), "a posting counts from its own instant");
        assert_eq!(balance(25), Some(Decimal::from(3)), "both postings of one instant count");
        assert_eq!(balance(99), Some(Decimal::from(4)));
    }

    #[test]
    fn instants_beyond_the_nanosecond_range_are_still_told_apart() {
        let year = |y: i32| Utc.with_ymd_and_hms(y, 1, 1, 0, 0, 0).unwrap();
        let mut all = AccountPostings::default();
        for (i, y) in [1, 100, 2000, 5000, 9999].into_iter().enumerate() {
            let n = u64::try_from(i).unwrap() + 1;
            let mut posting = postings(&[0]).postings.get(0).unwrap().clone();
            (posting.sequence, posting.at, posting.balance_after) = (n, year(y), Decimal::from(n));
            all.push(posting);
        }
        let sequence = |y| all.as_of(year(y)).map(|p| p.sequence);
        assert_eq!(sequence(1), Some(1));
        assert_eq!(sequence(50), Some(1), "year 50 lies between the first two, both below 1677");
        assert_eq!(sequence(100), Some(2));
        assert_eq!(sequence(4000), Some(3));
        assert_eq!(sequence(9000), Some(4), "both 5000 and 9999 lie above 2262");
        assert_eq!(all.count_before(year(5000)), 3);
        assert_eq!(all.count_before(year(9999)), 4);
        assert_eq!(all.count_before(year(100)), 1);
    }

    #[test]
    fn time_searches_agree_with_a_scan_across_chunk_boundaries() {
        // Several chunks, several postings per second.
        let seconds: Vec<i64> = (0..10_000).map(|i| i / 3).collect();
        let all = postings(&seconds);
        assert_eq!(all.len(), seconds.len());
        for second in [-1, 0, 1, 1365, 1366, 2000, 3333, 3334, 5000] {
            let before = seconds.iter().filter(|s| **s < second).count();
            let through = seconds.iter().filter(|s| **s <= second).count();
            assert_eq!(all.count_before(at(second)), before, "before second {second}");
            let expected = through.checked_sub(1).map(|i| u64::try_from(i).unwrap() + 1);
            assert_eq!(all.as_of(at(second)).map(|p| p.sequence), expected, "as of second {second}");
        }
    }
}
