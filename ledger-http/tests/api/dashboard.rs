//! The embedded dashboard: the page and its assets, their headers, caching,
//! and that nothing the page loads is missing or from elsewhere.

use std::collections::BTreeSet;

use axum::http::StatusCode;
use ledger_http::dashboard;

use crate::common::*;

/// The `/assets/...` paths referenced by `attr="..."` in the page.
fn page_references(html: &str) -> Vec<String> {
    let mut found = Vec::new();
    for attr in ["src=\"", "href=\""] {
        for (start, _) in html.match_indices(attr) {
            let rest = &html[start + attr.len()..];
            let value = &rest[..rest.find('"').unwrap()];
            if value.starts_with("/assets/") {
                found.push(value.to_owned());
            }
        }
    }
    found
}

/// The modules a JavaScript file imports (`from './x.js'`), resolved to embedded paths.
fn imports(path: &str, source: &str) -> Vec<String> {
    let dir: Vec<&str> = path.rsplit_once('/').map_or(vec![], |(d, _)| d.split('/').collect());
    source
        .match_indices("from '")
        .map(|(start, _)| {
            let rest = &source[start + "from '".len()..];
            let spec = &rest[..rest.find('\'').unwrap()];
            let mut parts = dir.clone();
            for segment in spec.split('/') {
                match segment {
                    "." => {}
                    ".." => {
                        parts.pop();
                    }
                    other => parts.push(other),
                }
            }
            parts.join("/")
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_is_served_at_the_root_with_security_headers() {
    let app = TestApp::new().await;
    let r = app.get("/").send().await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    let csp = r.header("content-security-policy").unwrap();
    for directive in ["default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"] {
        assert!(csp.contains(directive), "{csp} lacks {directive}");
    }
    assert!(!csp.contains("unsafe"), "no unsafe-inline or unsafe-eval: {csp}");
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(r.header("referrer-policy"), Some("no-referrer"));
    assert_eq!(r.header("x-frame-options"), Some("DENY"));
    assert_eq!(r.header("cache-control"), Some("no-cache"));
    assert!(r.header("etag").is_some_and(|e| e.starts_with('"') && e.len() == 66));
    let html = r.text();
    assert!(html.contains("<script type=\"module\" src=\"/assets/js/app.js\"></script>"), "{html}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_has_no_inline_script_and_nothing_loads_from_another_origin() {
    let html = String::from_utf8(dashboard::file("index.html").unwrap()).unwrap();
    for (start, _) in html.match_indices("<script") {
        let tag = &html[start..start + html[start..].find('>').unwrap()];
        assert!(tag.contains(" src=\""), "inline script: {tag}");
    }
    for path in dashboard::files() {
        let text = String::from_utf8(dashboard::file(&path).unwrap()).unwrap_or_default();
        for scheme in ["http://", "https://", "//cdn"] {
            // The SVG namespace is a name, not a download.
            let offending = text.match_indices(scheme).any(|(i, _)| !text[i..].starts_with("http://www.w3.org/"));
            assert!(!offending, "{path} references {scheme}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_file_the_page_and_its_modules_load_is_served_with_its_content_type() {
    let app = TestApp::new().await;
    let html = app.get("/").send().await.text();
    let mut wanted: BTreeSet<String> = page_references(&html).into_iter().collect();
    assert!(wanted.contains("/assets/app.css") && wanted.contains("/assets/js/app.js"), "{wanted:?}");
    for path in dashboard::files().filter(|p| p.ends_with(".js")) {
        let source = String::from_utf8(dashboard::file(&path).unwrap()).unwrap();
        wanted.extend(imports(&path, &source).into_iter().map(|p| format!("/assets/{p}")));
    }
    assert!(wanted.contains("/assets/js/screens/history.js"), "imports are followed: {wanted:?}");
    for url in &wanted {
        let r = app.get(url).send().await;
        assert_eq!(r.status, StatusCode::OK, "{url} is referenced but not served");
        let expected = match url.rsplit_once('.').unwrap().1 {
            "js" => "text/javascript; charset=utf-8",
            "css" => "text/css; charset=utf-8",
            "svg" => "image/svg+xml",
            other => panic!("unexpected asset type {other}"),
        };
        assert_eq!(r.header("content-type"), Some(expected), "{url}");
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"), "{url}");
        assert!(r.header("etag").is_some(), "{url}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unchanged_file_answers_304_to_its_etag_and_a_stale_etag_gets_the_file() {
    let app = TestApp::new().await;
    let r = app.get("/assets/js/app.js").send().await;
    let etag = r.header("etag").unwrap().to_owned();
    let r = app.get("/assets/js/app.js").header("if-none-match", &etag).send().await;
    assert_eq!(r.status, StatusCode::NOT_MODIFIED);
    assert!(r.body.is_empty());
    assert_eq!(r.header("etag"), Some(etag.as_str()));
    let r = app.get("/").header("if-none-match", &etag).send().await;
    assert_eq!(r.status, StatusCode::OK, "another file's ETag does not match the page");
    let r = app.get("/assets/js/app.js").header("if-none-match", "\"stale\"").send().await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(!r.body.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_files_and_api_paths_stay_problem_json_404s() {
    let app = TestApp::new().await;
    app.get("/assets/missing.js").send().await.assert_problem(StatusCode::NOT_FOUND, "asset_not_found");
    app.get("/assets/index.html").send().await.assert_problem(StatusCode::NOT_FOUND, "asset_not_found");
    app.get("/assets/../Cargo.toml").send().await.assert_problem(StatusCode::NOT_FOUND, "asset_not_found");
    app.get("/api/nope").send().await.assert_problem(StatusCode::NOT_FOUND, "route_not_found");
    app.get("/index.html").send().await.assert_problem(StatusCode::NOT_FOUND, "route_not_found");
    let r = app.post("/").send().await;
    r.assert_problem(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
}
