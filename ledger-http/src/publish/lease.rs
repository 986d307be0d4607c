//! Holding a sink's lease: one publisher per sink across every instance
//! sharing the store. Taken before publishing, renewed well before it
//! expires; a renewal that fails or is refused ends publishing at once, so
//! by the time the lease expires and another instance takes it, this one
//! has stopped.

use std::time::Duration;

use ledger_core::Ledger;

/// How long a lease lasts unless renewed.
pub const LEASE_TTL: Duration = Duration::from_secs(10);
/// How often a held lease is renewed (and a free one tried for).
pub const LEASE_RENEW: Duration = Duration::from_millis(2500);

/// The lease of one sink for one holder.
#[derive(Debug, Clone)]
pub struct Lease {
    ledger: Ledger,
    name: String,
    holder: String,
}

/// Why a held lease ended.
#[derive(Debug, thiserror::Error)]
pub enum LeaseLost {
    /// Another holder has it (ours expired before we renewed it).
    #[error("another instance holds the lease")]
    Taken,
    /// The store did not answer the renewal (in time).
    #[error("the renewal failed: {0}")]
    RenewalFailed(String),
}

impl Lease {
    /// The lease `publish:<sink>` for `holder` (this process's random id).
    pub fn new(ledger: Ledger, sink: &str, holder: String) -> Lease {
        Lease { ledger, name: format!("publish:{sink}"), holder }
    }

    /// Takes or renews the lease; whether this holder has it now.
    pub async fn try_take(&self) -> Result<bool, LeaseLost> {
        let until = self.ledger.now() + chrono::Duration::from_std(LEASE_TTL).unwrap_or(chrono::Duration::seconds(10));
        // A renewal slower than this could return after the lease expired.
        let answer = tokio::time::timeout(LEASE_TTL / 4, self.ledger.try_lease(&self.name, &self.holder, until)).await;
        match answer {
            Ok(Ok(held)) => Ok(held),
            Ok(Err(error)) => Err(LeaseLost::RenewalFailed(error.to_string())),
            Err(_) => Err(LeaseLost::RenewalFailed("no answer in time".to_owned())),
        }
    }

    /// Renews the held lease every [`LEASE_RENEW`]; returns when it is lost.
    pub async fn keep(&self) -> LeaseLost {
        loop {
            tokio::time::sleep(LEASE_RENEW).await;
            match self.try_take().await {
                Ok(true) => {}
                Ok(false) => return LeaseLost::Taken,
                Err(lost) => return lost,
            }
        }
    }
}
