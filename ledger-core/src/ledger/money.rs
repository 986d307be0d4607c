//! Money commands: single and batched, and the hold-expiry sweep.

use super::*;
use crate::command::{BATCH_SIZE_MAX, CaptureHold, Deposit, Entry, PlaceHold, Reverse, Transfer, VoidHold, Withdraw};
use crate::idempotency::IdempotencyKey;

impl Ledger {
    /// Runs one money command under an idempotency key. Keys are scoped to
    /// the actor: two users' equal keys never meet.
    pub async fn execute(
        &self,
        actor: &Actor,
        key: IdempotencyKey,
        command: impl Into<MoneyCommand>,
    ) -> Result<Receipt, LedgerError> {
        use tracing::Instrument as _;
        let command = command.into();
        let span = tracing::info_span!("ledger.execute", command = command.action());
        // Announced: a group commit leader may wait for it while it plans.
        self.committer.announced(self.execute_announced(actor, key, command)).instrument(span).await
    }

    async fn execute_announced(
        &self,
        actor: &Actor,
        key: IdempotencyKey,
        command: MoneyCommand,
    ) -> Result<Receipt, LedgerError> {
        let at = self.clock.now();
        let draft =
            AuditDraft::new(actor.audit_name(), command.action(), command.target()).with("idempotency_key", &key);
        let fingerprint = fingerprint(std::slice::from_ref(&command), false);
        let claim = IdempotencyClaim { key: key.scoped(actor), fingerprint };
        let ops = match self.planner(at, actor).plan(&command).await {
            Ok(ops) => ops,
            Err(error) => {
                let receipt = self.refuse(at, draft, &claim, error).await?;
                return self.single(receipt);
            }
        };
        let receipt = self.apply_claimed(WriteBatch::new(at, draft, Some(claim), ops).acting_for(actor)).await?;
        self.single(receipt)
    }

    /// The receipt of a single command from its batch receipt.
    fn single(&self, receipt: BatchReceipt) -> Result<Receipt, LedgerError> {
        let replayed = receipt.replayed;
        let transaction = receipt.transactions.into_iter().next().ok_or_else(|| {
            LedgerError::Storage(crate::StorageError::new(
                self.store.backend(),
                "idempotency record has no transaction",
            ))
        })?;
        Ok(Receipt { transaction, replayed })
    }

    /// Runs several money commands all or nothing, under one idempotency key.
    ///
    /// Commands apply in order and each sees the effects of those before it.
    /// If any fails, none applies and the error is
    /// [`LedgerError::BatchCommandFailed`] with the failing index.
    pub async fn execute_batch(
        &self,
        actor: &Actor,
        key: IdempotencyKey,
        commands: Vec<MoneyCommand>,
    ) -> Result<BatchReceipt, LedgerError> {
        self.committer.announced(self.execute_batch_announced(actor, key, commands)).await
    }

    async fn execute_batch_announced(
        &self,
        actor: &Actor,
        key: IdempotencyKey,
        commands: Vec<MoneyCommand>,
    ) -> Result<BatchReceipt, LedgerError> {
        let at = self.clock.now();
        let draft = AuditDraft::new(actor.audit_name(), "batch", format!("batch:{}", commands.len()))
            .with("idempotency_key", &key)
            .with("commands", command_summary(&commands));
        if commands.is_empty() {
            return self.reject(at, draft, LedgerError::BatchEmpty).await;
        }
        if commands.len() > BATCH_SIZE_MAX {
            return self
                .reject(at, draft, LedgerError::BatchTooLarge { len: commands.len(), max: BATCH_SIZE_MAX })
                .await;
        }
        let claim = IdempotencyClaim { key: key.scoped(actor), fingerprint: fingerprint(&commands, true) };
        let planner = self.planner(at, actor);
        let mut ops = Vec::new();
        for (index, command) in commands.iter().enumerate() {
            match planner.plan(command).await {
                Ok(planned) => ops.extend(planned.into_iter().map(|op| (index, op))),
                Err(error @ LedgerError::Storage(_)) => return Err(error),
                Err(error) => {
                    let error = LedgerError::BatchCommandFailed { index, source: Box::new(error) };
                    return self.refuse(at, draft, &claim, error).await;
                }
            }
        }
        self.apply_claimed(WriteBatch::multi(at, draft, Some(claim), ops).acting_for(actor)).await
    }

    /// Deposits (see [`Deposit`]).
    pub async fn deposit(&self, actor: &Actor, key: IdempotencyKey, command: Deposit) -> Result<Receipt, LedgerError> {
        self.execute(actor, key, command).await
    }

    /// Withdraws (see [`Withdraw`]).
    pub async fn withdraw(
        &self,
        actor: &Actor,
        key: IdempotencyKey,
        command: Withdraw,
    ) -> Result<Receipt, LedgerError> {
        self.execute(actor, key, command).await
    }

    /// Transfers (see [`Transfer`]).
    pub async fn transfer(
        &self,
        actor: &Actor,
        key: IdempotencyKey,
        command: Transfer,
    ) -> Result<Receipt, LedgerError> {
        self.execute(actor, key, command).await
    }

    /// Places a hold (see [`PlaceHold`]).
    pub async fn place_hold(
        &self,
        actor: &Actor,
        key: IdempotencyKey,
        command: PlaceHold,
    ) -> Result<Receipt, LedgerError> {
        self.execute(actor, key, command).await
    }

    /// Captures a hold (see [`CaptureHold`]).
    pub async fn capture_hold(
        &self,
        actor: &Actor,
        key: IdempotencyKey,
        command: CaptureHold,
    ) -> Result<Receipt, LedgerError> {
        self.execute(actor, key, command).await
    }

    /// Voids a hold (see [`VoidHold`]).
    pub async fn void_hold(
        &self,
        actor: &Actor,
        key: IdempotencyKey,
        command: VoidHold,
    ) -> Result<Receipt, LedgerError> {
        self.execute(actor, key, command).await
    }

    /// Posts a general ledger entry (see [`Entry`]): the embedding program
    /// and admins only.
    pub async fn post_entry(&self, actor: &Actor, key: IdempotencyKey, command: Entry) -> Result<Receipt, LedgerError> {
        self.execute(actor, key, command).await
    }

    /// Reverses (part of) a posted transaction (see [`Reverse`]): the
    /// embedding program and admins only.
    pub async fn reverse(&self, actor: &Actor, key: IdempotencyKey, command: Reverse) -> Result<Receipt, LedgerError> {
        self.execute(actor, key, command).await
    }

    /// Voids pending holds whose expiry has passed, up to
    /// `EXPIRY_SWEEP_SIZE_MAX` per call, in as few store calls as group
    /// commit allows (see [`GroupCommit`]). Returns how many
    /// it released. Run it periodically; until it runs, an expired hold
    /// still reserves its funds but can no longer be captured.
    pub async fn expire_holds(&self, actor: &Actor) -> Result<usize, LedgerError> {
        actor.require_admin()?;
        let at = self.clock.now();
        let expired = self.store.expired_holds(at, EXPIRY_SWEEP_SIZE_MAX).await?;
        let batches: Vec<WriteBatch> = expired
            .iter()
            .filter_map(|hold| {
                let from = hold.from_account?;
                let draft = AuditDraft::new(actor.audit_name(), "hold.expire", format!("hold:{}", hold.id));
                Some(WriteBatch::new(at, draft, None, vec![Op::VoidHold { hold: hold.id, from }]))
            })
            .collect();
        if batches.is_empty() {
            return Ok(0);
        }
        let outcomes = self.committer.apply(batches).await?;
        Ok(outcomes.iter().filter(|outcome| matches!(outcome, BatchOutcome::Committed(_))).count())
    }
}

/// How many commands of each action a batch holds, in order of first
/// appearance (`transfer:998,deposit:2`): bounded by the number of actions,
/// so the audit record stays small for a batch of a thousand.
fn command_summary(commands: &[MoneyCommand]) -> String {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for command in commands {
        match counts.iter_mut().find(|(action, _)| *action == command.action()) {
            Some((_, n)) => *n += 1,
            None => counts.push((command.action(), 1)),
        }
    }
    counts.iter().map(|(action, n)| format!("{action}:{n}")).collect::<Vec<_>>().join(",")
}
