//! NetworkPolicy conformance: every expectation of every case in
//! `../shared/conformance/netpol/` (a snapshot plus `src → dst:port/protocol` verdicts stated
//! by public projects) must match the engine's verdict. Every mismatch is listed, with the
//! engine's explanation, before the test fails. Skipped (with a note) when `../shared` is not
//! beside the project.

use std::path::{Path, PathBuf};

use netflow_core::policy::{Engine, PolicyVerdict, Subject};
use netflow_core::{Protocol, Snapshot};
use serde::Deserialize;

/// One line of `expect.jsonl`.
#[derive(Deserialize)]
struct Expectation {
    src: String,
    dst: String,
    port: u16,
    protocol: String,
    expected: String,
}

fn cases_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/conformance/netpol");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "note: {} not found; NetworkPolicy conformance not checked",
            dir.display()
        );
        None
    }
}

/// Checks one case; returns (expectations checked, mismatch descriptions).
fn check_case(dir: &Path) -> (usize, Vec<String>) {
    let case = dir.file_name().unwrap().to_string_lossy().into_owned();
    let snapshot =
        Snapshot::load(&dir.join("snapshot.json"), None).unwrap_or_else(|e| panic!("{case}: {e}"));
    let engine = Engine::new(&snapshot);
    let text = std::fs::read_to_string(dir.join("expect.jsonl"))
        .unwrap_or_else(|e| panic!("{case}: expect.jsonl: {e}"));
    let mut checked = 0;
    let mut mismatches = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let x: Expectation = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("{case}: expect.jsonl line {}: {e}", n + 1));
        let expected = match x.expected.as_str() {
            "allow" => PolicyVerdict::Allow,
            "deny" => PolicyVerdict::Deny,
            other => panic!("{case}: line {}: expected {other:?}", n + 1),
        };
        let protocol = Protocol::parse(&x.protocol)
            .unwrap_or_else(|| panic!("{case}: line {}: protocol {:?}", n + 1, x.protocol));
        let src = Subject::parse(&x.src).unwrap_or_else(|e| panic!("{case}: {e}"));
        let dst = Subject::parse(&x.dst).unwrap_or_else(|e| panic!("{case}: {e}"));
        checked += 1;
        match engine.evaluate(&src, &dst, x.port, protocol) {
            Ok(evaluation) if evaluation.verdict == expected => {}
            Ok(evaluation) => mismatches.push(format!(
                "{case}: {} → {}:{}/{} expected {} got {:?}\n{evaluation}",
                x.src, x.dst, x.port, x.protocol, x.expected, evaluation.verdict
            )),
            Err(e) => mismatches.push(format!(
                "{case}: {} → {}:{}/{} expected {} got error: {e}",
                x.src, x.dst, x.port, x.protocol, x.expected
            )),
        }
    }
    (checked, mismatches)
}

#[test]
fn every_conformance_expectation_matches() {
    let Some(root) = cases_dir() else {
        return;
    };
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("expect.jsonl").is_file())
        .collect();
    cases.sort();
    assert_eq!(cases.len(), 73, "conformance case directories");
    let mut checked = 0;
    let mut mismatches = Vec::new();
    for case in &cases {
        let (n, m) = check_case(case);
        checked += n;
        mismatches.extend(m);
    }
    for m in &mismatches {
        eprintln!("{m}");
    }
    assert_eq!(checked, 2537, "expectations checked");
    assert!(
        mismatches.is_empty(),
        "{} of {checked} conformance expectations do not match (listed above)",
        mismatches.len()
    );
    eprintln!("{checked} of {checked} conformance expectations match");
}
