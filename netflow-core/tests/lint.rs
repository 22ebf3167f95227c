//! `lint` through the library's front door: a `Session` over the lint fixture (snapshot and
//! flows) finds each rule the fixture holds once; snapshots in time are merged; and every
//! shared NetworkPolicy conformance case lints without a panic and with findings that name
//! their objects (skipped, with a note, when `../shared` is not beside the project).

use std::path::PathBuf;

use netflow_core::policy::lint::{lint, Rule, Severity};
use netflow_core::{Session, Snapshot, SnapshotSpec, Snapshots};

fn testdata(path: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata")
        .join(path)
        .display()
        .to_string()
}

fn session(snapshots: &[&str], inputs: &[String]) -> Session {
    let specs = snapshots
        .iter()
        .map(|s| s.parse::<SnapshotSpec>().unwrap())
        .collect();
    Session::new(inputs.to_vec()).with_snapshots(Snapshots::load_in_background(specs).unwrap())
}

#[test]
fn the_fixture_holds_each_rule_once_and_its_flows_the_three_flow_rules() {
    let cluster = testdata("clusters/lint");
    let flows = testdata("flows/hubble/lint-denials.ndjson");
    let result = session(&[&cluster], &[flows]).lint().unwrap();
    let rules: Vec<Rule> = result.findings.iter().map(|f| f.rule).collect();
    assert_eq!(
        rules,
        [
            Rule::BadManifest,
            Rule::ServicePort,
            Rule::NamedPort,
            Rule::EgressWithoutDns,
            Rule::DeniedDns,
            Rule::DeniedApiServer,
            Rule::DeniedProbe,
            Rule::NamespaceSelectorMatchesNothing,
            Rule::IpBlockCoversPods,
            Rule::ProbeFromNode,
            Rule::EgressWithoutApiServer,
        ]
    );
    assert_eq!(result.summary.records(), 5);
    let severities: Vec<Severity> = result.findings.iter().map(|f| f.severity).collect();
    assert!(
        severities.windows(2).all(|w| w[0] >= w[1]),
        "most severe first"
    );
    for f in &result.findings {
        assert!(!f.objects.is_empty(), "{f:?}");
        assert!(!f.fix.is_empty(), "{f:?}");
        assert_eq!(f.seen.is_some(), f.rule.reads_flows(), "{f:?}");
    }
}

#[test]
fn snapshots_in_time_give_a_finding_once_naming_both() {
    let cluster = testdata("clusters/lint");
    let early = format!("{cluster}@2026-11-20T08:00:00Z");
    let late = format!("{cluster}@2026-11-20T10:00:00Z");
    let findings = session(&[&early, &late], &[]).lint_snapshots().unwrap();
    assert_eq!(
        findings.len(),
        8,
        "each finding once, not once per snapshot"
    );
    assert!(
        findings.iter().all(|f| f.snapshot == cluster),
        "{findings:?}"
    );
}

#[test]
fn lint_needs_a_snapshot() {
    let err = Session::new(Vec::<String>::new())
        .lint_snapshots()
        .unwrap_err()
        .to_string();
    assert!(err.contains("none was given"), "{err}");
}

#[test]
fn every_conformance_case_lints_without_a_panic() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/conformance/netpol");
    if !dir.is_dir() {
        eprintln!("note: {} not found; not linted", dir.display());
        return;
    }
    let mut cases = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path().join("snapshot.json");
        if !path.is_file() {
            continue;
        }
        let snapshot = Snapshot::load(&path, None).unwrap();
        for f in lint(&snapshot) {
            assert!(!f.message.is_empty() && !f.fix.is_empty(), "{f:?}");
            assert!(!f.objects.is_empty(), "{}: {f:?}", path.display());
        }
        cases += 1;
    }
    assert!(cases > 10, "{cases} cases");
}
