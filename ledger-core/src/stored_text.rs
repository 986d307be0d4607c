//! Text a store writes must be valid for every backend: PostgreSQL refuses a
//! NUL in `TEXT`, and nothing should store a string of unbounded length.
//!
//! Domain strings (names, descriptions, profile fields, device labels) are
//! validated where they are parsed and refused with a typed error. The
//! audit log is different: it records what was *attempted*, including raw
//! input that failed validation (the email of a failed login), so it cannot
//! refuse it. It keeps a bounded, escaped form instead ([`audit_text`]):
//! every record is storable whatever the attacker sent, and one hostile
//! record can neither fail the commit it shares with others nor bloat the log.

use std::borrow::Cow;

/// The most characters an audit field keeps; longer input is cut to this
/// many, ending in `…`.
pub const AUDIT_TEXT_LEN_MAX: usize = 512;

/// Whether every backend can store `text` as it is (no NUL).
pub fn is_storable(text: &str) -> bool {
    !text.contains('\0')
}

/// The form of `raw` the audit log stores: control characters and the
/// backslash escaped (`\u{0}`, `\n`, `\\`), so the stored text is printable
/// and unambiguous, and cut to [`AUDIT_TEXT_LEN_MAX`] characters. Text that
/// needs neither is returned as it is, without allocating.
pub fn audit_text(raw: &str) -> Cow<'_, str> {
    let needs_escape = raw.chars().any(needs_escaping);
    if !needs_escape && raw.len() <= AUDIT_TEXT_LEN_MAX {
        // Bytes bound characters: a string of at most N bytes has at most N chars.
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len().min(AUDIT_TEXT_LEN_MAX * 4));
    let mut kept = 0;
    for c in raw.chars() {
        if needs_escaping(c) {
            let escaped = escape(c);
            kept += escaped.len(); // ASCII: one byte per character
            out.push_str(&escaped);
        } else {
            kept += 1;
            out.push(c);
        }
        if kept > AUDIT_TEXT_LEN_MAX {
            let cut: String = out.chars().take(AUDIT_TEXT_LEN_MAX - 1).collect();
            return Cow::Owned(cut + "…");
        }
    }
    Cow::Owned(out)
}

fn needs_escaping(c: char) -> bool {
    c.is_control() || c == '\\'
}

fn escape(c: char) -> String {
    match c {
        '\\' => "\\\\".to_owned(),
        '\n' => "\\n".to_owned(),
        '\r' => "\\r".to_owned(),
        '\t' => "\\t".to_owned(),
        c => format!("\\u{{{:x}}}", u32::from(c)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_kept_as_it_is() {
        assert!(matches!(audit_text("email:alice@example.com"), Cow::Borrowed("email:alice@example.com")));
        assert!(matches!(audit_text("naïve ☃"), Cow::Borrowed(_)));
    }

    #[test]
    fn control_characters_and_backslashes_are_escaped() {
        assert_eq!(audit_text("evil\0@example.com"), "evil\\u{0}@example.com");
        assert_eq!(audit_text("a\nb\tc\\d\u{7f}"), "a\\nb\\tc\\\\d\\u{7f}");
        assert!(is_storable(&audit_text("\0\0\0")));
    }

    #[test]
    fn long_text_is_cut_with_an_ellipsis() {
        let cut = audit_text(&"x".repeat(64 * 1024)).into_owned();
        assert_eq!(cut.chars().count(), AUDIT_TEXT_LEN_MAX);
        assert!(cut.ends_with('…'));
        let escaped = audit_text(&"\0".repeat(10_000)).into_owned();
        assert!(escaped.chars().count() <= AUDIT_TEXT_LEN_MAX);
        assert!(is_storable(&escaped));
    }

    #[test]
    fn text_of_exactly_the_limit_is_not_cut() {
        let exact = "é".repeat(AUDIT_TEXT_LEN_MAX);
        assert_eq!(audit_text(&exact), exact);
        let over = "é".repeat(AUDIT_TEXT_LEN_MAX + 1);
        assert_eq!(audit_text(&over).chars().count(), AUDIT_TEXT_LEN_MAX);
    }
}
