//! The conformance suite: every rule of the ledger, written once, run against
//! every backend (enable the `conformance` feature).
//!
//! A backend crate runs all of it with one macro and a factory that returns a
//! fresh, empty, isolated store each time it is called, or `None` when the
//! backend is not available here (say, no database URL in the environment):
//! the cases then pass after printing that they were skipped.
//!
//! ```text
//! async fn fresh_store() -> Option<std::sync::Arc<dyn ledger_core::Store>> { /* ... */ }
//! ledger_core::conformance_suite!(fresh_store);
//! ```
//!
//! Each case is a public async function taking a [`Harness`], so an
//! out-of-tree backend can also call them one by one. After every case the
//! harness checks the ledger's invariants ([`invariants::check`]).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test support: a failed expectation must panic

pub mod concurrency;
pub mod crash;
pub mod dump;
pub mod group_commit;
pub mod hardening;
pub mod identity;
pub mod invariants;
pub mod model;
mod people;
pub mod recording;
pub mod rules;
pub mod store_contract;

use std::future::Future;
use std::sync::Arc;

use chrono::{TimeZone, Utc};

use crate::clock::ManualClock;
use crate::identity::{Email, HashParams, Notifier, SecretToken};
use crate::ledger::{Ledger, LedgerConfig};
use crate::store::Store;

/// What a conformance case gets: a ledger on a fresh store, with a manual
/// clock and a notifier that keeps what it is asked to send.
pub struct Harness {
    /// The ledger under test.
    pub ledger: Ledger,
    /// Its clock; cases move it to test expiry.
    pub clock: Arc<ManualClock>,
    /// The store underneath.
    pub store: Arc<dyn Store>,
    /// The password-reset tokens the ledger sent.
    pub notifier: Arc<RecordingNotifier>,
}

impl Harness {
    /// Opens a ledger on a store with a manual clock and cheap password
    /// hashing (the production parameters are tested in unit tests).
    pub async fn new(store: Arc<dyn Store>) -> Harness {
        let start = Utc.with_ymd_and_hms(2026, 1, 1, 9, 0, 0).single().unwrap_or_else(Utc::now);
        let clock = Arc::new(ManualClock::new(start));
        let notifier = Arc::new(RecordingNotifier::default());
        let config = LedgerConfig::default().password_hash(HashParams::INSECURE_FAST_FOR_TESTS);
        let opened =
            Ledger::builder(store.clone()).clock(clock.clone()).config(config).notifier(notifier.clone()).open().await;
        let ledger = match opened {
            Ok(ledger) => ledger,
            Err(error) => panic!("opening the ledger on a fresh {} store failed: {error}", store.backend()),
        };
        Harness { ledger, clock, store, notifier }
    }
}

/// A notifier that records password-reset tokens instead of sending them.
#[derive(Debug, Default)]
pub struct RecordingNotifier {
    sent: std::sync::Mutex<Vec<(Email, SecretToken)>>,
}

impl RecordingNotifier {
    /// The last token sent to `email`.
    pub fn last_token_for(&self, email: &str) -> Option<SecretToken> {
        let sent = self.sent.lock().unwrap_or_else(|p| p.into_inner());
        sent.iter().rev().find(|(to, _)| to.as_str() == email).map(|(_, t)| t.clone())
    }

    /// How many messages were sent.
    pub fn count(&self) -> usize {
        self.sent.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

#[async_trait::async_trait]
impl Notifier for RecordingNotifier {
    async fn send_password_reset(&self, to: &Email, token: &SecretToken, _expires_at: chrono::DateTime<Utc>) {
        self.sent.lock().unwrap_or_else(|p| p.into_inner()).push((to.clone(), token.clone()));
    }
}

/// A multi-threaded runtime for one case.
pub fn runtime() -> tokio::runtime::Runtime {
    match tokio::runtime::Builder::new_multi_thread().worker_threads(4).enable_all().build() {
        Ok(rt) => rt,
        Err(error) => panic!("cannot start a tokio runtime: {error}"),
    }
}

/// Runs one case on a fresh store, then checks the invariants. When the
/// factory returns `None` the case is skipped (the factory says why).
pub fn run<F, FFut, C, CFut>(factory: F, case: C)
where
    F: FnOnce() -> FFut,
    FFut: Future<Output = Option<Arc<dyn Store>>>,
    C: FnOnce(Harness) -> CFut,
    CFut: Future<Output = ()>,
{
    runtime().block_on(async move {
        let Some(store) = factory().await else { return };
        let harness = Harness::new(store.clone()).await;
        let ledger = harness.ledger.clone();
        case(harness).await;
        invariants::check(&ledger).await;
    });
}

/// Runs one case on a fresh store, handing it a second fresh store from the
/// same factory (a copy's destination), then checks the invariants of the
/// first. Skipped when the factory returns `None`.
pub fn run_with_second_store<F, FFut, C, CFut>(factory: F, case: C)
where
    F: Fn() -> FFut,
    FFut: Future<Output = Option<Arc<dyn Store>>>,
    C: FnOnce(Harness, Arc<dyn Store>) -> CFut,
    CFut: Future<Output = ()>,
{
    runtime().block_on(async move {
        let Some(store) = factory().await else { return };
        let Some(second) = factory().await else { return };
        let harness = Harness::new(store.clone()).await;
        let ledger = harness.ledger.clone();
        case(harness, second).await;
        invariants::check(&ledger).await;
    });
}

/// Expands to one `#[test]` per conformance case, each on a fresh store from
/// `$factory` (an `async fn() -> Option<Arc<dyn Store>>`), plus the model and
/// concurrency tests.
#[macro_export]
macro_rules! conformance_suite {
    ($factory:path) => {
        $crate::conformance_suite!(@cases $factory; identity;
            register_normalises_email_and_refuses_duplicates_case_insensitively,
            registration_rejects_bad_input_and_audits_it,
            passwords_are_stored_as_argon2id_digests,
            bootstrap_admin_is_idempotent_and_never_self_registered,
            login_opens_a_session_with_device_tracking,
            login_with_wrong_password_or_unknown_email_is_the_same_error_and_audited,
            repeated_failed_logins_are_throttled_with_retry_after,
            throttling_applies_per_client_address,
            forged_unknown_expired_and_revoked_tokens_are_unauthenticated,
            using_a_session_keeps_it_alive,
            sessions_are_listed_and_revoked_one_or_all_others,
            change_password_needs_the_current_one_and_revokes_other_sessions,
            password_reset_request_never_reveals_whether_the_email_exists,
            reset_token_is_single_use_short_lived_and_revokes_every_session,
            profile_updates_are_validated_and_audited,
            kyc_follows_its_transitions_and_only_admins_decide,
            kyc_policy_blocks_unverified_customers_moving_money_out,
            customers_cannot_touch_other_users_accounts,
            customers_may_freeze_but_only_admins_unfreeze,
            admin_actions_are_forbidden_to_customers_and_audited,
            idempotency_keys_are_scoped_per_user,
            own_audit_log_shows_only_own_records,
        );
        $crate::conformance_suite!(@cases $factory; rules;
            open_account_assigns_a_valid_unique_number_and_zero_balances,
            open_account_rejects_bad_input_and_audits_it,
            deposit_credits_the_account_and_debits_settlement,
            withdrawal_needs_available_funds,
            overdraft_limit_is_the_floor,
            transfer_moves_money_between_accounts,
            transfer_by_account_number_reaches_another_owner,
            transfer_rejects_currency_mismatch,
            transfer_rejects_same_account,
            unknown_and_internal_accounts_are_rejected,
            malformed_account_number_is_rejected,
            invalid_amounts_are_rejected_and_audited,
            frozen_account_accepts_no_postings_until_unfrozen,
            closed_account_is_final,
            close_requires_zero_balance_and_no_open_holds,
            status_changes_follow_the_state_machine,
            renaming_an_account_changes_only_its_name,
            renaming_refuses_bad_names_unknown_and_closed_accounts,
            customers_rename_only_their_own_accounts,
            idempotent_replay_returns_the_original_result,
            idempotency_key_with_another_payload_conflicts,
            rejected_command_can_be_retried_with_its_key,
            hold_reserves_funds_and_capture_posts_them,
            partial_capture_releases_the_rest,
            void_releases_the_hold,
            capture_above_the_hold_is_rejected,
            hold_cannot_be_captured_twice_or_after_void,
            hold_to_a_destination_account_credits_it_on_capture,
            expired_hold_cannot_be_captured_and_is_swept,
            hold_expiry_must_be_in_the_near_future,
            replay_of_a_hold_after_its_expiry_returns_the_original,
            hold_beyond_available_is_rejected,
            capture_of_a_non_hold_is_rejected,
            batch_applies_all_commands_in_order,
            batch_is_all_or_nothing,
            batch_size_is_limited,
            batch_posting_lines_are_limited,
            batch_replay_returns_the_original_result,
            history_filters_by_every_field,
            history_is_newest_first_with_stable_cursor_pagination,
            history_rejects_bad_pages_and_filters,
            accounts_are_found_by_id_number_and_owner,
            audit_log_records_accepted_and_rejected_commands,
            audit_chain_detects_tampering_through_the_verifier,
            events_are_published_for_committed_changes,
            descriptions_are_validated,
            postings_balance_and_sum_to_each_balance,
            ledger_accounts_open_under_a_unique_code_and_are_found_by_it,
            ledger_accounts_reject_bad_input_and_audit_it,
            ledger_accounts_follow_the_status_machine,
            an_entry_splits_a_payment_across_accounts_all_at_once,
            an_entry_may_mix_currencies_and_pass_through_zero,
            an_entry_breaching_a_floor_names_the_posting_and_changes_nothing,
            floors_apply_on_each_accounts_normal_side,
            entries_reject_bad_input_and_audit_it,
            entries_are_idempotent_with_metadata_in_the_fingerprint,
            history_filters_by_metadata_pairs,
            a_reversal_moves_every_posting_back_and_links_to_the_original,
            a_single_posting_transaction_is_reversed_in_parts_never_beyond,
            reversals_obey_floors_statuses_and_who_may_reverse,
            balance_as_of_is_the_balance_after_the_last_posting_at_or_before_it,
            balance_history_pages_newest_first_with_the_balance_after_each,
            statements_open_plus_changes_is_closing,
            commit_times_never_go_back_even_when_a_clock_does,
            the_feed_lists_every_committed_change_in_commit_order,
            sink_cursors_move_forward_only_and_a_lease_has_one_holder,
        );
        $crate::conformance_suite!(@cases $factory; store_contract;
            sessions_of_lists_newest_first_within_the_limit_revoked_included,
            session_with_user_matches_the_two_reads_it_replaces,
            session_with_user_and_account_matches_the_reads_it_replaces,
            authenticating_with_an_account_read_judges_both_as_the_two_calls_do,
            touch_session_moves_forward_only_and_never_on_a_revoked_session,
            audit_records_by_actor_page_in_sequence_order,
            users_are_listed_in_id_order_and_found_by_normalised_email,
        );
        $crate::conformance_suite!(@cases $factory; hardening;
            hostile_login_input_is_audited_escaped_and_bounded,
            a_rejection_that_cannot_be_audited_is_an_error_the_caller_sees,
            concurrent_wrong_passwords_pass_the_throttle_at_most_its_limit,
            a_login_racing_a_password_change_opens_no_session,
            a_login_racing_a_password_reset_opens_no_session,
            issuing_or_using_a_reset_token_voids_the_others,
            changing_identity_fields_sends_a_verified_customer_back_to_review,
            the_payee_decides_a_hold_with_a_destination_and_the_payer_never_does,
            errors_name_own_accounts_by_number_and_nothing_of_others,
            concurrent_opens_never_pass_the_per_owner_limit,
            instances_bootstrapping_one_admin_together_all_succeed,
        );
        $crate::conformance_suite!(@cases $factory; group_commit;
            group_commit_coalesces_concurrent_callers,
            group_commit_keeps_invariants_under_contention,
            replayed_key_inside_one_group_applies_once,
            failing_guard_inside_a_group_disturbs_no_other_batch,
            storage_error_reaches_every_caller_in_the_group,
            one_refused_batch_never_fails_its_group,
        );
        #[test]
        fn a_dump_imports_into_a_fresh_store_as_the_same_records() {
            $crate::conformance::run_with_second_store($factory, $crate::conformance::dump::a_dump_imports_into_a_fresh_store_as_the_same_records);
        }
        #[test]
        fn an_import_refuses_a_store_that_is_not_empty_or_records_out_of_order() {
            $crate::conformance::run_with_second_store(
                $factory,
                $crate::conformance::dump::an_import_refuses_a_store_that_is_not_empty_or_records_out_of_order,
            );
        }
        #[test]
        fn model_matches_reference_under_random_commands() {
            $crate::conformance::model::run_model_test($factory, $crate::conformance::model::ModelConfig::from_env());
        }
        #[test]
        fn concurrent_transfers_keep_invariants_and_apply_once() {
            $crate::conformance::run($factory, $crate::conformance::concurrency::concurrent_transfers_keep_invariants);
        }
        #[test]
        fn concurrent_replays_of_one_key_apply_once() {
            $crate::conformance::run($factory, $crate::conformance::concurrency::concurrent_replays_apply_once);
        }
        #[test]
        fn concurrent_withdrawals_never_overdraw() {
            $crate::conformance::run($factory, $crate::conformance::concurrency::concurrent_withdrawals_never_overdraw);
        }
    };
    (@cases $factory:path; $module:ident; $($case:ident),+ $(,)?) => {
        $(
            #[test]
            fn $case() {
                $crate::conformance::run($factory, $crate::conformance::$module::$case);
            }
        )+
    };
}
