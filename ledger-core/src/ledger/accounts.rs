//! Account commands: open, freeze, unfreeze, close.

use super::*;
use crate::account::{Balance, StatusChange, validate_account_name};
use crate::account_number::AccountNumber;
use crate::command::OpenAccount;
use crate::plan::validate_overdraft_limit;

impl Ledger {
    /// Opens a customer account with a fresh, unique number. Customers open
    /// accounts for themselves and without overdraft; admins for anyone.
    pub async fn open_account(&self, actor: &Actor, command: OpenAccount) -> Result<Account, LedgerError> {
        let at = self.clock.now();
        let draft = AuditDraft::new(actor.audit_name(), "account.open", format!("user:{}", command.owner))
            .with("kind", command.kind.as_str())
            .with("currency", command.currency);
        let (name, overdraft_limit) = match self.check_open(actor, &command).await {
            Ok(valid) => valid,
            Err(error @ LedgerError::Storage(_)) => return Err(error),
            Err(error) => return self.reject(at, draft, error).await,
        };
        for _ in 0..ACCOUNT_NUMBER_ATTEMPTS_MAX {
            let account = Account {
                id: AccountId::new(),
                // Drawn per attempt: a thread-local RNG must not live across
                // an await, or the future stops being Send.
                number: AccountNumber::random(&mut rand::rng()),
                owner: command.owner,
                kind: command.kind,
                currency: command.currency,
                name: name.clone(),
                status: crate::AccountStatus::Active,
                overdraft_limit,
                balance: Balance::default(),
                created_at: at,
                updated_at: at,
            };
            let draft = draft.clone().with("account", account.id).with("number", account.number);
            match self.apply(WriteBatch::new(at, draft, None, vec![Op::CreateAccount(account.clone())])).await {
                Ok(_) => return Ok(account),
                Err(LedgerError::AccountNumberTaken) => continue,
                Err(other) => return Err(other),
            }
        }
        Err(LedgerError::AccountNumberTaken)
    }

    async fn check_open(
        &self,
        actor: &Actor,
        command: &OpenAccount,
    ) -> Result<(Option<String>, rust_decimal::Decimal), LedgerError> {
        if !command.kind.is_customer() {
            return Err(LedgerError::InvalidAccountKind);
        }
        let name = validate_account_name(command.name.as_deref())?;
        let overdraft_limit = validate_overdraft_limit(command.overdraft_limit, command.currency)?;
        if !actor.may_act_for(command.owner) || (!overdraft_limit.is_zero() && !actor.is_privileged()) {
            return Err(LedgerError::Forbidden);
        }
        Ok((name, overdraft_limit))
    }

    /// Freezes an active account: it accepts no postings until unfrozen.
    /// Owners may freeze their own accounts.
    pub async fn freeze(&self, actor: &Actor, account: AccountId) -> Result<Account, LedgerError> {
        self.change_status(actor, account, StatusChange::Freeze).await
    }

    /// Unfreezes a frozen account: admins only.
    pub async fn unfreeze(&self, actor: &Actor, account: AccountId) -> Result<Account, LedgerError> {
        self.change_status(actor, account, StatusChange::Unfreeze).await
    }

    /// Closes an account with a zero balance and no open holds. Final.
    pub async fn close(&self, actor: &Actor, account: AccountId) -> Result<Account, LedgerError> {
        self.change_status(actor, account, StatusChange::Close).await
    }

    async fn change_status(&self, actor: &Actor, id: AccountId, change: StatusChange) -> Result<Account, LedgerError> {
        let at = self.clock.now();
        let draft =
            AuditDraft::new(actor.audit_name(), format!("account.{}", change.as_str()), format!("account:{id}"));
        let allowed = match self.planner(at, actor).customer_account(id).await {
            Ok(_) if change == StatusChange::Unfreeze => actor.require_admin(),
            other => other.map(|_| ()),
        };
        match allowed {
            Err(error @ LedgerError::Storage(_)) => return Err(error),
            Err(error) => return self.reject(at, draft, error).await,
            Ok(()) => {}
        }
        let writes =
            self.apply(WriteBatch::new(at, draft, None, vec![Op::ChangeStatus { account: id, change }])).await?;
        writes
            .and_then(|w| w.updated_accounts.into_iter().find(|a| a.id == id))
            .ok_or(LedgerError::AccountNotFound { account: id })
    }
}
