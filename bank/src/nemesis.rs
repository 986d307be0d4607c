//! The nemesis: at random moments during the run it SIGKILLs a service
//! instance (waits until it is reaped, leaves it down a moment, restarts
//! it) and, on PostgreSQL, crashes the database itself; on a cluster it
//! SIGKILLs the primary's postmaster (evenly spaced, one failover at a
//! time: each waits for the new primary and for the old one to rejoin).
//! Faults fall inside the run, never in its first or last stretch, so the
//! clients see traffic both before and after each one.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use rand::rngs::StdRng;
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::cluster::Cluster;
use crate::error::BankError;
use crate::postgres::ThrowawayPostgres;
use crate::service::Instance;

/// Faults start after this share of the run, in percent.
const WINDOW_START_PERCENT: u64 = 10;
/// Faults end before this share of the run, in percent.
const WINDOW_END_PERCENT: u64 = 85;
/// The longest a killed instance stays down before its restart, in milliseconds.
const DOWN_MILLIS_MAX: u64 = 400;

/// One fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// SIGKILL this instance, keep it down for `down`, restart it.
    Kill {
        /// Which instance.
        instance: usize,
        /// How long it stays down.
        down: Duration,
    },
    /// `pg_ctl restart -m immediate`: a database crash and recovery.
    CrashDatabase,
    /// SIGKILL the cluster primary's postmaster: a failover.
    KillPrimary,
}

/// A fault and when, from the start of the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scheduled {
    /// Offset from the start of the run.
    pub at: Duration,
    /// What happens.
    pub fault: Fault,
}

/// What the nemesis did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// SIGKILLs of a service instance.
    pub crashes: usize,
    /// Database crashes.
    pub db_restarts: usize,
    /// Cluster failovers (the primary's postmaster SIGKILLed, another node promoted).
    pub failovers: usize,
    /// The longest from a primary's kill until another node led, in milliseconds.
    pub promotion_ms_max: u64,
    /// The longest from a primary's kill until it was a replica again, in milliseconds.
    pub rejoin_ms_max: u64,
}

/// The faults of a run, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultCounts {
    /// Service instances.
    pub instances: usize,
    /// SIGKILLs of a service instance.
    pub kills: usize,
    /// Database crashes.
    pub db_restarts: usize,
    /// Cluster failovers.
    pub failovers: usize,
}

/// Random moments in the run's window for the kills (of random instances)
/// and database crashes, and evenly spaced ones for the failovers, in time
/// order.
pub fn schedule(rng: &mut StdRng, run: Duration, counts: FaultCounts) -> Vec<Scheduled> {
    let millis = u64::try_from(run.as_millis()).unwrap_or(u64::MAX);
    let (start, end) = (millis / 100 * WINDOW_START_PERCENT, millis / 100 * WINDOW_END_PERCENT);
    let mut at = || Duration::from_millis(rng.random_range(start..=end.max(start)));
    let mut faults: Vec<Scheduled> = Vec::new();
    for _ in 0..counts.kills {
        let when = at();
        faults.push(Scheduled { at: when, fault: Fault::Kill { instance: 0, down: Duration::ZERO } });
    }
    for _ in 0..counts.db_restarts {
        let when = at();
        faults.push(Scheduled { at: when, fault: Fault::CrashDatabase });
    }
    // A failover takes seconds and the next must find the old primary back:
    // spread them out rather than let two land together.
    let failovers = u64::try_from(counts.failovers).unwrap_or(u64::MAX);
    for n in 0..failovers {
        let when = Duration::from_millis(start + (end - start) * n / failovers.max(1));
        faults.push(Scheduled { at: when, fault: Fault::KillPrimary });
    }
    for scheduled in &mut faults {
        if let Fault::Kill { instance, down } = &mut scheduled.fault {
            *instance = rng.random_range(0..counts.instances.max(1));
            *down = Duration::from_millis(rng.random_range(0..=DOWN_MILLIS_MAX));
        }
    }
    faults.sort_by_key(|s| s.at);
    faults
}

/// Carries out a schedule from `start`. Every killed instance is running
/// again when this returns `Ok`.
pub async fn unleash(
    faults: Vec<Scheduled>,
    start: Instant,
    instances: &[Arc<Mutex<Instance>>],
    database: Option<Arc<ThrowawayPostgres>>,
    cluster: Option<Arc<Cluster>>,
) -> Result<Tally, BankError> {
    let mut tally = Tally::default();
    for scheduled in faults {
        tokio::time::sleep_until(start + scheduled.at).await;
        match scheduled.fault {
            Fault::Kill { instance, down } => {
                let Some(instance) = instances.get(instance) else { continue };
                let mut instance = instance.lock().await;
                instance.kill().await?;
                tally.crashes += 1;
                tokio::time::sleep(down).await;
                instance.restart().await?;
            }
            Fault::CrashDatabase => {
                let Some(database) = database.clone() else { continue };
                tokio::task::spawn_blocking(move || database.crash_and_restart())
                    .await
                    .map_err(|e| BankError::Startup(format!("the database restart task failed: {e}")))??;
                tally.db_restarts += 1;
            }
            Fault::KillPrimary => {
                let Some(cluster) = cluster.as_ref() else { continue };
                let failover = cluster.kill_primary().await?;
                tally.failovers += 1;
                tally.promotion_ms_max = tally.promotion_ms_max.max(millis(failover.promoted));
                if let Some(rejoined) = failover.rejoined {
                    tally.rejoin_ms_max = tally.rejoin_ms_max.max(millis(rejoined));
                }
                eprintln!(
                    "bank: failover {}: a new primary after {} ms, the old one a replica after {}",
                    tally.failovers,
                    millis(failover.promoted),
                    failover.rejoined.map_or("(not within the bound)".to_owned(), |d| format!("{} ms", millis(d)))
                );
            }
        }
    }
    Ok(tally)
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn the_schedule_has_every_fault_inside_the_window_in_time_order() {
        let run = Duration::from_secs(20);
        let counts = FaultCounts { instances: 2, kills: 5, db_restarts: 1, failovers: 2 };
        let faults = schedule(&mut StdRng::seed_from_u64(3), run, counts);
        assert_eq!(faults.len(), 8);
        assert_eq!(faults.iter().filter(|f| f.fault == Fault::CrashDatabase).count(), 1);
        let failovers: Vec<_> = faults.iter().filter(|f| f.fault == Fault::KillPrimary).map(|f| f.at).collect();
        assert_eq!(failovers.len(), 2);
        assert!(failovers[1] - failovers[0] >= Duration::from_secs(7), "{failovers:?}");
        assert!(faults.windows(2).all(|w| w[0].at <= w[1].at));
        for f in &faults {
            assert!(f.at >= Duration::from_secs(2) && f.at <= Duration::from_secs(17), "{f:?}");
            if let Fault::Kill { instance, down } = f.fault {
                assert!(instance < 2 && down <= Duration::from_millis(DOWN_MILLIS_MAX), "{f:?}");
            }
        }
    }

    #[test]
    fn kills_spread_over_both_instances() {
        let counts = FaultCounts { instances: 2, kills: 40, ..FaultCounts::default() };
        let faults = schedule(&mut StdRng::seed_from_u64(11), Duration::from_secs(60), counts);
        let on = |i| faults.iter().filter(|f| matches!(f.fault, Fault::Kill { instance, .. } if instance == i)).count();
        assert!(on(0) > 0 && on(1) > 0, "{faults:?}");
    }
}
