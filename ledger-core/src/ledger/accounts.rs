//! Account commands: open, freeze, unfreeze, close.

use crate::account::{Account, Balance, StatusChange, validate_account_name};
use crate::account_number::AccountNumber;
use crate::audit::AuditDraft;
use crate::clock::Clock;
use crate::command::OpenAccount;
use crate::error::LedgerError;
use crate::id::AccountId;
use crate::plan::validate_overdraft_limit;
use crate::store::Store;
use crate::write_batch::{Op, WriteBatch};

use super::*;

impl Ledger {
    /// Opens a customer account with a fresh, unique number.
    pub async fn open_account(&self, command: OpenAccount) -> Result<Account, LedgerError> {
        let at = self.clock.now();
        let draft = AuditDraft::new(ACTOR_SYSTEM, "account.open", format!("user:{}", command.owner))
            .with("kind", command.kind.as_str())
            .with("currency", command.currency);
        let checked = (|| {
            if !command.kind.is_customer() {
                return Err(LedgerError::InvalidAccountKind);
            }
            Ok((
                validate_account_name(command.name.as_deref())?,
                validate_overdraft_limit(command.overdraft_limit, command.currency)?,
            ))
        })();
        let (name, overdraft_limit) = match checked {
            Ok(valid) => valid,
            Err(error) => return self.reject(at, draft, error).await,
        };
        let mut rng = rand::rng();
        let mut last = LedgerError::AccountNumberTaken;
        for _ in 0..ACCOUNT_NUMBER_ATTEMPTS_MAX {
            let account = Account {
                id: AccountId::new(),
                number: AccountNumber::random(&mut rng),
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
                Err(LedgerError::AccountNumberTaken) => last = LedgerError::AccountNumberTaken,
                Err(other) => return Err(other),
            }
        }
        Err(last)
    }

    /// Freezes an active account: it accepts no postings until unfrozen.
    pub async fn freeze(&self, account: AccountId) -> Result<Account, LedgerError> {
        self.change_status(account, StatusChange::Freeze).await
    }

    /// Unfreezes a frozen account.
    pub async fn unfreeze(&self, account: AccountId) -> Result<Account, LedgerError> {
        self.change_status(account, StatusChange::Unfreeze).await
    }

    /// Closes an account with a zero balance and no open holds. Final.
    pub async fn close(&self, account: AccountId) -> Result<Account, LedgerError> {
        self.change_status(account, StatusChange::Close).await
    }

    async fn change_status(&self, id: AccountId, change: StatusChange) -> Result<Account, LedgerError> {
        let at = self.clock.now();
        let draft = AuditDraft::new(ACTOR_SYSTEM, format!("account.{}", change.as_str()), format!("account:{id}"));
        if let Err(error) = self.planner(at).customer_account(id).await {
            return self.reject(at, draft, error).await;
        }
        let writes =
            self.apply(WriteBatch::new(at, draft, None, vec![Op::ChangeStatus { account: id, change }])).await?;
        writes
            .and_then(|w| w.updated_accounts.into_iter().find(|a| a.id == id))
            .ok_or(LedgerError::AccountNotFound { account: id })
    }
}
