//! `flowq replay`: recorded connections against changed policies, in every output format, with
//! bad manifests, several snapshots and `--fail-on-new-denies`.

use crate::{flowq, INCIDENT, SNAPSHOT};

const FIX: &str = "testdata/policies/allow-release-agent.yaml";

#[test]
fn replay_table_of_the_incident_fix() {
    let run = flowq(&["replay", "--snapshot", SNAPSHOT, "--add", FIX, INCIDENT]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    insta::assert_snapshot!("replay_table_incident_fix", run.stdout);
}

#[test]
fn adding_the_fix_flips_both_denied_connections_and_nothing_else() {
    let run = flowq(&[
        "replay",
        "-o",
        "json",
        "--snapshot",
        SNAPSHOT,
        "--add",
        FIX,
        INCIDENT,
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let rows = run.json();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    for (row, pod) in rows.iter().zip(["elasticsearch-0", "elasticsearch-1"]) {
        assert_eq!(row["change"], "denied → allowed");
        assert_eq!(row["before"], "deny");
        assert_eq!(row["after"], "allow");
        assert_eq!(row["dst_pod"], pod);
        assert_eq!(row["src_workload"], "release-agent");
        assert_eq!(row["where"], "ingress");
        assert_eq!(row["verdict"], "denied");
        assert_eq!(row["dst_port"], 9200);
        let why = row["explanation"].as_str().unwrap();
        assert!(
            why.contains("allowed by vamp/elasticsearch-ingress rule 2"),
            "{why}"
        );
        let before = row["explanation_before"].as_str().unwrap();
        assert!(before.contains("does not match role=tenant"), "{before}");
        assert_eq!(row["evaluation"]["verdict"], "allow");
    }
    assert_eq!(rows[0]["count"], 3);
}

#[test]
fn every_row_format_has_the_denied_columns_and_the_change() {
    let csv = flowq(&[
        "replay",
        "-o",
        "csv",
        "--snapshot",
        SNAPSHOT,
        "--add",
        FIX,
        INCIDENT,
    ]);
    let header = csv.stdout.lines().next().unwrap();
    assert!(
        header.starts_with("before,after,change,src_ip,"),
        "{header}"
    );
    assert!(header.contains(",where,node,") && header.ends_with(",explanation_before"));
    assert_eq!(csv.stdout.lines().count(), 3);
    let nd = flowq(&[
        "replay",
        "-o",
        "ndjson",
        "--all",
        "--snapshot",
        SNAPSHOT,
        "--add",
        FIX,
        INCIDENT,
    ]);
    let rows: Vec<serde_json::Value> = nd
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(rows.len() > 2, "--all lists unchanged connections too");
    assert_eq!(rows[0]["change"], "denied → allowed");
    assert!(rows.iter().any(|r| r["change"] == "unchanged"));
}

#[test]
fn replacing_the_policies_with_a_default_deny_fails_on_new_denies() {
    let args = [
        "replay",
        "-o",
        "json",
        "--snapshot",
        SNAPSHOT,
        "--policies",
        "testdata/policies/vamp-default-deny.yaml",
        INCIDENT,
    ];
    let run = flowq(&args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let rows = run.json();
    let denied: Vec<&serde_json::Value> = rows
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["change"] == "allowed → denied")
        .collect();
    assert!(!denied.is_empty());
    assert!(denied.iter().all(|r| r["dst_namespace"] == "vamp"));
    assert!(denied.iter().any(|r| r["src_workload"] == "vamp-api"));
    let mut failing = args.to_vec();
    failing.push("--fail-on-new-denies");
    let run = flowq(&failing);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("that was allowed becomes denied")
            || run.stderr.contains("that were allowed become denied"),
        "{}",
        run.stderr
    );
    assert!(
        run.json().as_array().is_some_and(|r| !r.is_empty()),
        "the rows are still written"
    );
    let fine = flowq(&[
        "replay",
        "--fail-on-new-denies",
        "--snapshot",
        SNAPSHOT,
        "--add",
        FIX,
        INCIDENT,
    ]);
    assert_eq!(fine.code, 0, "{}", fine.stderr);
}

#[test]
fn bad_manifests_are_named_by_file_and_object_and_the_others_used() {
    let args = [
        "replay",
        "-o",
        "json",
        "--snapshot",
        SNAPSHOT,
        "--add",
        "testdata/policies/mixed",
        INCIDENT,
    ];
    let run = flowq(&args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("broken.yaml: NetworkPolicy vamp/bad-port: spec.ingress[0] ports[0]: expected a port from 1 to 65535, found 92000"),
        "{}",
        run.stderr
    );
    let rows = run.json();
    let rows = rows.as_array().unwrap();
    assert!(rows.len() >= 2, "good.json admits the release agent");
    assert!(rows.iter().all(|r| r["change"] == "denied → allowed"
        && r["explanation"]
            .as_str()
            .unwrap()
            .contains("vamp/elasticsearch-from-customer1")));
    let mut strict = args.to_vec();
    strict.push("--strict");
    let run = flowq(&strict);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("--strict: 1 manifest problem in --add"),
        "{}",
        run.stderr
    );
    let missing = flowq(&[
        "replay",
        "--snapshot",
        SNAPSHOT,
        "--add",
        "no/such.yaml",
        INCIDENT,
    ]);
    assert_eq!(missing.code, 2);
    assert!(
        missing
            .stderr
            .contains("--add: no/such.yaml: no such file or folder"),
        "{}",
        missing.stderr
    );
    let none = flowq(&["replay", "--snapshot", SNAPSHOT, INCIDENT]);
    assert_eq!(none.code, 2);
    assert!(none.stderr.contains("--policies PATH"), "{}", none.stderr);
}

#[test]
fn other_formats_and_filters_replay_too() {
    let calico = flowq(&[
        "replay",
        "-o",
        "json",
        "--snapshot",
        SNAPSHOT,
        "--add",
        FIX,
        "testdata/flows/calico/flows.log.ndjson",
    ]);
    assert_eq!(calico.code, 0, "{}", calico.stderr);
    let rows = calico.json();
    assert!(rows
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["change"] == "denied → allowed" && r["dst_workload"] == "elasticsearch"));
    let filtered = flowq(&[
        "replay",
        "-o",
        "json",
        "--snapshot",
        SNAPSHOT,
        "--add",
        FIX,
        "--to-pod",
        "vamp/elasticsearch-1",
        INCIDENT,
    ]);
    let rows = filtered.json();
    assert_eq!(rows.as_array().unwrap().len(), 1);
    assert_eq!(rows[0]["dst_pod"], "elasticsearch-1");
}

#[test]
fn each_record_is_replayed_against_the_snapshot_in_force_at_its_time() {
    // 20:10 onwards the after-redeploy snapshot (no policies) is in force: the default deny
    // added there isolates Elasticsearch, while before 20:00 it changes nothing the
    // elasticsearch-ingress policy did not already deny.
    let run = flowq(&[
        "replay",
        "-o",
        "json",
        "--snapshot",
        SNAPSHOT,
        "--snapshot",
        "testdata/clusters/after-redeploy@2026-11-20T20:00:00Z",
        "--add",
        "testdata/policies/vamp-default-deny.yaml",
        "testdata/flows/hubble/after-redeploy.ndjson",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let rows = run.json();
    let rows = rows.as_array().unwrap();
    assert!(!rows.is_empty());
    for r in rows {
        assert_eq!(r["change"], "allowed → denied", "{r}");
        assert!(
            r["last_seen"].as_str().unwrap() >= "2026-11-20T20:00:00Z",
            "{r}"
        );
    }
}
