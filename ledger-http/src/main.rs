//! `ledger-http`: the HTTP service. The API arrives with the ledger-http issue;
//! until then this binary only reports that it is not built yet and exits non-zero.

fn main() -> std::process::ExitCode {
    eprintln!("ledger-http: the HTTP service is not built yet; run `cargo run --example quickstart`");
    std::process::ExitCode::FAILURE
}
