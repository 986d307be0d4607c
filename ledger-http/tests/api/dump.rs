//! `export` and `import` of the real binary: a ledger populated in memory
//! moves to sled, then SQLite, then PostgreSQL, each copy verifying and
//! dumping the same records; a truncated, altered or unknown-version file,
//! or a store that is not empty, is refused and nothing is imported.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use ledger_core::conformance::Harness;
use ledger_core::{MemoryStore, Store};

use crate::common::FreshDatabase;

/// Runs `ledger-http <args>`; its output.
fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ledger-http"))
        .args(args)
        .env_remove("LEDGER_STORAGE")
        .output()
        .expect("the binary runs")
}

fn said(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// A populated ledger in memory, dumped in process (a memory store dies
/// with its process, so no binary could export it).
async fn memory_dump(to: &Path) {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let h = Harness::new(store.clone()).await;
    ledger_core::conformance::dump::populate(&h).await;
    ledger_http::dump_file::export(store, to).await.expect("exporting the memory store");
}

fn import(storage: &str, from: &Path) -> Output {
    run(&["import", "--from", &from.display().to_string(), "--storage", storage])
}

fn export(storage: &str, to: &Path) -> Output {
    run(&["export", "--to", &to.display().to_string(), "--storage", storage])
}

/// Imports into a new store, checks the report, verifies, exports again.
fn import_verify_export(storage: &str, from: &Path, to: &Path) {
    let imported = import(storage, from);
    assert!(imported.status.success(), "{}", said(&imported));
    assert!(said(&imported).contains("OK: the store is sound"), "{}", said(&imported));
    let verified = run(&["verify", "--storage", storage]);
    assert!(verified.status.success(), "{}", said(&verified));
    let exported = export(storage, to);
    assert!(exported.status.success(), "{}", said(&exported));
    assert!(said(&exported).contains("OK: the dump is complete"), "{}", said(&exported));
}

/// The record lines of a dump: all but the header and the trailer (which
/// name the source and hash the header).
fn records(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() > 50, "a populated ledger: {} lines", lines.len());
    lines[1..lines.len() - 1].iter().map(|l| l.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ledger_moves_from_memory_to_sled_to_sqlite_to_postgres_record_for_record() {
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str| dir.path().join(name);
    memory_dump(&file("memory.jsonl")).await;
    let sled = format!("sled:{}", file("sled").display());
    import_verify_export(&sled, &file("memory.jsonl"), &file("sled.jsonl"));
    let sqlite = format!("sqlite:{}", file("ledger.db").display());
    import_verify_export(&sqlite, &file("sled.jsonl"), &file("sqlite.jsonl"));
    let expected = records(&file("memory.jsonl"));
    assert_eq!(records(&file("sled.jsonl")), expected, "sled dumps what memory did");
    assert_eq!(records(&file("sqlite.jsonl")), expected, "SQLite dumps what memory did");
    let Ok(admin_url) = std::env::var("LEDGER_TEST_POSTGRES_URL") else {
        eprintln!("skipped: the PostgreSQL leg of the round trip (set LEDGER_TEST_POSTGRES_URL to run)");
        return;
    };
    let db = FreshDatabase::create(&admin_url).await;
    import_verify_export(&db.url, &file("sqlite.jsonl"), &file("postgres.jsonl"));
    assert_eq!(records(&file("postgres.jsonl")), expected, "PostgreSQL dumps what memory did");
    db.drop_database().await;
}

/// A copy of `from` changed by `change`, at `to`.
fn altered(from: &Path, to: PathBuf, change: impl FnOnce(&mut Vec<u8>)) -> PathBuf {
    let mut bytes = std::fs::read(from).unwrap();
    change(&mut bytes);
    std::fs::write(&to, bytes).unwrap();
    to
}

/// One digit of the first amount changed: still a valid record.
fn change_an_amount(bytes: &mut [u8]) {
    let needle = b"\"amount\":\"";
    let at = bytes.windows(needle.len()).position(|w| w == needle).expect("an amount") + needle.len();
    bytes[at] = if bytes[at] == b'9' { b'8' } else { bytes[at] + 1 };
}

/// Bad files and a store that is not empty, refused by the binary with a
/// clear message; the target imports nothing.
async fn refusals(storage: &str, dir: &Path) {
    let good = dir.join("good.jsonl");
    memory_dump(&good).await;
    let length = std::fs::metadata(&good).unwrap().len() as usize;
    let cases = [
        (altered(&good, dir.join("cut.jsonl"), |b| b.truncate(length / 2)), "truncated"),
        (
            altered(&good, dir.join("cut-at-line.jsonl"), |b| {
                let end = b[..b.len() - 1].iter().rposition(|c| *c == b'\n').unwrap();
                b.truncate(end + 1);
            }),
            "truncated",
        ),
        (altered(&good, dir.join("altered.jsonl"), |b| change_an_amount(b)), "altered"),
        (
            altered(&good, dir.join("v2.jsonl"), |b| {
                let text = String::from_utf8(b.clone()).unwrap().replacen("\"version\":1", "\"version\":2", 1);
                *b = text.into_bytes();
            }),
            "version 2 is not supported",
        ),
    ];
    for (file, message) in cases {
        let refused = import(storage, &file);
        assert_eq!(refused.status.code(), Some(2), "{}", said(&refused));
        assert!(said(&refused).contains(message), "{message}: {}", said(&refused));
        let empty = dir.join(format!("empty-{}.jsonl", crate::common::unique()));
        let exported = export(storage, &empty);
        assert!(exported.status.success(), "{}", said(&exported));
        assert!(said(&exported).contains("0 records"), "nothing was imported: {}", said(&exported));
    }
    let imported = import(storage, &good);
    assert!(imported.status.success(), "{}", said(&imported));
    let again = import(storage, &good);
    assert_eq!(again.status.code(), Some(2), "{}", said(&again));
    assert!(said(&again).contains("not empty"), "{}", said(&again));
    let exists = export(storage, &good);
    assert_eq!(exists.status.code(), Some(2), "{}", said(&exists));
    assert!(said(&exists).contains("already exists"), "{}", said(&exists));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_refuses_bad_dumps_and_full_stores_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let storage = format!("sqlite:{}", dir.path().join("target.db").display());
    refusals(&storage, dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_refuses_bad_dumps_and_full_stores_on_postgres() {
    let Ok(admin_url) = std::env::var("LEDGER_TEST_POSTGRES_URL") else {
        eprintln!("skipped: dump refusals on PostgreSQL (set LEDGER_TEST_POSTGRES_URL to run)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = FreshDatabase::create(&admin_url).await;
    refusals(&db.url, dir.path()).await;
    db.drop_database().await;
}
