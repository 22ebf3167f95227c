//! `flowq lint`: the findings of the lint fixture (every snapshot rule and, with its flows,
//! the three flow rules) in each output format, `--fail-on` and its exit codes, and the
//! errors a user meets.

use crate::{flowq, flowq_with_stdin, root, SNAPSHOT};

const LINT: &str = "testdata/clusters/lint";
const DENIALS: &str = "testdata/flows/hubble/lint-denials.ndjson";

/// The columns of `flowq lint -o csv` / the keys of `-o json`, in order.
const COLUMNS: [&str; 10] = [
    "severity",
    "rule",
    "namespace",
    "objects",
    "message",
    "fix",
    "attempts",
    "first_seen",
    "last_seen",
    "snapshot",
];

fn rules_of(rows: &serde_json::Value) -> Vec<String> {
    rows.as_array()
        .expect("an array of findings")
        .iter()
        .map(|r| r["rule"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn lint_table_of_the_fixture() {
    let run = flowq(&["lint", "--snapshot", LINT]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    insta::assert_snapshot!("lint_table", run.stdout);
}

#[test]
fn lint_json_lists_every_snapshot_rule_of_the_fixture_most_severe_first() {
    let run = flowq(&["lint", "--snapshot", LINT, "-o", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let rows = run.json();
    assert_eq!(
        rules_of(&rows),
        [
            "bad-manifest",
            "service-port",
            "named-port",
            "egress-without-dns",
            "namespace-selector-matches-nothing",
            "ipblock-covers-pods",
            "probe-from-node",
            "egress-without-api-server",
        ]
    );
    for row in rows.as_array().unwrap() {
        let keys: Vec<&str> = row
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, COLUMNS);
        assert_eq!(row["attempts"], serde_json::Value::Null, "no flows read");
        assert_eq!(row["snapshot"], LINT);
        assert!(!row["fix"].as_str().unwrap().is_empty());
    }
    let service_port = &rows[1];
    assert_eq!(service_port["severity"], "error");
    assert_eq!(service_port["namespace"], "shop");
    assert_eq!(
        service_port["objects"],
        serde_json::json!(["NetworkPolicy shop/web-ingress", "Service shop/web"])
    );
    assert!(
        service_port["fix"]
            .as_str()
            .unwrap()
            .starts_with("allow port 8080"),
        "{}",
        service_port["fix"]
    );
    assert_eq!(rows[7]["severity"], "info");
}

#[test]
fn a_bad_manifest_is_named_with_its_file_and_the_other_objects_are_still_linted() {
    let run = flowq(&["lint", "--snapshot", LINT, "-o", "json"]);
    let rows = run.json();
    let bad = &rows[0];
    assert_eq!(bad["rule"], "bad-manifest");
    assert_eq!(bad["severity"], "error");
    assert_eq!(
        bad["objects"],
        serde_json::json!(["NetworkPolicy shop/worker-ingress"])
    );
    let message = bad["message"].as_str().unwrap();
    assert!(
        message.contains("testdata/clusters/lint/broken.yaml"),
        "{message}"
    );
    assert!(
        message.contains("expected struct LabelSelector"),
        "{message}"
    );
    assert!(
        run.stderr
            .contains("skipped NetworkPolicy shop/worker-ingress"),
        "{}",
        run.stderr
    );
    assert!(rules_of(&rows).contains(&"service-port".to_string()));
}

#[test]
fn lint_with_flows_adds_the_denied_dns_api_server_and_probe_traffic() {
    let run = flowq(&["lint", "--snapshot", LINT, "-o", "json", DENIALS]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let rows = run.json();
    let find = |rule: &str| {
        rows.as_array()
            .unwrap()
            .iter()
            .find(|r| r["rule"] == rule)
            .unwrap_or_else(|| panic!("no {rule} in {rows:#}"))
            .clone()
    };
    let dns = find("denied-dns");
    assert_eq!(dns["severity"], "error");
    assert_eq!(dns["objects"], serde_json::json!(["Deployment shop/web"]));
    assert_eq!(dns["attempts"], 2, "the allowed TCP query is not counted");
    assert_eq!(dns["first_seen"], "2026-11-20T09:00:01Z");
    assert_eq!(dns["last_seen"], "2026-11-20T09:00:06Z");
    let api = find("denied-api-server");
    assert_eq!(api["objects"], serde_json::json!(["StatefulSet shop/api"]));
    assert_eq!(api["attempts"], 1);
    let probe = find("denied-probe");
    assert_eq!(probe["objects"], serde_json::json!(["Deployment shop/web"]));
    assert!(
        probe["message"].as_str().unwrap().contains("from node n1"),
        "{}",
        probe["message"]
    );
    let without = flowq(&["lint", "--snapshot", LINT, "-o", "json"]).json();
    assert_eq!(
        rows.as_array().unwrap().len(),
        without.as_array().unwrap().len() + 3
    );
}

#[test]
fn lint_ndjson_and_csv_carry_the_same_findings() {
    let json = flowq(&["lint", "--snapshot", LINT, "-o", "json", DENIALS]).json();
    let findings = json.as_array().unwrap();

    let ndjson = flowq(&["lint", "--snapshot", LINT, "-o", "ndjson", DENIALS]);
    assert_eq!(ndjson.code, 0, "{}", ndjson.stderr);
    let lines: Vec<serde_json::Value> = ndjson
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    assert_eq!(&lines, findings);

    let csv = flowq(&["lint", "--snapshot", LINT, "-o", "csv", DENIALS]);
    assert_eq!(csv.code, 0, "{}", csv.stderr);
    let mut lines = csv.stdout.lines();
    assert_eq!(lines.next().unwrap(), COLUMNS.join(","));
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), findings.len());
    let dns = rows
        .iter()
        .find(|r| r.starts_with("error,denied-dns,shop,Deployment shop/web,"))
        .expect("the denied-dns row");
    assert!(
        dns.contains(",2,2026-11-20T09:00:01Z,2026-11-20T09:00:06Z,"),
        "{dns}"
    );
}

#[test]
fn fail_on_exits_1_when_a_finding_is_at_or_above_the_level() {
    let run = flowq(&["lint", "--snapshot", LINT, "--fail-on", "error"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stdout.contains("service-port"), "{}", run.stdout);
    assert!(
        run.stderr.contains("4 findings at or above error"),
        "{}",
        run.stderr
    );
    // The incident's cluster has warnings but no error.
    let run = flowq(&["lint", "--snapshot", SNAPSHOT, "--fail-on", "error"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let run = flowq(&[
        "lint",
        "--snapshot",
        SNAPSHOT,
        "--fail-on",
        "warning",
        "-o",
        "json",
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        !run.json().as_array().unwrap().is_empty(),
        "findings are still written"
    );
    let run = flowq(&["lint", "--snapshot", SNAPSHOT]);
    assert_eq!(run.code, 0, "without --fail-on findings do not fail");
}

#[test]
fn a_clean_snapshot_has_no_findings_and_passes_fail_on_warning() {
    let dir = std::env::temp_dir().join(format!("flowq-lint-clean-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("cluster.json");
    std::fs::write(
        &path,
        r#"{"kind":"List","items":[
 {"kind":"Namespace","metadata":{"name":"shop"}},
 {"kind":"Pod","metadata":{"name":"web-0","namespace":"shop","labels":{"app":"web"}},
  "spec":{"containers":[{"name":"web","ports":[{"containerPort":8080,"name":"http"}]}]},
  "status":{"phase":"Running","podIP":"10.244.1.5"}},
 {"kind":"NetworkPolicy","metadata":{"name":"web-in","namespace":"shop"},
  "spec":{"podSelector":{"matchLabels":{"app":"web"}},"ingress":[{"ports":[{"port":"http"}]}]}}]}"#,
    )
    .unwrap();
    let snapshot = path.to_str().unwrap();
    let run = flowq(&["lint", "--snapshot", snapshot, "--fail-on", "warning"]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.starts_with("No findings in snapshot "),
        "{}",
        run.stdout
    );
}

#[test]
fn lint_without_a_snapshot_or_with_a_missing_one_is_an_error() {
    let run = flowq(&["lint"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("lint needs --snapshot"),
        "{}",
        run.stderr
    );
    let run = flowq(&["lint", "--snapshot", "testdata/clusters/nope.json"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("nope.json"), "{}", run.stderr);
    let run = flowq(&["lint", "--snapshot", LINT, "--fail-on", "info"]);
    assert_eq!(run.code, 2, "info is not a level to fail on");
}

#[test]
fn lint_parquet_reads_back_with_typed_columns() {
    use netflow_core::frame::polars::prelude::*;

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lint.parquet");
    let path = path.to_str().unwrap();
    let run = flowq(&[
        "lint",
        "--snapshot",
        LINT,
        "-o",
        "parquet",
        "--out",
        path,
        DENIALS,
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let frame = ParquetReader::new(std::fs::File::open(path).unwrap())
        .finish()
        .expect("a readable parquet file");
    assert_eq!(frame.height(), 11);
    assert_eq!(frame.get_column_names(), COLUMNS);
    let attempts: Vec<Option<i64>> = frame
        .column("attempts")
        .unwrap()
        .i64()
        .unwrap()
        .iter()
        .collect();
    assert_eq!(attempts.iter().flatten().sum::<i64>(), 4, "{attempts:?}");
    assert_eq!(attempts.iter().filter(|a| a.is_none()).count(), 8);
}

#[test]
fn namespace_keeps_the_findings_of_that_namespace() {
    let run = flowq(&[
        "lint",
        "--snapshot",
        SNAPSHOT,
        "-n",
        "customer1",
        "-o",
        "json",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let rows = run.json();
    assert_eq!(rules_of(&rows), ["egress-without-dns"]);
    assert_eq!(rows[0]["namespace"], "customer1");
    let run = flowq(&[
        "lint",
        "--snapshot",
        SNAPSHOT,
        "-n",
        "kube-system",
        "--fail-on",
        "warning",
    ]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .starts_with("No findings in namespace kube-system in snapshot "),
        "{}",
        run.stdout
    );
}

#[test]
fn flows_come_from_standard_input_with_a_dash_and_never_without_files() {
    let log = std::fs::read(root().join(DENIALS)).unwrap();
    let run = flowq_with_stdin(&["lint", "--snapshot", LINT, "-o", "json", "-"], &log);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(rules_of(&run.json()).contains(&"denied-dns".to_string()));
    let run = flowq_with_stdin(&["lint", "--snapshot", LINT, "-o", "json"], &log);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        !rules_of(&run.json()).contains(&"denied-dns".to_string()),
        "without files the snapshot alone is linted"
    );
}

#[test]
fn an_unreadable_flow_file_is_an_error_after_the_findings() {
    let run = flowq(&["lint", "--snapshot", LINT, "testdata/flows/none.ndjson"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("none.ndjson"), "{}", run.stderr);
    assert!(run.stdout.contains("service-port"), "{}", run.stdout);
}
