//! The nemesis: at random moments during the run it SIGKILLs a service
//! instance (waits until it is reaped, leaves it down a moment, restarts
//! it) and, on PostgreSQL, crashes the database itself. Faults fall inside
//! the run, never in its first or last stretch, so the clients see traffic
//! both before and after each one.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use rand::rngs::StdRng;
use tokio::sync::Mutex;
use tokio::time::Instant;

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
}

/// Random moments in the run's window for `kills` kills (of random
/// instances) and `db_restarts` database crashes, in time order.
pub fn schedule(rng: &mut StdRng, run: Duration, instances: usize, kills: usize, db_restarts: usize) -> Vec<Scheduled> {
    let millis = u64::try_from(run.as_millis()).unwrap_or(u64::MAX);
    let (start, end) = (millis / 100 * WINDOW_START_PERCENT, millis / 100 * WINDOW_END_PERCENT);
    let mut at = || Duration::from_millis(rng.random_range(start..=end.max(start)));
    let mut faults: Vec<Scheduled> = Vec::new();
    for _ in 0..kills {
        let when = at();
        faults.push(Scheduled { at: when, fault: Fault::Kill { instance: 0, down: Duration::ZERO } });
    }
    for _ in 0..db_restarts {
        let when = at();
        faults.push(Scheduled { at: when, fault: Fault::CrashDatabase });
    }
    for scheduled in &mut faults {
        if let Fault::Kill { instance, down } = &mut scheduled.fault {
            *instance = rng.random_range(0..instances.max(1));
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
        }
    }
    Ok(tally)
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn the_schedule_has_every_fault_inside_the_window_in_time_order() {
        let run = Duration::from_secs(20);
        let faults = schedule(&mut StdRng::seed_from_u64(3), run, 2, 5, 1);
        assert_eq!(faults.len(), 6);
        assert_eq!(faults.iter().filter(|f| f.fault == Fault::CrashDatabase).count(), 1);
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
        let faults = schedule(&mut StdRng::seed_from_u64(11), Duration::from_secs(60), 2, 40, 0);
        let on = |i| faults.iter().filter(|f| matches!(f.fault, Fault::Kill { instance, .. } if instance == i)).count();
        assert!(on(0) > 0 && on(1) > 0, "{faults:?}");
    }
}
