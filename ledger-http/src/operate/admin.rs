//! `ledger-http admin create` and `admin kyc approve|reject`.

use std::process::ExitCode;

use ledger_core::identity::{Email, KycTransition};
use ledger_core::{Actor, Ledger, LedgerError, Registration};

use super::OperateError;

/// Creates an admin, or says it exists; a customer's email is refused.
pub(super) async fn create(
    ledger: Ledger,
    email: String,
    name: String,
    password: String,
) -> Result<ExitCode, OperateError> {
    let admin = ledger.bootstrap_admin(Registration { email, password, full_name: name }).await?;
    println!("admin {} ({}) is ready: sign in with this email and password", admin.email, admin.id);
    Ok(ExitCode::SUCCESS)
}

/// Approves (no reason) or rejects (with one) the customer's pending KYC.
pub(super) async fn decide_kyc(
    ledger: Ledger,
    email: String,
    reason: Option<String>,
) -> Result<ExitCode, OperateError> {
    let parsed = Email::parse(&email)?;
    let user = ledger.store().user_by_email(&parsed).await?.ok_or(LedgerError::UserNotFound)?;
    let decision = match reason.clone() {
        None => KycTransition::Approve,
        Some(reason) => KycTransition::Reject { reason },
    };
    let view = ledger.review_kyc(&Actor::System, user.id, decision).await?;
    match reason {
        None => println!("KYC of {} approved: {:?}", view.email, view.kyc_status),
        Some(reason) => println!("KYC of {} rejected ({reason}): {:?}", view.email, view.kyc_status),
    }
    Ok(ExitCode::SUCCESS)
}
