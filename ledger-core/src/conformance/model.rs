//! The model test: random sequences of commands (valid, invalid and replayed)
//! run against a store and against a small reference model written from the
//! rules, not from the code. After every step the outcome, every balance and
//! status must agree with the model and the invariants must hold.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use chrono::Duration;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use rust_decimal::Decimal;

use super::{Harness, invariants, runtime};
use crate::account::{AccountKind, AccountStatus, NormalBalance};
use crate::account_code::AccountCode;
use crate::command::{
    CaptureHold, Deposit, Entry, EntryPosting, MoneyCommand, OpenAccount, OpenLedgerAccount, PlaceHold, Transfer,
    VoidHold, Withdraw,
};
use crate::error::LedgerError;
use crate::id::{AccountId, TransactionId, UserId};
use crate::idempotency::IdempotencyKey;
use crate::identity::Actor;
use crate::metadata::Metadata;
use crate::money::{Amount, Currency};
use crate::query::HistoryFilter;
use crate::store::Store;
use crate::transaction::TransactionStatus;

mod reference;

use reference::{Intent, Model, ModelAccount};

/// Conformance cases act as the embedding program itself.
const SYS: Actor = Actor::System;

/// How much random work the model test does.
#[derive(Debug, Clone, Copy)]
pub struct ModelConfig {
    /// Random command sequences to run (each on a fresh store).
    pub cases: u32,
    /// The longest sequence.
    pub steps_max: usize,
}

impl ModelConfig {
    /// 32 cases of up to 40 steps, or `LEDGER_MODEL_CASES` cases.
    pub fn from_env() -> ModelConfig {
        let cases = std::env::var("LEDGER_MODEL_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(32);
        ModelConfig { cases, steps_max: 40 }
    }
}

/// The model's customer accounts: 0-2 in USD, 3 in EUR.
const CURRENCIES: [Currency; 4] = [Currency::Usd, Currency::Usd, Currency::Usd, Currency::Eur];
const HOLD_TTL_SECS: i64 = 60;

/// The model's ledger accounts (indices 4 to 7 after the customer
/// accounts): code, currency, normal side, floor on that side (`None`:
/// unbounded). The FX accounts are unbounded sources of funds; escrow and
/// the float have floors entries run into.
const LEDGER_ACCOUNTS: [(&str, Currency, NormalBalance, Option<i64>); 4] = [
    ("fx:usd", Currency::Usd, NormalBalance::Debit, None),
    ("escrow", Currency::Usd, NormalBalance::Credit, Some(0)),
    ("fx:eur", Currency::Eur, NormalBalance::Debit, None),
    ("float:eur", Currency::Eur, NormalBalance::Credit, Some(-2000)),
];

/// Every model account of a currency, customer and ledger alike.
const USD_ACCOUNTS: [usize; 5] = [0, 1, 2, 4, 5];
const EUR_ACCOUNTS: [usize; 3] = [3, 6, 7];

/// The metadata values the model tags transactions with (`order` key).
const ORDERS: [&str; 2] = ["o-1", "o-2"];

/// One random step.
#[derive(Debug, Clone)]
pub enum Step {
    /// Deposit cents into an account.
    Deposit(usize, i64),
    /// Withdraw cents from an account.
    Withdraw(usize, i64),
    /// Transfer cents (maybe to itself, maybe across currencies).
    Transfer(usize, usize, i64),
    /// Hold cents, with or without an expiry.
    Hold(usize, i64, bool),
    /// Capture a known hold (index modulo), fully or some cents.
    Capture(usize, Option<i64>),
    /// Void a known hold (index modulo).
    Void(usize),
    /// Freeze an account.
    Freeze(usize),
    /// Unfreeze an account.
    Unfreeze(usize),
    /// Close an account.
    Close(usize),
    /// Send an earlier keyed command again with its key.
    Replay(usize),
    /// Reuse an earlier key with another payload.
    Conflict(usize),
    /// Deposit an amount finer than cents.
    TooPrecise(usize, i64),
    /// Move the clock (back too).
    Advance(i64),
    /// Sweep expired holds.
    ExpireHolds,
    /// An atomic batch of simple money steps.
    Batch(Vec<Step>),
    /// A general entry: postings (source, destination, cents, currency),
    /// tagged with an order or not.
    Entry(Vec<ModelPosting>, Option<usize>),
}

/// One posting a step asks for: accounts, cents, and whether its currency
/// is deliberately the other one (a mismatch).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModelPosting {
    source: usize,
    destination: usize,
    cents: i64,
    eur: bool,
    wrong_currency: bool,
}

fn posting() -> impl Strategy<Value = ModelPosting> {
    // Half the postings draw on the unbounded FX account, so entries
    // commit often; one in 30 names the same account twice or the wrong
    // currency, so those refusals happen too.
    let rare = || prop_oneof![29 => Just(false), 1 => Just(true)];
    let pick = (any::<bool>(), any::<bool>(), any::<usize>(), any::<usize>(), 1i64..=6000, rare(), rare());
    pick.prop_map(|(eur, from_fx, i, j, cents, same, wrong_currency)| {
        let accounts: &[usize] = if eur { &EUR_ACCOUNTS } else { &USD_ACCOUNTS };
        let fx = if eur { 6 } else { 4 };
        let source = if from_fx { fx } else { accounts[i % accounts.len()] };
        let others: Vec<usize> = accounts.iter().copied().filter(|a| *a != source).collect();
        let destination = if same { source } else { others[j % others.len()] };
        ModelPosting { source, destination, cents, eur, wrong_currency }
    })
}

fn entry_step() -> impl Strategy<Value = Step> {
    (proptest::collection::vec(posting(), 1..=5), proptest::option::of(0..ORDERS.len()))
        .prop_map(|(postings, order)| Step::Entry(postings, order))
}

fn simple_step() -> impl Strategy<Value = Step> {
    let account = 0usize..CURRENCIES.len();
    let cents = 1i64..=6000;
    prop_oneof![
        (account.clone(), cents.clone()).prop_map(|(a, c)| Step::Deposit(a, c)),
        (account.clone(), cents.clone()).prop_map(|(a, c)| Step::Withdraw(a, c)),
        (account.clone(), account.clone(), cents.clone()).prop_map(|(a, b, c)| Step::Transfer(a, b, c)),
        (account, cents, any::<bool>()).prop_map(|(a, c, e)| Step::Hold(a, c, e)),
        entry_step(),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    // Status changes reach ledger accounts too; money steps only customers'.
    let account = 0usize..CURRENCIES.len() + LEDGER_ACCOUNTS.len();
    let customer = 0usize..CURRENCIES.len();
    prop_oneof![
        10 => simple_step(),
        3 => entry_step(),
        2 => (any::<usize>(), proptest::option::of(1i64..=6000)).prop_map(|(h, c)| Step::Capture(h, c)),
        1 => any::<usize>().prop_map(Step::Void),
        1 => account.clone().prop_map(Step::Freeze),
        1 => account.clone().prop_map(Step::Unfreeze),
        1 => account.clone().prop_map(Step::Close),
        2 => any::<usize>().prop_map(Step::Replay),
        1 => any::<usize>().prop_map(Step::Conflict),
        1 => (customer, 1i64..=999).prop_map(|(a, m)| Step::TooPrecise(a, m)),
        // Back as well as forward: a clock behind the last commit (another
        // instance's) makes commits restamp to the head's time.
        1 => prop_oneof![Just(30i64), Just(HOLD_TTL_SECS + 1), Just(-45i64)].prop_map(Step::Advance),
        1 => Just(Step::ExpireHolds),
        1 => proptest::collection::vec(simple_step(), 2..=3).prop_map(Step::Batch),
    ]
}

fn cents(c: i64) -> Decimal {
    Decimal::new(c, 2)
}

fn amount(d: Decimal) -> Amount {
    Amount::new(d).expect("model amounts are positive and small")
}

/// Runs the model test on fresh stores from `factory`.
pub fn run_model_test<F, Fut>(factory: F, config: ModelConfig)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Option<Arc<dyn Store>>>,
{
    let rt = runtime();
    let mut runner = TestRunner::new(Config { cases: config.cases, failure_persistence: None, ..Config::default() });
    let strategy = proptest::collection::vec(step(), 1..=config.steps_max);
    let result = runner.run(&strategy, |steps| {
        rt.block_on(async {
            if let Some(store) = factory().await {
                run_steps(Harness::new(store).await, &steps).await;
            }
        });
        Ok(())
    });
    if let Err(failure) = result {
        panic!("model test failed: {failure}");
    }
}

/// A keyed command that was sent, for replays and conflicts.
struct Sent {
    key: IdempotencyKey,
    command: Vec<MoneyCommand>,
    intents: Vec<Intent>,
    /// The transactions it produced, if it committed (then the key is stored).
    committed: Option<Vec<TransactionId>>,
}

struct Run {
    h: Harness,
    model: Model,
    sent: Vec<Sent>,
    keys: usize,
}

async fn run_steps(h: Harness, steps: &[Step]) {
    let mut accounts = Vec::new();
    for currency in CURRENCIES {
        let command = OpenAccount::new(UserId::new(), AccountKind::Checking, currency);
        let account = h.ledger.open_account(&SYS, command).await.expect("opening a model account");
        accounts.push(ModelAccount {
            id: account.id,
            currency,
            status: AccountStatus::Active,
            posted: Decimal::ZERO,
            pending: Decimal::ZERO,
            normal: NormalBalance::Credit,
            floor: Some(Decimal::ZERO),
        });
    }
    for (code, currency, normal, floor) in LEDGER_ACCOUNTS {
        let floor = floor.map(cents);
        let code = AccountCode::parse(code).expect("model codes are valid");
        let command = OpenLedgerAccount { floor: Some(floor), ..OpenLedgerAccount::new(code, currency, normal) };
        let account = h.ledger.open_ledger_account(&SYS, command).await.expect("opening a model ledger account");
        accounts.push(ModelAccount {
            id: account.id,
            currency,
            status: AccountStatus::Active,
            posted: Decimal::ZERO,
            pending: Decimal::ZERO,
            normal,
            floor,
        });
    }
    let model = Model {
        accounts,
        settlement: HashMap::new(),
        holds: Vec::new(),
        now: h.ledger.now(),
        tagged: [0; ORDERS.len()],
    };
    let mut run = Run { h, model, sent: Vec::new(), keys: 0 };
    for (i, step) in steps.iter().enumerate() {
        run.step(step).await;
        run.compare(i, step).await;
    }
}

impl Run {
    fn fresh_key(&mut self) -> IdempotencyKey {
        self.keys += 1;
        IdempotencyKey::new(format!("model-{}", self.keys)).expect("valid key")
    }

    fn intent(&self, step: &Step) -> Option<Intent> {
        let holds = self.model.holds.len();
        Some(match *step {
            Step::Deposit(a, c) => Intent::Deposit(a, cents(c)),
            Step::Withdraw(a, c) => Intent::Withdraw(a, cents(c)),
            Step::Transfer(a, b, c) => Intent::Transfer(a, b, cents(c)),
            Step::Hold(a, c, e) => Intent::Hold(a, cents(c), e),
            Step::TooPrecise(a, m) => Intent::Deposit(a, Decimal::new(m * 10 + 1, 4)),
            Step::Capture(h, c) if holds > 0 => Intent::Capture(h % holds, c.map(cents)),
            Step::Void(h) if holds > 0 => Intent::Void(h % holds),
            Step::Entry(ref postings, order) => {
                Intent::Entry(postings.iter().map(|p| self.posting(p)).collect(), order)
            }
            _ => return None,
        })
    }

    /// A posting as the model sends it: in its accounts' currency, or
    /// deliberately in the other.
    fn posting(&self, p: &ModelPosting) -> (usize, usize, Decimal, Currency) {
        let currency = match p.eur != p.wrong_currency {
            true => Currency::Eur,
            false => Currency::Usd,
        };
        (p.source, p.destination, cents(p.cents), currency)
    }

    fn command(&self, intent: &Intent) -> MoneyCommand {
        let id = |a: usize| self.model.accounts[a].id;
        match *intent {
            Intent::Entry(ref postings, order) => {
                let postings = postings
                    .iter()
                    .map(|&(source, destination, d, currency)| EntryPosting {
                        source: id(source).into(),
                        destination: id(destination).into(),
                        amount: amount(d),
                        currency,
                    })
                    .collect();
                let metadata = order.map(|o| Metadata::new([("order", ORDERS[o])]).expect("model metadata is valid"));
                Entry { postings, description: None, metadata: metadata.unwrap_or_default() }.into()
            }
            Intent::Deposit(a, d) => {
                Deposit { account: id(a), amount: amount(d), description: None, metadata: Default::default() }.into()
            }
            Intent::Withdraw(a, d) => {
                Withdraw { account: id(a), amount: amount(d), description: None, metadata: Default::default() }.into()
            }
            Intent::Transfer(a, b, d) => Transfer {
                from: id(a),
                to: id(b).into(),
                amount: amount(d),
                description: None,
                metadata: Default::default(),
            }
            .into(),
            Intent::Hold(a, d, e) => PlaceHold {
                account: id(a),
                amount: amount(d),
                destination: None,
                expires_at: e.then(|| self.model.now + Duration::seconds(HOLD_TTL_SECS)),
                description: None,
                metadata: Default::default(),
            }
            .into(),
            Intent::Capture(h, c) => CaptureHold { hold: self.model.holds[h].id, amount: c.map(amount) }.into(),
            Intent::Void(h) => VoidHold { hold: self.model.holds[h].id }.into(),
        }
    }

    async fn step(&mut self, step: &Step) {
        match step {
            Step::Freeze(a) => self.status(*a, AccountStatus::Frozen).await,
            Step::Unfreeze(a) => self.status(*a, AccountStatus::Active).await,
            Step::Close(a) => self.status(*a, AccountStatus::Closed).await,
            Step::Advance(secs) => {
                self.h.clock.advance(Duration::seconds(*secs));
                self.model.now = self.h.ledger.now();
            }
            Step::ExpireHolds => self.expire().await,
            Step::Replay(i) if !self.sent.is_empty() => {
                let i = i % self.sent.len();
                let key = self.sent[i].key.clone();
                self.send(key, self.sent[i].intents.clone(), Some(i)).await;
            }
            Step::Conflict(i) if !self.sent.is_empty() => {
                let i = i % self.sent.len();
                let key = self.sent[i].key.clone();
                self.conflict(key, i).await;
            }
            Step::Batch(steps) => {
                let intents: Vec<Intent> = steps.iter().filter_map(|s| self.intent(s)).collect();
                let key = self.fresh_key();
                self.send(key, intents, None).await;
            }
            other => {
                if let Some(intent) = self.intent(other) {
                    let key = self.fresh_key();
                    self.send(key, vec![intent], None).await;
                }
            }
        }
    }

    async fn status(&mut self, a: usize, to: AccountStatus) {
        let expected = self.model.change_status(a, to);
        let id = self.model.accounts[a].id;
        let result = match to {
            AccountStatus::Frozen => self.h.ledger.freeze(&SYS, id).await,
            AccountStatus::Active => self.h.ledger.unfreeze(&SYS, id).await,
            AccountStatus::Closed => self.h.ledger.close(&SYS, id).await,
        };
        assert_eq!(result.map(|_| ()).map_err(|e| e.code()), expected, "status change of account {a} to {to:?}");
    }

    async fn expire(&mut self) {
        let now = self.model.now;
        let mut expected = 0;
        for h in 0..self.model.holds.len() {
            let hold = &self.model.holds[h];
            if hold.status == TransactionStatus::Pending && hold.expires_at.is_some_and(|e| e <= now) {
                self.model.apply(&Intent::Void(h), None).expect("a pending hold can be voided");
                expected += 1;
            }
        }
        assert_eq!(self.h.ledger.expire_holds(&SYS).await, Ok(expected), "expired holds swept");
    }

    /// Sends intents under a key (a batch when several), comparing with the model.
    async fn send(&mut self, key: IdempotencyKey, intents: Vec<Intent>, replay_of: Option<usize>) {
        if intents.is_empty() {
            return;
        }
        if let Some(i) = replay_of
            && let Some(ids) = self.sent[i].committed.clone()
        {
            let commands = self.sent[i].command.clone();
            let got = match self.execute(key, commands.clone()).await {
                Ok(got) => got,
                Err(e) => panic!("a replay of committed {commands:?} failed: {e}"),
            };
            assert!(got.1, "a replay must say it is one");
            assert_eq!(got.0, ids, "a replay returns the original transactions");
            return;
        }
        let commands: Vec<MoneyCommand> = intents.iter().map(|i| self.command(i)).collect();
        let expected = self.predict(&intents);
        let result = self.execute(key.clone(), commands.clone()).await;
        let committed = match (&result, &expected) {
            (Ok((ids, replayed)), Ok(model)) => {
                assert!(!replayed, "a fresh key is not a replay");
                self.model = model.clone();
                self.bind_hold_ids(&intents, ids);
                Some(ids.clone())
            }
            (Err(error), Err(code)) => {
                assert_eq!(error.root().code(), *code, "wrong rejection for {intents:?}: {error}");
                None
            }
            (got, want) => panic!(
                "ledger and model disagree on {intents:?}: ledger {:?}, model {:?}",
                got.as_ref().map(|_| "ok"),
                want.as_ref().map(|_| "ok")
            ),
        };
        match replay_of {
            // A key first refused is fresh again: what it now commits is the
            // command rebuilt above (a hold's expiry moves with the clock), and
            // later replays must send exactly that.
            Some(i) => {
                self.sent[i].committed = committed;
                self.sent[i].command = commands;
            }
            None => self.sent.push(Sent { key, command: commands, intents, committed }),
        }
    }

    /// Reuses key `i` for a payload no generated step produces: a deposit of
    /// 0.07 with a description.
    async fn conflict(&mut self, key: IdempotencyKey, i: usize) {
        let intent = Intent::Deposit(0, cents(7));
        let mut command = self.command(&intent);
        if let MoneyCommand::Deposit(d) = &mut command {
            d.description = Some("conflict".into());
        }
        if self.sent[i].committed.is_none() {
            // The key was never stored: this is a fresh command under it.
            let expected = self.predict(std::slice::from_ref(&intent));
            let result = self.execute(key.clone(), vec![command.clone()]).await;
            match (result, expected) {
                (Ok((ids, _)), Ok(model)) => {
                    self.model = model;
                    self.sent[i] = Sent { key, command: vec![command], intents: vec![intent], committed: Some(ids) };
                }
                (Err(e), Err(code)) => assert_eq!(e.root().code(), code),
                (got, want) => {
                    panic!("ledger and model disagree on a reused key: {:?} vs {:?}", got.is_ok(), want.is_ok())
                }
            }
            return;
        }
        let same_payload = self.sent[i].command == [command.clone()];
        let result = self.execute(key, vec![command]).await;
        if same_payload {
            assert_eq!(result.map(|r| r.1), Ok(true), "the same payload under its key is a replay");
        } else {
            assert_eq!(result.map(|_| ()).map_err(|e| e.code()), Err("idempotency_conflict"));
        }
    }

    /// The model after the intents, or the first error's code (validation of
    /// every command precedes any state guard).
    fn predict(&self, intents: &[Intent]) -> Result<Model, &'static str> {
        for intent in intents {
            self.model.static_error(intent)?;
        }
        let mut model = self.model.clone();
        for intent in intents {
            model.apply(intent, None)?;
        }
        Ok(model)
    }

    /// The model learns the ids of holds it placed.
    fn bind_hold_ids(&mut self, intents: &[Intent], ids: &[TransactionId]) {
        let new_holds = intents.iter().zip(ids).filter(|(i, _)| matches!(i, Intent::Hold(..))).map(|(_, id)| *id);
        let placed: Vec<TransactionId> = new_holds.collect();
        let first = self.model.holds.len() - placed.len();
        for (hold, id) in self.model.holds[first..].iter_mut().zip(placed) {
            hold.id = id;
        }
    }

    async fn execute(
        &self,
        key: IdempotencyKey,
        mut commands: Vec<MoneyCommand>,
    ) -> Result<(Vec<TransactionId>, bool), LedgerError> {
        if commands.len() == 1 {
            let command = commands.remove(0);
            return self.h.ledger.execute(&SYS, key, command).await.map(|r| (vec![r.transaction.id], r.replayed));
        }
        let receipt = self.h.ledger.execute_batch(&SYS, key, commands).await?;
        Ok((receipt.transactions.iter().map(|t| t.id).collect(), receipt.replayed))
    }

    /// History by metadata agrees with the model's count and with the
    /// reference semantics over all history.
    async fn compare_tags(&self, i: usize) {
        let everything = invariants::all_transactions(&self.h.ledger, &HistoryFilter::default()).await;
        for (o, order) in ORDERS.iter().enumerate() {
            let filter =
                HistoryFilter { metadata: vec![("order".into(), (*order).into())], ..HistoryFilter::default() };
            let got = invariants::all_transactions(&self.h.ledger, &filter).await;
            let reference: Vec<_> = everything.iter().filter(|t| filter.matches(t)).cloned().collect();
            assert_eq!(got, reference, "after step {i}: history by metadata differs from the reference");
            assert_eq!(got.len(), self.model.tagged[o], "after step {i}: transactions tagged {order}");
        }
    }

    async fn compare(&self, i: usize, step: &Step) {
        self.compare_tags(i).await;
        for (a, expected) in self.model.accounts.iter().enumerate() {
            let got = self.h.ledger.account(&SYS, expected.id).await.expect("model account exists");
            let context = format!("after step {i} ({step:?}), account {a}");
            assert_eq!(got.status, expected.status, "{context}: status");
            assert_eq!(got.balance.posted, expected.posted, "{context}: posted");
            assert_eq!(got.balance.pending, expected.pending, "{context}: pending");
        }
        for (currency, expected) in &self.model.settlement {
            let got = self.h.ledger.balance(&SYS, AccountId::settlement(*currency)).await.expect("settlement");
            // The model keeps balances credit-positive; settlement reports debit-normal.
            assert_eq!(got.posted, -*expected, "after step {i}: {currency} settlement");
        }
        for hold in &self.model.holds {
            let got = self.h.ledger.transaction(&SYS, hold.id).await.expect("model hold exists");
            assert_eq!(got.status, hold.status, "after step {i}: hold {}", hold.id);
        }
        invariants::check(&self.h.ledger).await;
    }
}
