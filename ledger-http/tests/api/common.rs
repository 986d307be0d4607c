//! A test harness: a [`Client`] that drives either the in-process router
//! (`tower::ServiceExt::oneshot`) or a real `ledger-http` binary over HTTP
//! ([`Server`]), so the same scenarios run against both.

use std::io::{BufRead, BufReader};
use std::ops::Deref;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, Request, StatusCode};
use chrono::{DateTime, Utc};
use http_body_util::BodyExt;
use ledger_core::identity::{Email, Notifier, SecretToken};
use ledger_core::{MemoryStore, Registration, Store};
use ledger_http::state::WebhookSecret;
use ledger_http::{AppState, AppStateBuilder, app};
use serde_json::{Value, json};
use tower::ServiceExt;

pub const PASSWORD: &str = "correct horse battery staple";
pub const ADMIN_EMAIL: &str = "admin@example.com";
pub const WEBHOOK_SECRET: &str = "whsec_test_secret";

/// Captures password-reset tokens instead of sending them.
#[derive(Default)]
pub struct CapturingNotifier {
    pub tokens: Mutex<Vec<(String, String)>>,
}

#[async_trait]
impl Notifier for CapturingNotifier {
    async fn send_password_reset(&self, to: &Email, token: &SecretToken, _expires_at: DateTime<Utc>) {
        self.tokens.lock().unwrap().push((to.as_str().to_owned(), token.expose().to_owned()));
    }
}

/// The in-process app: its router, state and captured notifications, and a
/// [`Client`] over the router (`app.post(..)` etc. through `Deref`).
pub struct TestApp {
    pub router: Router,
    pub state: AppState,
    pub notifier: Arc<CapturingNotifier>,
    client: Client,
}

impl Deref for TestApp {
    type Target = Client;

    fn deref(&self) -> &Client {
        &self.client
    }
}

impl TestApp {
    /// Memory store, fast hashing, a webhook secret, an admin.
    pub async fn new() -> TestApp {
        TestApp::with(|b| b).await
    }

    pub async fn with(configure: impl FnOnce(AppStateBuilder) -> AppStateBuilder) -> TestApp {
        TestApp::on_store(Arc::new(MemoryStore::new()), configure).await
    }

    pub async fn on_store(
        store: Arc<dyn Store>,
        configure: impl FnOnce(AppStateBuilder) -> AppStateBuilder,
    ) -> TestApp {
        let notifier = Arc::new(CapturingNotifier::default());
        let builder = AppState::builder(store)
            .insecure_fast_password_hashing()
            .notifier(notifier.clone())
            .webhook_secret(WebhookSecret::new(WEBHOOK_SECRET));
        let state = configure(builder).build().await.unwrap();
        let admin = Registration { email: ADMIN_EMAIL.into(), password: PASSWORD.into(), full_name: "Admin".into() };
        state.ledger().bootstrap_admin(admin).await.unwrap();
        let router = app(state.clone());
        let client = Client {
            transport: Transport::Router(router.clone()),
            admin_email: ADMIN_EMAIL.to_owned(),
            email_suffix: String::new(),
        };
        TestApp { router, state, notifier, client }
    }
}

enum Transport {
    Router(Router),
    Http { base: String, client: reqwest::Client },
}

/// Sends requests and runs the common steps (register, log in, verify, ...).
pub struct Client {
    transport: Transport,
    admin_email: String,
    /// Appended to the local part of the emails of [`Client::email`], so many
    /// runs can share one database.
    email_suffix: String,
}

impl Client {
    /// A client of the binary at `base` (`http://host:port`), whose admin
    /// `admin_email` has the password [`PASSWORD`]. Users get unique emails.
    pub fn http(base: &str, admin_email: &str) -> Client {
        let client = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().unwrap();
        Client {
            transport: Transport::Http { base: base.trim_end_matches('/').to_owned(), client },
            admin_email: admin_email.to_owned(),
            email_suffix: format!("-{}", unique()),
        }
    }

    /// `name@example.com`, made unique per client against a real binary.
    pub fn email(&self, name: &str) -> String {
        format!("{name}{}@example.com", self.email_suffix)
    }

    pub fn call(&self, method: Method, path: &str) -> Call<'_> {
        Call { client: self, request: Request::builder().method(method).uri(path), body: Bytes::new() }
    }

    pub fn get(&self, path: &str) -> Call<'_> {
        self.call(Method::GET, path)
    }

    pub fn post(&self, path: &str) -> Call<'_> {
        self.call(Method::POST, path)
    }

    /// Registers and logs in; returns the session.
    pub async fn user(&self, email: &str) -> User {
        let r = self
            .post("/api/auth/register")
            .json(json!({"email": email, "password": PASSWORD, "full_name": "Test User"}))
            .send()
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        self.login(email).await
    }

    pub async fn login(&self, email: &str) -> User {
        let r = self.post("/api/auth/login").json(json!({"email": email, "password": PASSWORD})).send().await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let body = r.json();
        User {
            token: body["token"].as_str().unwrap().to_owned(),
            csrf: body["csrf_token"].as_str().unwrap().to_owned(),
            id: body["user"]["id"].as_str().unwrap().to_owned(),
            session: body["session"]["id"].as_str().unwrap().to_owned(),
        }
    }

    pub async fn admin(&self) -> User {
        self.login(&self.admin_email).await
    }

    /// Fills in what a KYC reviewer needs (date of birth, address).
    pub async fn complete_profile(&self, user: &User) {
        let profile = json!({"date_of_birth": "1990-01-01", "address": "1 Main Street"});
        let r = self.call(Method::PATCH, "/api/me").bearer(user).json(profile).send().await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    }

    /// Completes the profile, submits KYC as the user and approves it as the admin.
    pub async fn verify(&self, user: &User) {
        self.complete_profile(user).await;
        let r = self.post("/api/me/kyc").bearer(user).send().await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let admin = self.admin().await;
        let r = self
            .post(&format!("/api/admin/users/{}/kyc", user.id))
            .bearer(&admin)
            .json(json!({"decision": "verified"}))
            .send()
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        assert_eq!(r.json()["kyc_status"], "verified");
    }

    /// Opens a checking account in `currency`; returns (id, number).
    pub async fn account(&self, user: &User, currency: &str) -> (String, String) {
        let r = self
            .post("/api/accounts")
            .bearer(user)
            .json(json!({"kind": "checking", "currency": currency}))
            .send()
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        let body = r.json();
        (body["id"].as_str().unwrap().to_owned(), body["number"].as_str().unwrap().to_owned())
    }

    pub async fn deposit(&self, user: &User, account: &str, amount: &str, key: &str) -> TestResponse {
        self.post("/api/transactions/deposits")
            .bearer(user)
            .key(key)
            .json(json!({"account_id": account, "amount": amount}))
            .send()
            .await
    }

    pub async fn available(&self, user: &User, account: &str) -> String {
        let r = self.get(&format!("/api/accounts/{account}/balance")).bearer(user).send().await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        r.json()["available"].as_str().unwrap().to_owned()
    }
}

#[derive(Debug, Clone)]
pub struct User {
    pub token: String,
    pub csrf: String,
    pub id: String,
    pub session: String,
}

pub struct Call<'a> {
    client: &'a Client,
    request: axum::http::request::Builder,
    body: Bytes,
}

impl Call<'_> {
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.request = self.request.header(name, value);
        self
    }

    pub fn bearer(self, user: &User) -> Self {
        let value = format!("Bearer {}", user.token);
        self.header("authorization", &value)
    }

    pub fn key(self, key: &str) -> Self {
        self.header("idempotency-key", key)
    }

    pub fn json(mut self, value: Value) -> Self {
        self.request = self.request.header("content-type", "application/json");
        self.body = Bytes::from(value.to_string());
        self
    }

    pub fn raw(mut self, content_type: Option<&str>, body: impl Into<Bytes>) -> Self {
        if let Some(ct) = content_type {
            self.request = self.request.header("content-type", ct);
        }
        self.body = body.into();
        self
    }

    pub fn request(self) -> Request<Body> {
        self.request.body(Body::from(self.body)).unwrap()
    }

    pub async fn send(self) -> TestResponse {
        match &self.client.transport {
            Transport::Router(router) => {
                let response = router.clone().oneshot(self.request()).await.unwrap();
                let status = response.status();
                let headers = response.headers().clone();
                let body = response.into_body().collect().await.unwrap().to_bytes();
                TestResponse { status, headers, body }
            }
            Transport::Http { base, client } => {
                let (parts, body) = self.request.body(self.body).unwrap().into_parts();
                let url = format!("{base}{}", parts.uri);
                let response =
                    client.request(parts.method, url).headers(parts.headers).body(body).send().await.unwrap();
                let status = response.status();
                let headers = response.headers().clone();
                let body = response.bytes().await.unwrap();
                TestResponse { status, headers, body }
            }
        }
    }
}

#[derive(Debug)]
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl TestResponse {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts an RFC 9457 problem with this status and code.
    #[track_caller]
    pub fn assert_problem(&self, status: StatusCode, code: &str) -> Value {
        assert_eq!(self.status, status, "{}", self.text());
        assert_eq!(self.header("content-type"), Some("application/problem+json"), "{}", self.text());
        let body = self.json();
        assert_eq!(body["code"], code, "{body}");
        assert_eq!(body["status"], status.as_u16());
        assert!(body["type"].as_str().is_some() && body["title"].as_str().is_some(), "{body}");
        assert_eq!(body["request_id"].as_str(), self.header("x-request-id"), "{body}");
        body
    }
}

/// A valid account number that no account has (check digits computed).
pub fn unused_account_number() -> String {
    account_number_with_body(9_876_543_210)
}

/// The account number with this body and its ISO 7064 MOD 97-10 check digits.
pub fn account_number_with_body(body: u64) -> String {
    let check = 98 - (body * 100) % 97;
    format!("{:012}", body * 100 + check)
}

/// Unique per call within and across processes (time in nanoseconds and a counter).
pub fn unique() -> String {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{nanos}{n}")
}

/// The real `ledger-http` binary, started on a free port; killed on drop.
pub struct Server {
    child: Child,
    pub url: String,
}

impl Server {
    /// Starts the binary with `args` and `envs` (and no `LEDGER_STORAGE`
    /// but the one `envs` may give).
    pub fn start(args: &[&str], envs: &[(&str, &str)]) -> Server {
        Server::start_in(None, args, envs)
    }

    /// [`Server::start`] in the working directory `cwd`.
    pub fn start_in(cwd: Option<&std::path::Path>, args: &[&str], envs: &[(&str, &str)]) -> Server {
        let mut command = Command::new(env!("CARGO_BIN_EXE_ledger-http"));
        command.args(["--bind", "127.0.0.1:0"]).args(args).stdout(Stdio::piped()).stderr(Stdio::null());
        command.env_remove("LEDGER_STORAGE");
        if let Some(cwd) = cwd {
            command.current_dir(cwd);
        }
        for (key, value) in envs {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("the binary starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("listening on ") {
                    let _ = tx.send(url.trim().to_owned());
                }
            }
        });
        let url = match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(url) => url,
            Err(_) => {
                let _ = child.kill();
                panic!("the binary did not print its address");
            }
        };
        Server { child, url }
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let status = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the binary did not stop after SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Only if a test failed midway: never leave a server running.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh database on the test server, dropped when the guard drops.
pub struct FreshDatabase {
    admin_url: String,
    name: String,
    /// Its URL.
    pub url: String,
}

impl FreshDatabase {
    /// Creates one next to the database `admin_url` names.
    pub async fn create(admin_url: &str) -> FreshDatabase {
        use sqlx::Connection;
        let name = format!("ledger_fresh_{}", unique());
        let mut conn = sqlx::PgConnection::connect(admin_url).await.unwrap();
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await.unwrap();
        let base = admin_url.rsplit_once('/').map_or(admin_url, |(base, _)| base);
        FreshDatabase { admin_url: admin_url.to_owned(), url: format!("{base}/{name}"), name }
    }

    /// Drops it.
    pub async fn drop_database(self) {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&self.admin_url).await.unwrap();
        let drop = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        sqlx::query(&drop).execute(&mut conn).await.unwrap();
    }
}
