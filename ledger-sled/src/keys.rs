//! Key encoding: fixed-width, big-endian, so sled's byte order is the order
//! queries need (sequence order, oldest expiry first, per-account and
//! per-user ranges). The one variable-width key part, an audit actor, is
//! length-prefixed so no actor's range contains another's.

use chrono::{DateTime, Utc};
use ledger_core::identity::{Email, SessionId};
use ledger_core::{AccountId, AccountNumber, Digest, TransactionId, UserId};

use crate::error::corrupt;
use ledger_core::StorageError;

/// Bytes in an encoded id (a UUID).
pub(crate) const ID_LEN: usize = 16;
/// Bytes in an encoded sequence.
pub(crate) const SEQ_LEN: usize = 8;
/// Bytes in an encoded instant (seconds, then nanoseconds).
pub(crate) const TIME_LEN: usize = 12;
/// Bytes in an encoded digest (SHA-256).
pub(crate) const DIGEST_LEN: usize = 32;
/// Bytes in the length prefix of an encoded actor.
const ACTOR_LEN_LEN: usize = 8;

/// The meta key holding the audit chain's head (sequence and hash).
pub(crate) const META_AUDIT_HEAD: &[u8] = b"audit_head";
/// The meta key holding the storage format version.
pub(crate) const META_FORMAT: &[u8] = b"format_version";

/// An account id: its UUID's bytes, so byte order is id order.
pub(crate) fn account(id: AccountId) -> [u8; ID_LEN] {
    *id.as_uuid().as_bytes()
}

/// A transaction id.
pub(crate) fn transaction(id: TransactionId) -> [u8; ID_LEN] {
    *id.as_uuid().as_bytes()
}

/// A sequence (transaction, posting or audit): big-endian, so byte order is
/// numeric order.
pub(crate) fn sequence(seq: u64) -> [u8; SEQ_LEN] {
    seq.to_be_bytes()
}

/// An account number, big-endian.
pub(crate) fn number(number: AccountNumber) -> [u8; 8] {
    number.as_u64().to_be_bytes()
}

/// `account || sequence`: one account's range in the history and postings
/// trees, in sequence order.
pub(crate) fn account_sequence(id: AccountId, seq: u64) -> [u8; ID_LEN + SEQ_LEN] {
    let mut key = [0; ID_LEN + SEQ_LEN];
    key[..ID_LEN].copy_from_slice(&account(id));
    key[ID_LEN..].copy_from_slice(&sequence(seq));
    key
}

/// `owner || order || account`: an owner's accounts in the order they were
/// created (`order` comes from the commit's audit sequence, so it is commit
/// order even when two accounts share a timestamp).
pub(crate) fn owner_account(owner: UserId, order: u64, id: AccountId) -> [u8; ID_LEN + SEQ_LEN + ID_LEN] {
    let mut key = [0; ID_LEN + SEQ_LEN + ID_LEN];
    key[..ID_LEN].copy_from_slice(owner.as_uuid().as_bytes());
    key[ID_LEN..ID_LEN + SEQ_LEN].copy_from_slice(&sequence(order));
    key[ID_LEN + SEQ_LEN..].copy_from_slice(&account(id));
    key
}

/// A user id; also the owner prefix of [`owner_account`] keys and the user
/// prefix of [`user_session`] keys.
pub(crate) fn user(id: UserId) -> [u8; ID_LEN] {
    *id.as_uuid().as_bytes()
}

/// A session id.
pub(crate) fn session(id: SessionId) -> [u8; ID_LEN] {
    *id.0.as_bytes()
}

/// A token digest (sessions and reset tokens are found by it).
pub(crate) fn digest(digest: &Digest) -> [u8; DIGEST_LEN] {
    digest.0
}

/// A normalised email: its text. Normalisation (trimmed, lower-cased) is
/// done by [`Email`] itself, so equal addresses are equal keys.
pub(crate) fn email(email: &Email) -> &[u8] {
    email.as_str().as_bytes()
}

/// `user || order || session`: a user's sessions in the order they were
/// created (`order` is the creating commit's audit sequence times
/// [`SEQUENCE_STRIDE`](ledger_core::SEQUENCE_STRIDE) plus the session's
/// position in it: commit order, as the reference store keeps them).
pub(crate) fn user_session(user_id: UserId, order: u64, id: SessionId) -> [u8; ID_LEN + SEQ_LEN + ID_LEN] {
    let mut key = [0; ID_LEN + SEQ_LEN + ID_LEN];
    key[..ID_LEN].copy_from_slice(&user(user_id));
    key[ID_LEN..ID_LEN + SEQ_LEN].copy_from_slice(&sequence(order));
    key[ID_LEN + SEQ_LEN..].copy_from_slice(&session(id));
    key
}

/// A list of session ids, concatenated (the `live_sessions` value).
pub(crate) fn session_list(ids: &[SessionId]) -> Vec<u8> {
    ids.iter().flat_map(|id| session(*id)).collect()
}

/// Reads [`session_list`]'s bytes.
pub(crate) fn session_list_ids(bytes: &[u8]) -> Result<Vec<SessionId>, StorageError> {
    if bytes.len() % ID_LEN != 0 {
        return Err(corrupt("a session list is not a whole number of ids"));
    }
    Ok(bytes.chunks_exact(ID_LEN).map(|id| SessionId(uuid_suffix_of(id))).collect())
}

/// `len (8, big-endian) || actor`: the prefix of one actor's keys in the
/// `audit_by_actor` index. The length makes it prefix-free: `user:a` and
/// `user:ab` have disjoint ranges.
pub(crate) fn actor(actor: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(ACTOR_LEN_LEN + actor.len() + SEQ_LEN);
    key.extend_from_slice(&(actor.len() as u64).to_be_bytes());
    key.extend_from_slice(actor.as_bytes());
    key
}

/// `len (8) || key || len (8) || value`: the prefix of one metadata pair's
/// keys in the `metadata_index` tree (the lengths make it prefix-free).
pub(crate) fn metadata_pair(key: &str, value: &str) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(16 + key.len() + value.len() + SEQ_LEN);
    for part in [key, value] {
        bytes.extend_from_slice(&(part.len() as u64).to_be_bytes());
        bytes.extend_from_slice(part.as_bytes());
    }
    bytes
}

/// `pair || sequence`: the transactions carrying a metadata pair, in order.
pub(crate) fn metadata_pair_sequence(key: &str, value: &str, seq: u64) -> Vec<u8> {
    let mut bytes = metadata_pair(key, value);
    bytes.extend_from_slice(&sequence(seq));
    bytes
}

/// `actor || sequence`: an actor's audit records in sequence order.
pub(crate) fn actor_sequence(actor_name: &str, seq: u64) -> Vec<u8> {
    let mut key = actor(actor_name);
    key.extend_from_slice(&sequence(seq));
    key
}

/// An instant as seconds (sign bit flipped, so negative seconds sort first)
/// then nanoseconds, both big-endian: exact, and byte order is time order.
pub(crate) fn time(at: DateTime<Utc>) -> [u8; TIME_LEN] {
    let mut key = [0; TIME_LEN];
    let secs = (at.timestamp() as u64) ^ (1 << 63);
    key[..8].copy_from_slice(&secs.to_be_bytes());
    key[8..].copy_from_slice(&at.timestamp_subsec_nanos().to_be_bytes());
    key
}

/// Reads [`time`]'s bytes back.
pub(crate) fn time_of(bytes: &[u8]) -> Result<DateTime<Utc>, StorageError> {
    let (Some(secs), Some(nanos)) = (bytes.get(..8), bytes.get(8..TIME_LEN)) else {
        return Err(corrupt("an instant is too short"));
    };
    let mut s = [0; 8];
    s.copy_from_slice(secs);
    let mut n = [0; 4];
    n.copy_from_slice(nanos);
    let secs = (u64::from_be_bytes(s) ^ (1 << 63)) as i64;
    DateTime::from_timestamp(secs, u32::from_be_bytes(n)).ok_or_else(|| corrupt("an instant is out of range"))
}

/// `account || commit time || sequence`: an account's postings in commit
/// time order (which is commit order), for balances as of an instant.
pub(crate) fn account_time_sequence(id: AccountId, at: DateTime<Utc>, seq: u64) -> [u8; ID_LEN + TIME_LEN + SEQ_LEN] {
    let mut key = [0; ID_LEN + TIME_LEN + SEQ_LEN];
    key[..ID_LEN].copy_from_slice(&account(id));
    key[ID_LEN..ID_LEN + TIME_LEN].copy_from_slice(&time(at));
    key[ID_LEN + TIME_LEN..].copy_from_slice(&sequence(seq));
    key
}

/// `expiry || hold`: pending holds, oldest expiry first.
pub(crate) fn expiry(at: DateTime<Utc>, hold: TransactionId) -> [u8; TIME_LEN + ID_LEN] {
    let mut key = [0; TIME_LEN + ID_LEN];
    key[..TIME_LEN].copy_from_slice(&time(at));
    key[TIME_LEN..].copy_from_slice(&transaction(hold));
    key
}

/// The largest [`expiry`] key at `at`: a range up to it includes every hold
/// expiring at or before `at`.
pub(crate) fn expiry_upper(at: DateTime<Utc>) -> [u8; TIME_LEN + ID_LEN] {
    let mut key = [0xFF; TIME_LEN + ID_LEN];
    key[..TIME_LEN].copy_from_slice(&time(at));
    key
}

/// Reads a big-endian sequence from the last [`SEQ_LEN`] bytes of a key or value.
pub(crate) fn sequence_suffix(bytes: &[u8]) -> Result<u64, StorageError> {
    let start = bytes.len().checked_sub(SEQ_LEN).ok_or_else(|| corrupt("a sequence is too short"))?;
    let mut buf = [0; SEQ_LEN];
    buf.copy_from_slice(&bytes[start..]);
    Ok(u64::from_be_bytes(buf))
}

/// Reads a UUID from the last [`ID_LEN`] bytes of a key or value.
pub(crate) fn uuid_suffix(bytes: &[u8]) -> Result<uuid::Uuid, StorageError> {
    let start = bytes.len().checked_sub(ID_LEN).ok_or_else(|| corrupt("an id is too short"))?;
    Ok(uuid_suffix_of(&bytes[start..]))
}

/// A UUID from exactly [`ID_LEN`] bytes.
fn uuid_suffix_of(bytes: &[u8]) -> uuid::Uuid {
    let mut buf = [0; ID_LEN];
    buf.copy_from_slice(bytes);
    uuid::Uuid::from_bytes(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn sequences_sort_numerically() {
        assert!(sequence(255) < sequence(256));
        assert!(
            account_sequence(AccountId::settlement(ledger_core::Currency::Usd), 1).as_slice()
                < account_sequence(AccountId::settlement(ledger_core::Currency::Usd), 1 << 40).as_slice()
        );
        assert_eq!(sequence_suffix(&account_sequence(AccountId::new(), 42)).ok(), Some(42));
    }

    #[test]
    fn instants_sort_in_time_order_across_the_epoch() {
        let times = [
            Utc.timestamp_opt(-5, 999_999_999).single(),
            Utc.timestamp_opt(-5, 1).single(),
            Utc.timestamp_opt(0, 0).single(),
            Utc.timestamp_opt(0, 1).single(),
            Utc.timestamp_opt(1_800_000_000, 0).single(),
        ];
        let times: Vec<_> = times.into_iter().flatten().collect();
        let mut sorted = times.clone();
        sorted.sort();
        let keys: Vec<_> = sorted.iter().map(|t| time(*t)).collect();
        let mut by_key = keys.clone();
        by_key.sort();
        assert_eq!(keys, by_key);
        assert_eq!(sorted.len(), 5);
    }

    #[test]
    fn actor_ranges_are_disjoint_and_in_sequence_order() {
        // Without the length prefix "user:a" || seq would sort inside "user:ab"'s range.
        let short = actor("user:a");
        let long = actor("user:ab");
        assert!(!long.starts_with(&short) && !short.starts_with(&long));
        assert!(!actor_sequence("user:ab", 1).starts_with(&short));
        assert!(actor_sequence("user:a", 255) < actor_sequence("user:a", 256));
        assert!(actor_sequence("system", 7).starts_with(&actor("system")));
        assert_eq!(sequence_suffix(&actor_sequence("system", 7)).ok(), Some(7));
    }

    #[test]
    fn session_lists_round_trip() {
        let ids = [SessionId::new(), SessionId::new(), SessionId::new()];
        assert_eq!(session_list_ids(&session_list(&ids)).ok(), Some(ids.to_vec()));
        assert_eq!(session_list_ids(&[]).ok(), Some(Vec::new()));
        assert!(session_list_ids(&[1, 2, 3]).is_err());
    }

    #[test]
    fn a_users_sessions_sort_in_commit_order() {
        let user_id = UserId::new();
        let minted_first = SessionId::new();
        let minted_second = SessionId::new();
        assert!(minted_first < minted_second);
        // Committed in the other order: commit order wins, as in the reference store.
        assert!(user_session(user_id, 5, minted_second) < user_session(user_id, 6, minted_first));
        assert!(user_session(user_id, 5, minted_first).starts_with(&user(user_id)));
    }

    #[test]
    fn expiry_upper_bounds_every_hold_at_that_instant() {
        let at = Utc::now();
        let hold = TransactionId::new();
        assert!(expiry(at, hold) <= expiry_upper(at));
        assert!(expiry(at + chrono::Duration::nanoseconds(1), hold) > expiry_upper(at));
    }
}
