//! The cargo-fuzz targets' bodies (`fuzz/src/lib.rs`), run by every
//! `cargo test` over the committed seed corpus and over random inputs, so a
//! regression in a parser's properties fails CI without libFuzzer.

use std::path::PathBuf;

use proptest::prelude::*;

#[path = "../../../fuzz/src/lib.rs"]
mod targets;

/// The seed inputs committed for one target (`fuzz/corpus/<target>/`).
fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus").join(target);
    let mut seeds: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .map(|path| {
            let bytes = std::fs::read(&path).unwrap();
            (path, bytes)
        })
        .collect();
    seeds.sort();
    assert!(seeds.len() >= 5, "{target}: the seed corpus is missing ({})", dir.display());
    seeds
}

fn run_corpus(target: &str, body: fn(&[u8])) {
    for (path, bytes) in corpus(target) {
        let outcome = std::panic::catch_unwind(|| body(&bytes));
        assert!(outcome.is_ok(), "{target} panicked on {}", path.display());
    }
}

#[test]
fn amount_parse_holds_its_properties_on_the_seed_corpus() {
    run_corpus("amount_parse", targets::amount_parse);
}

#[test]
fn account_number_holds_its_properties_on_the_seed_corpus() {
    run_corpus("account_number", targets::account_number);
}

#[test]
fn command_json_holds_its_properties_on_the_seed_corpus() {
    run_corpus("command_json", targets::command_json);
}

/// Texts near the grammar: digits, dots, signs, spaces, exponents.
fn amount_like() -> impl Strategy<Value = String> {
    prop_oneof!["[0-9]{1,14}(\\.[0-9]{0,6})?", "[-+ 0-9.eE,]{0,34}", any::<String>(),]
}

/// Twelve digits, sometimes with valid check digits, spaces or a stray character.
fn number_like() -> impl Strategy<Value = String> {
    prop_oneof![
        (1_000_000_000u64..10_000_000_000).prop_map(|body| format!("{:012}", body * 100 + 98 - (body * 100) % 97)),
        "[0-9 ]{10,16}",
        any::<String>(),
    ]
}

/// Money bodies with random field values, as JSON text.
fn body_like() -> impl Strategy<Value = String> {
    let uuid = prop_oneof![Just("0190f5c2-0000-7000-8000-000000000001".to_owned()), "[0-9a-f-]{0,40}"];
    let field = prop_oneof![
        amount_like().prop_map(serde_json::Value::from),
        number_like().prop_map(serde_json::Value::from),
        uuid.prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        Just(serde_json::Value::Null),
    ];
    let name = prop_oneof![
        Just("account_id"),
        Just("from_account_id"),
        Just("to_account_id"),
        Just("to_account_number"),
        Just("amount"),
        Just("description"),
        Just("expires_at"),
        Just("type"),
    ];
    prop::collection::btree_map(name, field, 0..6).prop_map(|fields| {
        serde_json::Value::Object(fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()).to_string()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn amount_parse_never_panics_and_round_trips(text in amount_like()) {
        targets::amount_parse(text.as_bytes());
    }

    #[test]
    fn account_number_never_panics_and_catches_one_wrong_digit(text in number_like()) {
        targets::account_number(text.as_bytes());
    }

    #[test]
    fn command_json_never_panics_on_money_bodies(json in body_like()) {
        targets::command_json(json.as_bytes());
    }

    #[test]
    fn command_json_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        targets::command_json(&bytes);
    }
}
