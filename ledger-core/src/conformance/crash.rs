//! The protocol of the backends' crash tests: a child process commits and
//! prints an acknowledgement line per committed transaction; the parent
//! SIGKILLs it and checks that every acknowledged transaction survived.

use crate::id::TransactionId;

/// What the child prints before each acknowledged transaction id.
pub const ACK: &str = "ACK ";

/// The transaction id an output line of the child acknowledges, wherever in
/// the line its marker stands: libtest prints `test <name> ... ` without a
/// line break before the test's own output, so the first acknowledgement
/// shares its line with that text.
pub fn acked_id(line: &str) -> Option<TransactionId> {
    let (_, id) = line.rsplit_once(ACK)?;
    id.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_acknowledgement_is_read_behind_libtests_own_text() {
        let id = TransactionId::new();
        assert_eq!(acked_id(&format!("test crash_child_commits_until_killed ... {ACK}{id}")), Some(id));
        assert_eq!(acked_id(&format!("{ACK}{id}")), Some(id));
        assert_eq!(acked_id("running 1 test"), None);
    }
}
