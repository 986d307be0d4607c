//! Reading a new password: from a prompt without echo (twice) on a
//! terminal, else the first line of standard input (for scripts).

use std::io::{BufRead, IsTerminal};

use super::OperateError;

/// The new password the operator types or pipes in.
pub(super) fn new_password() -> Result<String, OperateError> {
    let unreadable = |e: std::io::Error| OperateError::Input(format!("cannot read the password: {e}"));
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("New admin password: ").map_err(unreadable)?;
        let again = rpassword::prompt_password("Again: ").map_err(unreadable)?;
        if first != again {
            return Err(OperateError::Input("the two passwords differ".into()));
        }
        return Ok(first);
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).map_err(unreadable)?;
    let password = line.strip_suffix('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)).unwrap_or(&line);
    if password.is_empty() {
        return Err(OperateError::Input("no password on standard input (one line expected)".into()));
    }
    Ok(password.to_owned())
}
