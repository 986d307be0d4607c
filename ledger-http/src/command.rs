//! Request bodies to core commands: the one place a decoded JSON body
//! becomes a `ledger-core` command. Handlers call these, and so does the
//! `command_json` fuzz target, so what is fuzzed is what is served.

use std::collections::BTreeMap;

use ledger_core::money::parse_balance;
use ledger_core::{
    AccountCode, AccountId, AccountNumber, AccountRef, Amount, CaptureHold, Currency, Deposit, ENTRY_POSTINGS_MAX,
    Entry, EntryPosting, LedgerError, Metadata, NormalBalance, OpenLedgerAccount, PlaceHold, TransactionId, Transfer,
    Withdraw,
};
use uuid::Uuid;

use crate::dto::{CaptureRequest, DepositRequest, HoldRequest, TransferRequest, WithdrawalRequest};
use crate::error::ApiError;
use crate::routes::entries::dto::{EntryRequest, PostingRequest};
use crate::routes::ledger_accounts::dto::OpenLedgerAccountRequest;

/// Parses an amount string with the core's strict grammar.
pub fn amount(text: &str) -> Result<Amount, ApiError> {
    Amount::parse(text).map_err(|e| LedgerError::InvalidAmount(e).into())
}

/// An optional amount string.
pub fn optional_amount(text: Option<&str>) -> Result<Option<Amount>, ApiError> {
    text.map(amount).transpose()
}

/// Checks metadata from a body (absent: none).
pub fn metadata(map: Option<BTreeMap<String, String>>) -> Result<Metadata, ApiError> {
    Ok(Metadata::new(map.unwrap_or_default())?)
}

/// Parses a 12-digit account number with its check digits.
pub fn account_number(text: &str) -> Result<AccountNumber, ApiError> {
    AccountNumber::parse(text).map_err(|e| LedgerError::InvalidAccountNumber(e).into())
}

impl DepositRequest {
    /// The deposit this body asks for.
    pub fn into_command(self) -> Result<Deposit, ApiError> {
        Ok(Deposit {
            account: AccountId::from_uuid(self.account_id),
            amount: amount(&self.amount)?,
            description: self.description,
            metadata: metadata(self.metadata)?,
        })
    }
}

impl WithdrawalRequest {
    /// The withdrawal this body asks for.
    pub fn into_command(self) -> Result<Withdraw, ApiError> {
        Ok(Withdraw {
            account: AccountId::from_uuid(self.account_id),
            amount: amount(&self.amount)?,
            description: self.description,
            metadata: metadata(self.metadata)?,
        })
    }
}

impl TransferRequest {
    /// The transfer this body asks for: exactly one destination, by id or number.
    pub fn into_command(self) -> Result<Transfer, ApiError> {
        let to = match (self.to_account_id, self.to_account_number.as_deref()) {
            (Some(id), None) => AccountRef::Id(AccountId::from_uuid(id)),
            (None, Some(number)) => AccountRef::Number(account_number(number)?),
            _ => {
                return Err(ApiError::unprocessable(
                    "invalid_body",
                    "give exactly one of `to_account_id` and `to_account_number`",
                ));
            }
        };
        Ok(Transfer {
            from: AccountId::from_uuid(self.from_account_id),
            to,
            amount: amount(&self.amount)?,
            description: self.description,
            metadata: metadata(self.metadata)?,
        })
    }
}

impl HoldRequest {
    /// The hold this body asks for.
    pub fn into_command(self) -> Result<PlaceHold, ApiError> {
        let destination = self.to_account_number.as_deref().map(account_number).transpose()?.map(AccountRef::Number);
        Ok(PlaceHold {
            account: AccountId::from_uuid(self.account_id),
            amount: amount(&self.amount)?,
            destination,
            expires_at: self.expires_at,
            description: self.description,
            metadata: metadata(self.metadata)?,
        })
    }
}

impl CaptureRequest {
    /// The capture of hold `hold` this body asks for (no amount: all of it).
    pub fn into_command(self, hold: Uuid) -> Result<CaptureHold, ApiError> {
        Ok(CaptureHold { hold: TransactionId::from_uuid(hold), amount: optional_amount(self.amount.as_deref())? })
    }
}

/// Parses an ISO 4217 code the ledger keeps.
pub fn currency(code: &str) -> Result<Currency, LedgerError> {
    Currency::from_code(code).map_err(|_| LedgerError::InvalidCurrency)
}

impl OpenLedgerAccountRequest {
    /// The ledger account this body asks for.
    pub fn into_command(self) -> Result<OpenLedgerAccount, LedgerError> {
        let code = AccountCode::parse(&self.code)?;
        let currency = currency(&self.currency)?;
        let normal_balance = NormalBalance::parse(&self.normal_balance).ok_or(LedgerError::InvalidNormalBalance)?;
        let floor = match self.floor {
            None => None,
            Some(None) => Some(None),
            Some(Some(text)) => Some(Some(parse_balance(&text).map_err(|_| LedgerError::InvalidFloor)?)),
        };
        Ok(OpenLedgerAccount {
            name: self.name,
            floor,
            metadata: Metadata::new(self.metadata.unwrap_or_default())?,
            ..OpenLedgerAccount::new(code, currency, normal_balance)
        })
    }
}

impl EntryRequest {
    /// The entry this body asks for. The count of postings is checked
    /// before any is parsed, so an oversized body costs little.
    pub fn into_command(self) -> Result<Entry, LedgerError> {
        if self.postings.is_empty() {
            return Err(LedgerError::InvalidEntry("an entry needs at least one posting"));
        }
        if self.postings.len() > ENTRY_POSTINGS_MAX {
            return Err(LedgerError::InvalidEntry("an entry has at most 64 postings"));
        }
        let postings = self.postings.into_iter().map(PostingRequest::into_posting).collect::<Result<_, _>>()?;
        Ok(Entry {
            postings,
            description: self.description,
            metadata: Metadata::new(self.metadata.unwrap_or_default())?,
        })
    }
}

impl PostingRequest {
    /// The posting this body names.
    fn into_posting(self) -> Result<EntryPosting, LedgerError> {
        Ok(EntryPosting {
            source: AccountRef::parse(&self.source)?,
            destination: AccountRef::parse(&self.destination)?,
            amount: Amount::parse(&self.amount).map_err(LedgerError::InvalidAmount)?,
            currency: currency(&self.currency)?,
        })
    }
}
