//! `flowq suggest`: the incident's fix as YAML and JSON for `kubectl apply`, rows per rule,
//! and the suggest → replay round trip through the binary.

use crate::{flowq, root, INCIDENT, SNAPSHOT};

#[test]
fn the_incident_fix_admits_the_release_agent_by_workload_on_the_pod_port() {
    let run = flowq(&[
        "suggest",
        "--snapshot",
        SNAPSHOT,
        "--dst-port",
        "9200",
        INCIDENT,
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    insta::assert_snapshot!("suggest_yaml_incident", run.stdout);
    let yaml = &run.stdout;
    assert!(yaml.starts_with("# patch of vamp/elasticsearch-ingress: ingress rule 2 added\n"));
    assert!(yaml.contains("# admits customer1/release-agent-6c8f9b7d5-w4k2j → vamp/elasticsearch-0:9200/TCP (3 attempts)"));
    assert!(yaml.contains("kubernetes.io/metadata.name: customer1"));
    assert!(
        !yaml.contains("pod-template-hash") && !yaml.contains("statefulset.kubernetes.io/pod-name")
    );
}

#[test]
fn replaying_the_suggestion_shows_exactly_its_flips() {
    let dir = tempfile::tempdir().unwrap();
    let fix = dir.path().join("fix.yaml");
    let out = fix.to_str().unwrap();
    let run = flowq(&[
        "suggest",
        "--snapshot",
        SNAPSHOT,
        "--to-namespace",
        "vamp",
        "--out",
        out,
        INCIDENT,
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let replay = flowq(&[
        "replay",
        "-o",
        "json",
        "--fail-on-new-denies",
        "--snapshot",
        SNAPSHOT,
        "--add",
        out,
        INCIDENT,
    ]);
    assert_eq!(replay.code, 0, "{}", replay.stderr);
    let rows = replay.json();
    let flipped: Vec<String> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert_eq!(r["change"], "denied → allowed");
            format!(
                "{}/{} → {}/{}",
                r["src_namespace"].as_str().unwrap(),
                r["src_pod"].as_str().unwrap(),
                r["dst_namespace"].as_str().unwrap(),
                r["dst_pod"].as_str().unwrap()
            )
        })
        .collect();
    let yaml = std::fs::read_to_string(&fix).unwrap();
    let admitted = yaml.lines().filter(|l| l.starts_with("# admits ")).count();
    assert_eq!(flipped.len(), admitted, "{yaml}");
    for f in &flipped {
        assert!(yaml.contains(f.as_str()), "{f} not in\n{yaml}");
    }
}

#[test]
fn an_egress_denial_is_fixed_on_the_source_side_with_an_ip_block() {
    let run = flowq(&[
        "suggest",
        "-o",
        "json",
        "--snapshot",
        SNAPSHOT,
        "--to-ip",
        "203.0.113.50",
        INCIDENT,
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let list = run.json();
    assert_eq!(list["kind"], "List");
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    let policy = &items[0];
    assert_eq!(policy["kind"], "NetworkPolicy");
    assert_eq!(policy["metadata"]["name"], "release-agent-egress");
    assert_eq!(policy["metadata"]["namespace"], "customer1");
    let rule = policy["spec"]["egress"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(
        rule,
        serde_json::json!({"to": [{"ipBlock": {"cidr": "203.0.113.50/32"}}], "ports": [{"protocol": "TCP", "port": 443}]})
    );
}

#[test]
fn rows_per_added_rule_as_table_ndjson_and_csv() {
    let nd = flowq(&["suggest", "-o", "ndjson", "--snapshot", SNAPSHOT, INCIDENT]);
    assert_eq!(nd.code, 0, "{}", nd.stderr);
    let rows: Vec<serde_json::Value> = nd
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 2, "{}", nd.stdout);
    let ingress = rows.iter().find(|r| r["direction"] == "ingress").unwrap();
    assert_eq!(ingress["action"], "patch");
    assert_eq!(ingress["policy"], "elasticsearch-ingress");
    assert_eq!(ingress["rule"], 1);
    assert_eq!(
        ingress["peers"],
        serde_json::json!(["pods io.vamp=release-agent in namespace customer1"])
    );
    assert_eq!(ingress["ports"], serde_json::json!(["9200/TCP"]));
    assert_eq!(ingress["manifest"]["kind"], "NetworkPolicy");
    let csv = flowq(&["suggest", "-o", "csv", "--snapshot", SNAPSHOT, INCIDENT]);
    assert!(csv
        .stdout
        .starts_with("action,namespace,policy,direction,rule,peers,ports,admits,notes,manifest\n"));
    let table = flowq(&["suggest", "-o", "table", "--snapshot", SNAPSHOT, INCIDENT]);
    assert!(
        table.stdout.contains("vamp/elasticsearch-ingress"),
        "{}",
        table.stdout
    );
    assert!(
        table
            .stdout
            .contains("2 policies for 3 selected denied connections"),
        "{}",
        table.stdout
    );
}

#[test]
fn a_denial_the_snapshot_does_not_explain_gets_no_suggestion_and_a_warning() {
    let run = flowq(&[
        "suggest",
        "--snapshot",
        SNAPSHOT,
        "testdata/flows/hubble/cilium-policy-deny.ndjson",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert!(
        run.stderr.contains("nothing to suggest for") && run.stderr.contains("already allow it"),
        "{}",
        run.stderr
    );
    let none = flowq(&["suggest", INCIDENT]);
    assert_eq!(none.code, 2);
    assert!(root().join(INCIDENT).exists());
}
