//! `flowq report`: a self-contained page, opened in headless Chromium to check that the graph,
//! the table and the timeline render. Chromium is Debian's `chromium` package; CI installs it
//! and sets FLOWQ_REQUIRE_CHROMIUM=1 so the browser check cannot silently skip.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{flowq, INCIDENT, SNAPSHOT};

fn chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("FLOWQ_CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
}

/// The page's DOM after its script ran, as headless Chromium sees it.
fn rendered_dom(page: &Path) -> Option<String> {
    let Some(browser) = chromium() else {
        assert!(
            std::env::var_os("FLOWQ_REQUIRE_CHROMIUM").is_none(),
            "FLOWQ_REQUIRE_CHROMIUM is set but no chromium was found"
        );
        eprintln!("skipped the browser check: no chromium (apt-get install chromium)");
        return None;
    };
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1280,2000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8(out.stdout).expect("the DOM is UTF-8"))
}

/// `nodes=2 edges=1 rows=2 bars=5` from the body's `data-rendered` attribute.
fn rendered_counts(dom: &str) -> Vec<(String, u64)> {
    let start = dom
        .find("data-rendered=\"")
        .unwrap_or_else(|| panic!("the page script did not run:\n{dom}"))
        + "data-rendered=\"".len();
    let end = start + dom[start..].find('"').unwrap();
    dom[start..end]
        .split(' ')
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            (k.to_string(), v.parse().unwrap())
        })
        .collect()
}

#[test]
fn the_report_is_one_page_that_renders_the_graph_table_and_timeline() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("report.html");
    let run = flowq(&[
        "report",
        "--snapshot",
        SNAPSHOT,
        "--out",
        &page.to_string_lossy(),
        INCIDENT,
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let html = std::fs::read_to_string(&page).unwrap();

    // Self-contained: nothing to fetch, and the policy forbids fetching anyway.
    assert!(html.contains("Content-Security-Policy\" content=\"default-src 'none'"));
    for fetch in ["http://", "https://", " src=", "<link", "@import"] {
        assert!(!html.contains(fetch), "the page refers to {fetch:?}");
    }
    // What `flowq denied` says is what the page says.
    let denied = flowq(&["denied", "--snapshot", SNAPSHOT, "-o", "json", INCIDENT]).json();
    let connections = denied.as_array().unwrap();
    assert_eq!(html.matches("<tr data-row=").count(), connections.len());
    assert!(html.contains("customer1/release-agent (Deployment)"));
    assert!(html.contains("ingress denied by vamp/elasticsearch-ingress"));

    let Some(dom) = rendered_dom(&page) else {
        return;
    };
    let counts = rendered_counts(&dom);
    let get = |k: &str| counts.iter().find(|(n, _)| n == k).map(|(_, v)| *v);
    assert_eq!(get("rows"), Some(connections.len() as u64), "{counts:?}");
    assert_eq!(
        get("nodes"),
        Some(html.matches("class=\"node ").count() as u64),
        "{counts:?}"
    );
    assert!(get("nodes") >= Some(2), "{counts:?}");
    assert_eq!(
        get("edges"),
        Some(html.matches("class=\"edge\"").count() as u64),
        "{counts:?}"
    );
    let bars_with_denials = html.matches("class=\"bar\"").count() as u64
        - html.matches("height=\"0\"><title>").count() as u64;
    assert_eq!(get("bars"), Some(bars_with_denials), "{counts:?}");
    assert!(get("bars") >= Some(2), "{counts:?}");
}

#[test]
fn the_report_needs_an_out_file_and_keeps_it_only_on_success() {
    let run = flowq(&["report", INCIDENT]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("--out"), "{}", run.stderr);

    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("report.html");
    let run = flowq(&[
        "report",
        "--out",
        &page.to_string_lossy(),
        "testdata/does-not-exist.json",
    ]);
    assert_eq!(run.code, 2);
    assert!(!page.exists());
}

#[test]
fn the_report_counts_the_flows_an_exporter_aggregate_stands_for() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("aggregates.html");
    let run = flowq(&[
        "report",
        "--snapshot",
        SNAPSHOT,
        "--out",
        page.to_str().unwrap(),
        "testdata/flows/hubble/exporter-aggregate.ndjson",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let html = std::fs::read_to_string(&page).unwrap();
    // 121 + 37 denied attempts in three records, marked as folded by the source.
    assert!(
        html.contains("2 denied connections (158 attempts)"),
        "{}",
        &html[..html.len().min(2000)]
    );
    assert!(html.contains(r#"data-sort="121">~121</td>"#));
    assert!(html.contains(r#"data-sort="37">~37</td>"#));
}
