//! The operator commands of the real binary (`admin create`, `admin kyc`,
//! `verify`) on SQLite and PostgreSQL, beside a serving instance.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use axum::http::StatusCode;
use serde_json::json;

use crate::common::{Client, FreshDatabase, PASSWORD, Server, unique};

/// Runs `ledger-http <args>` with `stdin` piped in; its output.
fn operator(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ledger-http"))
        .args(args)
        .env_remove("LEDGER_STORAGE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_commands_work_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let storage = format!("sqlite:{}", dir.path().join("ledger.db").display());
    operator_commands(&storage).await;
    tamper_and_verify_sqlite(&storage, &dir.path().join("ledger.db")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_commands_work_on_postgres() {
    let Ok(admin_url) = std::env::var("LEDGER_TEST_POSTGRES_URL") else {
        eprintln!("skipped: operator commands on PostgreSQL (set LEDGER_TEST_POSTGRES_URL to run)");
        return;
    };
    let db = FreshDatabase::create(&admin_url).await;
    operator_commands(&db.url).await;
    tamper_and_verify_postgres(&db.url).await;
    db.drop_database().await;
}

/// An admin created from the command line signs in to the service; KYC is
/// decided from the command line; verify passes on the populated store.
async fn operator_commands(storage: &str) {
    let admin = format!("root-{}@example.com", unique());
    let created = operator(&["admin", "create", "--email", &admin, "--storage", storage], &format!("{PASSWORD}\n"));
    assert!(created.status.success(), "{}", stderr(&created));
    assert!(stdout(&created).contains("is ready"), "{}", stdout(&created));
    let again = operator(&["admin", "create", "--email", &admin, "--storage", storage], &format!("{PASSWORD}\n"));
    assert!(again.status.success(), "creating an existing admin again is fine: {}", stderr(&again));
    // Refusals: no password, a weak one; nothing is created.
    let other = format!("other-{}@example.com", unique());
    let empty = operator(&["admin", "create", "--email", &other, "--storage", storage], "");
    assert_eq!(empty.status.code(), Some(2));
    assert!(stderr(&empty).contains("no password"), "{}", stderr(&empty));
    let weak = operator(&["admin", "create", "--email", &other, "--storage", storage], "short\n");
    assert_eq!(weak.status.code(), Some(2));
    assert!(stderr(&weak).contains("password"), "{}", stderr(&weak));

    let server = Server::start(&["--storage", storage, "--rate-limit-per-second", "0"], &[]);
    let client = Client::http(&server.url, &admin);
    let signed_in = client.admin().await;
    let no_weak_admin = client.post("/api/auth/login").json(json!({"email": other, "password": "short"})).send().await;
    assert_eq!(no_weak_admin.status, StatusCode::UNAUTHORIZED);

    let (alice_email, bob_email) = (client.email("alice"), client.email("bob"));
    let (alice, bob) = (client.user(&alice_email).await, client.user(&bob_email).await);
    for user in [&alice, &bob] {
        client.complete_profile(user).await;
        let r = client.post("/api/me/kyc").bearer(user).send().await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    }
    let approved = operator(&["admin", "kyc", "approve", "--email", &alice_email, "--storage", storage], "");
    assert!(approved.status.success(), "{}", stderr(&approved));
    let reason = "the document is unreadable";
    let rejected =
        operator(&["admin", "kyc", "reject", "--email", &bob_email, "--reason", reason, "--storage", storage], "");
    assert!(rejected.status.success(), "{}", stderr(&rejected));
    assert_eq!(client.get("/api/me").bearer(&alice).send().await.json()["kyc_status"], "verified");
    assert_eq!(client.get("/api/me").bearer(&bob).send().await.json()["kyc_status"], "rejected");
    let again = operator(&["admin", "kyc", "approve", "--email", &alice_email, "--storage", storage], "");
    assert_eq!(again.status.code(), Some(2), "a verified customer has nothing pending");
    let nobody = operator(&["admin", "kyc", "approve", "--email", "nobody@example.com", "--storage", storage], "");
    assert_eq!(nobody.status.code(), Some(2));
    assert!(stderr(&nobody).contains("not found"), "{}", stderr(&nobody));

    // Money in the store, then a clean bill of health.
    let (account, _) = client.account(&alice, "USD").await;
    let r = client.deposit(&alice, &account, "125.50", "op-d1").await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let audit = client.get("/api/audit?limit=10").bearer(&signed_in).send().await;
    assert_eq!(audit.status, StatusCode::OK);
    let verified = operator(&["verify", "--storage", storage], "");
    assert!(verified.status.success(), "{}{}", stdout(&verified), stderr(&verified));
    assert!(stdout(&verified).contains("OK: the store is sound"), "{}", stdout(&verified));
    assert!(stdout(&verified).contains("audit chain: verified"), "{}", stdout(&verified));
    assert!(server.terminate().success());
}

/// A balance changed behind the ledger's back is found and named.
async fn tamper_and_verify_sqlite(storage: &str, path: &std::path::Path) {
    use sqlx::Connection;
    let url = format!("sqlite:{}", path.display());
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query("UPDATE accounts SET posted = '999.00' WHERE kind = 'checking'").execute(&mut conn).await.unwrap();
    conn.close().await.unwrap();
    assert_tamper_found(storage);
}

async fn tamper_and_verify_postgres(url: &str) {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    sqlx::query("UPDATE accounts SET posted = 999 WHERE kind = 'checking'").execute(&mut conn).await.unwrap();
    conn.close().await.unwrap();
    assert_tamper_found(url);
}

fn assert_tamper_found(storage: &str) {
    let verified = operator(&["verify", "--storage", storage], "");
    let out = stdout(&verified);
    assert_eq!(verified.status.code(), Some(1), "{out}{}", stderr(&verified));
    assert!(out.contains("but its postings sum to 125.50"), "{out}");
    assert!(out.contains("USD balances sum to"), "{out}");
    assert!(out.contains("FAILED"), "{out}");
}

/// `--config` sets what flags do not; `config print` shows the effective
/// settings with secrets masked; an unknown key stops the start, named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_config_file_configures_the_service_and_config_print_masks_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("from-file.db");
    let file = dir.path().join("ledger.toml");
    let storage = format!("sqlite:{}", db.display());
    std::fs::write(&file, format!("storage = \"{storage}\"\nrate_limit_per_second = 0\nwebhook-secret = \"s3cret\"\n"))
        .unwrap();
    let file_arg = file.display().to_string();
    let server = Server::start(&["--config", &file_arg], &[]);
    let health: serde_json::Value = reqwest::get(format!("{}/health", server.url)).await.unwrap().json().await.unwrap();
    assert_eq!(health["storage"], "sqlite", "{health}");
    assert!(db.is_file(), "the store the file names was created");
    assert!(server.terminate().success());

    let printed = operator(&["config", "print", "--config", &file_arg, "--group-commit-max", "7"], "");
    assert!(printed.status.success(), "{}", stderr(&printed));
    let out = stdout(&printed);
    assert!(out.contains(&format!("storage = \"{storage}\"")), "{out}");
    assert!(out.contains("group-commit-max = \"7\""), "the flag wins: {out}");
    assert!(out.contains("rate-limit-per-second = \"0\""), "{out}");
    assert!(out.contains("webhook-secret = \"********\"") && !out.contains("s3cret"), "{out}");

    std::fs::write(&file, "storage = \"memory:\"\nbindd = \"127.0.0.1:1\"\n").unwrap();
    let refused = operator(&["--config", &file_arg], "");
    assert_eq!(refused.status.code(), Some(2));
    assert!(stderr(&refused).contains("unknown key `bindd`"), "{}", stderr(&refused));
}

/// With `OTEL_EXPORTER_OTLP_ENDPOINT` set, one deposit's trace reaches an
/// OTLP/HTTP receiver: the request's span (with its request id), the
/// ledger's command span under it and the storage call under that.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deposit_is_traced_from_http_through_the_ledger_to_storage_over_otlp() {
    use std::sync::{Arc, Mutex};
    let received: Arc<Mutex<Vec<serde_json::Value>>> = Arc::default();
    let sink = received.clone();
    let receiver = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |body: axum::body::Bytes| {
            let sink = sink.clone();
            async move {
                if let Ok(json) = serde_json::from_slice::<serde_json::Value>(&body) {
                    sink.lock().unwrap().push(json);
                }
                "{}"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, receiver).await });

    let dir = tempfile::tempdir().unwrap();
    let storage = format!("sqlite:{}", dir.path().join("ledger.db").display());
    let envs = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
    ];
    let server = Server::start(&["--storage", &storage, "--rate-limit-per-second", "0"], &envs);
    let client = Client::http(&server.url, "nobody@example.com");
    let alice = client.user(&client.email("alice")).await;
    let (account, _) = client.account(&alice, "USD").await;
    let deposit = client.deposit(&alice, &account, "10", "otel-1").await;
    assert_eq!(deposit.status, StatusCode::CREATED, "{}", deposit.text());
    let request_id = deposit.header("x-request-id").unwrap().to_owned();

    // Spans: (trace id, span id, parent span id, name, request id attribute).
    let spans = || -> Vec<(String, String, String, String, Option<String>)> {
        let mut all = Vec::new();
        for body in received.lock().unwrap().iter() {
            for resource in body["resourceSpans"].as_array().into_iter().flatten() {
                for scope in resource["scopeSpans"].as_array().into_iter().flatten() {
                    for span in scope["spans"].as_array().into_iter().flatten() {
                        let text = |k: &str| span[k].as_str().unwrap_or_default().to_owned();
                        let request_id = span["attributes"].as_array().into_iter().flatten().find_map(|a| {
                            (a["key"] == "request_id")
                                .then(|| a["value"]["stringValue"].as_str().unwrap_or("").to_owned())
                        });
                        all.push((text("traceId"), text("spanId"), text("parentSpanId"), text("name"), request_id));
                    }
                }
            }
        }
        all
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let (request, command, storage_span) = loop {
        let all = spans();
        let request = all.iter().find(|s| s.3 == "request" && s.4.as_deref() == Some(request_id.as_str())).cloned();
        if let Some(request) = request {
            let command = all.iter().find(|s| s.3 == "ledger.execute" && s.0 == request.0).cloned();
            let storage = all.iter().find(|s| s.3 == "storage.apply" && s.0 == request.0).cloned();
            if let (Some(command), Some(storage)) = (command, storage) {
                break (request, command, storage);
            }
        }
        assert!(std::time::Instant::now() < deadline, "no complete trace of the deposit arrived: {all:?}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(command.2, request.1, "the command span is the request's child");
    assert_eq!(storage_span.2, command.1, "the storage span is the command's child");
    assert!(server.terminate().success());
}
