//! A process's resident memory from /proc/PID/status.

use serde::Serialize;

/// One memory sample of the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RssSample {
    /// Milliseconds since the load started.
    pub at_millis: u64,
    /// Resident set size now (VmRSS), KiB.
    pub rss_kib: u64,
    /// Peak resident set size so far (VmHWM), KiB.
    pub hwm_kib: u64,
}

/// Reads VmRSS and VmHWM (KiB) of a process; `None` if it is gone or
/// /proc is not there.
pub fn read(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    Some((field(&status, "VmRSS:")?, field(&status, "VmHWM:")?))
}

fn field(status: &str, name: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(name))?;
    line[name.len()..].trim().trim_end_matches("kB").trim().parse().ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process_memory_and_peak_is_at_least_current() {
        let (rss, hwm) = read(std::process::id()).unwrap();
        assert!(rss > 0 && hwm >= rss, "rss {rss} hwm {hwm}");
    }

    #[test]
    fn a_missing_process_reads_as_none() {
        assert_eq!(read(u32::MAX), None);
    }
}
