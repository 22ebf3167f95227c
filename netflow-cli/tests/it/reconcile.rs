//! `flowq reconcile`: every class on its own fixture, the summary, the machine formats and
//! `--fail-on-mismatch`.

use serde_json::Value;

use crate::{flowq, SNAPSHOT};

const SHOP: &str = "testdata/clusters/shop.json";

fn ndjson(args: &[&str]) -> Vec<Value> {
    let run = flowq(args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    run.stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect()
}

fn row<'a>(rows: &'a [Value], dst_pod: &str, port: u64) -> &'a Value {
    rows.iter()
        .find(|r| r["dst_pod"] == dst_pod && r["dst_port"] == port)
        .unwrap_or_else(|| panic!("no row to {dst_pod}:{port} in {rows:#?}"))
}

fn kinds(row: &Value) -> Vec<&str> {
    row["cause_kinds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect()
}

#[test]
fn a_log_that_allows_everything_the_policies_deny_is_not_enforcing_them() {
    let rows = ndjson(&[
        "reconcile",
        "--snapshot",
        SNAPSHOT,
        "-o",
        "ndjson",
        "testdata/flows/hubble/flannel-chained.ndjson",
    ]);
    assert_eq!(rows.len(), 3, "the reply is not a connection: {rows:#?}");
    for pod in ["elasticsearch-0", "pyserver-7d9c8b6f5-fghij"] {
        let port = if pod == "elasticsearch-0" { 9200 } else { 8080 };
        let r = row(
            &rows
                .iter()
                .filter(|r| r["class"] != "agree")
                .cloned()
                .collect::<Vec<_>>(),
            pod,
            port,
        )
        .clone();
        assert_eq!(r["class"], "log_allows_policies_deny", "{r:#}");
        assert_eq!(r["observed"], "allowed");
        assert_eq!(r["policy_verdict"], "deny");
        assert_eq!(kinds(&r), ["not_enforced"]);
        assert!(
            r["causes"][0]
                .as_str()
                .unwrap()
                .contains("the log denies nothing in 4 records"),
            "{r:#}"
        );
    }
    let agree: Vec<&Value> = rows.iter().filter(|r| r["class"] == "agree").collect();
    assert_eq!(agree.len(), 1);
    assert_eq!(agree[0]["src_workload"], "vamp-api");
    assert_eq!(agree[0]["mismatch"], false);
    assert!(agree[0]["causes"].as_array().unwrap().is_empty());
}

#[test]
fn a_policy_created_after_the_traffic_means_the_snapshot_is_newer() {
    let rows = ndjson(&[
        "reconcile",
        "--snapshot",
        SHOP,
        "-o",
        "ndjson",
        "testdata/flows/hubble/shop-reconcile.ndjson",
    ]);
    let r = row(&rows, "db-0", 5432);
    assert_eq!(r["class"], "log_allows_policies_deny");
    assert_eq!(kinds(r), ["snapshot_newer"], "the stronger evidence alone");
    assert!(r["causes"][0]
        .as_str()
        .unwrap()
        .starts_with("shop/db-ingress was created at 2026-11-20T12:00:00Z, after this traffic"));
}

#[test]
fn a_denial_the_policies_do_not_explain_names_what_flowq_does_not_evaluate() {
    let rows = ndjson(&[
        "reconcile",
        "--snapshot",
        SHOP,
        "-o",
        "ndjson",
        "testdata/flows/hubble/shop-reconcile.ndjson",
    ]);
    let r = row(&rows, "web-0", 8080);
    assert_eq!(r["class"], "log_denies_policies_allow");
    assert_eq!(r["observed"], "denied");
    assert_eq!(kinds(r), ["unevaluated_policy", "snapshot_older"]);
    assert!(r["causes"][0]
        .as_str()
        .unwrap()
        .starts_with("CiliumNetworkPolicy shop/web-l7 selects shop/web-0"));
    // The log itself naming such a policy says so too.
    let cilium = ndjson(&[
        "reconcile",
        "--snapshot",
        SNAPSHOT,
        "-o",
        "ndjson",
        "testdata/flows/hubble/cilium-policy-deny.ndjson",
    ]);
    let r = cilium
        .iter()
        .find(|r| r["class"] == "log_denies_policies_allow")
        .expect("the CiliumNetworkPolicy deny");
    assert_eq!(kinds(r)[0], "unevaluated_policy");
    assert!(r["causes"][0].as_str().unwrap().contains("es-lockdown"));
}

#[test]
fn a_datapath_drop_of_an_allowed_connection_is_not_a_policy() {
    let rows = ndjson(&[
        "reconcile",
        "--snapshot",
        SNAPSHOT,
        "-o",
        "ndjson",
        "testdata/flows/hubble/reconcile-causes.ndjson",
    ]);
    let r = rows
        .iter()
        .find(|r| r["observed"] == "dropped")
        .expect("the drop");
    assert_eq!(r["class"], "log_denies_policies_allow");
    assert_eq!(kinds(r)[0], "non_policy_drop");
    assert!(r["causes"][0]
        .as_str()
        .unwrap()
        .contains("CT_MAP_INSERTION_FAILED"));
    // Before its pod is in the snapshot, the release agent cannot be evaluated: said, not
    // guessed.
    let early = rows.iter().find(|r| r["observed"] == "allowed").unwrap();
    assert_eq!(early["class"], "not_evaluated");
    assert_eq!(early["mismatch"], false);
}

#[test]
fn unanswered_requests_the_policies_allow_name_what_the_snapshot_shows() {
    let rows = ndjson(&[
        "reconcile",
        "--snapshot",
        SHOP,
        "-o",
        "ndjson",
        "testdata/flows/gke-vpc/shop-unanswered.ndjson",
    ]);
    let web = row(&rows, "web-0", 8081);
    assert_eq!(web["class"], "unanswered_policies_allow");
    assert_eq!(web["observed"], "unanswered");
    assert_eq!(kinds(web), ["target_port_not_declared"]);
    assert_eq!(
        web["causes"][0],
        "service shop/web sends port 80 to targetPort 8081: shop/web-0 declares no container \
         port 8081/TCP (its ports: 8080/TCP)"
    );
    let api = row(&rows, "api-0", 9000);
    assert_eq!(kinds(api), ["no_ready_endpoints"]);
    let vpc = ndjson(&[
        "reconcile",
        "--snapshot",
        SNAPSHOT,
        "-o",
        "ndjson",
        "testdata/flows/gke-vpc/computed.ndjson",
    ]);
    let coredns = row(&vpc, "coredns-5d78c9869d-x7k2p", 8053);
    assert_eq!(kinds(coredns), ["nothing_listens"]);
    // Answered though the policies deny it (a measured round trip): not enforced.
    let pyserver = row(&vpc, "pyserver-7d9c8b6f5-fghij", 8080);
    assert_eq!(pyserver["observed"], "answered");
    assert_eq!(pyserver["class"], "log_allows_policies_deny");
    // Unanswered and denied by the policies: the two agree. Both VMs' reports are one row.
    let agent = row(&vpc, "elasticsearch-1", 9200);
    assert_eq!(agent["class"], "agree");
    assert_eq!(agent["observed"], "unanswered");
    assert_eq!(agent["records"], 2);
    assert_eq!(agent["count"], 1);
}

#[test]
fn the_table_starts_with_counts_per_namespace_pair_and_json_carries_both() {
    let run = flowq(&[
        "reconcile",
        "--snapshot",
        SNAPSHOT,
        "testdata/flows/hubble/flannel-chained.ndjson",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(lines[0].starts_with("SOURCE NS"), "{}", run.stdout);
    let customer1 = lines.iter().find(|l| l.starts_with("customer1")).unwrap();
    let counts: Vec<&str> = customer1.split_whitespace().skip(2).collect();
    assert_eq!(counts, ["1", "0", "1", "0", "0", "0"], "{customer1}");
    assert!(run.stdout.contains("! log allowed, policies deny"));
    assert!(lines
        .last()
        .unwrap()
        .starts_with("3 connections, 2 where the log and the policies disagree"));
    let json = flowq(&[
        "reconcile",
        "--snapshot",
        SNAPSHOT,
        "-o",
        "json",
        "testdata/flows/hubble/flannel-chained.ndjson",
    ])
    .json();
    let summary = json["summary"].as_array().unwrap();
    assert_eq!(summary.len(), 3);
    let total: u64 = summary
        .iter()
        .map(|s| s["connections"].as_u64().unwrap())
        .sum();
    assert_eq!(total, 3);
    assert_eq!(json["connections"].as_array().unwrap().len(), 3);
    let csv = flowq(&[
        "reconcile",
        "--snapshot",
        SNAPSHOT,
        "-o",
        "csv",
        "testdata/flows/hubble/flannel-chained.ndjson",
    ]);
    assert!(csv.stdout.starts_with("class,mismatch,"), "{}", csv.stdout);
    assert_eq!(csv.stdout.lines().count(), 4);
}

#[test]
fn fail_on_mismatch_exits_1_only_when_they_disagree() {
    let flannel = "testdata/flows/hubble/flannel-chained.ndjson";
    let run = flowq(&[
        "reconcile",
        "--snapshot",
        SNAPSHOT,
        "--fail-on-mismatch",
        "--mismatches-only",
        "-o",
        "ndjson",
        flannel,
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(run.stdout.lines().count(), 2, "the rows are still written");
    assert!(
        run.stderr
            .contains("the log and the policies disagree on 2 connections"),
        "{}",
        run.stderr
    );
    let agreeing = flowq(&[
        "reconcile",
        "--snapshot",
        SNAPSHOT,
        "--fail-on-mismatch",
        "--to-pod",
        "vamp/elasticsearch-0",
        "--from-pod",
        "vamp/vamp-api-5f7c9d8b4-q8z2n",
        flannel,
    ]);
    assert_eq!(agreeing.code, 0, "{}", agreeing.stderr);
}

#[test]
fn reconcile_needs_a_snapshot_and_a_readable_input() {
    let run = flowq(&["reconcile", "testdata/flows/hubble/flannel-chained.ndjson"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("--snapshot"), "{}", run.stderr);
    let run = flowq(&["reconcile", "--snapshot", SNAPSHOT, "no/such/flows.json"]);
    assert_eq!(run.code, 2);
    assert_eq!(run.stdout, "");
}

#[test]
fn reconcile_table_golden() {
    let run = flowq(&[
        "reconcile",
        "--snapshot",
        SHOP,
        "testdata/flows/hubble/shop-reconcile.ndjson",
        "testdata/flows/gke-vpc/shop-unanswered.ndjson",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    insta::assert_snapshot!("reconcile_table_shop", run.stdout);
}
