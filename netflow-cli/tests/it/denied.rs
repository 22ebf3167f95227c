use crate::{flowq, INCIDENT, SNAPSHOT};

#[test]
fn release_agent_to_elasticsearch_denial_is_one_row_per_connection() {
    let run = flowq(&[
        "denied",
        "--dst-port",
        "9200",
        "--snapshot",
        SNAPSHOT,
        INCIDENT,
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    insta::assert_snapshot!("denied_table_9200", run.stdout);
}

#[test]
fn denied_json_carries_identities_place_and_counts() {
    let run = flowq(&[
        "denied",
        "--dst-port",
        "9200",
        "--snapshot",
        SNAPSHOT,
        "-o",
        "json",
        INCIDENT,
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let rows = run.json();
    let rows = rows.as_array().expect("a JSON array");
    assert_eq!(rows.len(), 2);
    let first = &rows[0];
    for (field, want) in [
        ("src_ip", "10.244.1.15"),
        ("src_namespace", "customer1"),
        ("src_pod", "release-agent-6c8f9b7d5-w4k2j"),
        ("src_workload", "release-agent"),
        ("src_workload_kind", "Deployment"),
        ("src_identity_source", "snapshot"),
        ("dst_ip", "10.244.2.10"),
        ("dst_namespace", "vamp"),
        ("dst_pod", "elasticsearch-0"),
        ("dst_workload", "elasticsearch"),
        ("dst_workload_kind", "StatefulSet"),
        ("dst_node", "node-b"),
        ("protocol", "TCP"),
        ("verdict", "denied"),
        ("where", "ingress"),
        ("node", "prod/node-b"),
        ("reason", "POLICY_DENIED"),
        ("first_seen", "2026-11-20T19:05:02.001Z"),
        ("last_seen", "2026-11-20T19:05:05.025000350Z"),
    ] {
        assert_eq!(first[field], want, "field {field} of {first:#}");
    }
    assert_eq!(first["dst_port"], 9200);
    // Three SYNs, each reported by a policy-verdict event and a drop notice.
    assert_eq!(first["count"], 3);
    assert_eq!(first["records"], 6);
    assert_eq!(first["policies"], serde_json::json!([]));
    assert_eq!(rows[1]["dst_pod"], "elasticsearch-1");
    assert_eq!(rows[1]["count"], 2);
}

#[test]
fn without_a_snapshot_the_log_names_are_kept_and_say_so() {
    let run = flowq(&["denied", "-o", "ndjson", "--to-namespace", "vamp", INCIDENT]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let rows: Vec<serde_json::Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["src_identity_source"], "log");
    assert_eq!(rows[0]["src_workload"], "release-agent");
    assert_eq!(rows[0]["dst_pod"], "elasticsearch-0");
}

#[test]
fn egress_denials_to_the_world_are_shown_with_the_external_address() {
    let run = flowq(&[
        "denied",
        "--snapshot",
        SNAPSHOT,
        "--dst-port",
        "443",
        "-o",
        "json",
        INCIDENT,
    ]);
    let rows = run.json();
    assert_eq!(rows.as_array().unwrap().len(), 1);
    assert_eq!(rows[0]["where"], "egress");
    assert_eq!(rows[0]["dst_kind"], "external");
    assert_eq!(rows[0]["dst_ip"], "203.0.113.50");
    assert_eq!(rows[0]["node"], "prod/node-a");
}

#[test]
fn datapath_drops_are_apart_unless_asked_for() {
    let without = flowq(&["denied", "-o", "json", "--from-ip", "10.244.1.40", INCIDENT]);
    assert_eq!(without.json(), serde_json::json!([]));
    let with = flowq(&[
        "denied",
        "--include-drops",
        "-o",
        "json",
        "--from-ip",
        "10.244.1.40",
        INCIDENT,
    ]);
    let rows = with.json();
    assert_eq!(rows[0]["verdict"], "dropped");
    assert_eq!(rows[0]["reason"], "INVALID_SOURCE_IP");
}

#[test]
fn each_lists_every_denied_record() {
    let run = flowq(&[
        "denied",
        "--each",
        "-o",
        "ndjson",
        "--dst-port",
        "9200",
        INCIDENT,
    ]);
    let lines: Vec<serde_json::Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 10);
    let attempts: u64 = lines.iter().map(|l| l["count"].as_u64().unwrap()).sum();
    assert_eq!(attempts, 5, "the second report of each packet counts 0");
    assert!(lines.iter().all(|l| l["verdict"] == "denied"));
}

#[test]
fn snapshots_in_time_name_a_reused_ip_after_its_owner() {
    let run = flowq(&[
        "denied",
        "--each",
        "-o",
        "json",
        "--snapshot",
        SNAPSHOT,
        "--snapshot",
        "testdata/clusters/after-redeploy@2026-11-20T20:00:00Z",
        "testdata/flows/hubble/after-redeploy.ndjson",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let rows = run.json();
    // 19:20: the earlier snapshot is in force; 10.244.1.16 is nobody's yet.
    assert_eq!(rows[0]["src_kind"], "unknown");
    assert_eq!(rows[0]["src_identity_source"], "none");
    // 20:10: 10.244.1.15 now belongs to report-builder-0, not the old release agent.
    assert_eq!(rows[1]["src_pod"], "report-builder-0");
    assert_eq!(rows[1]["src_workload_kind"], "StatefulSet");
    assert_eq!(rows[2]["src_pod"], "release-agent-6c8f9b7d5-p9x7m");
}

#[test]
fn a_pod_created_after_the_flow_never_owns_its_ip() {
    let run = flowq(&[
        "flows",
        "-o",
        "json",
        "--snapshot",
        "testdata/clusters/after-redeploy",
        "testdata/flows/hubble/after-redeploy.ndjson",
    ]);
    let rows = run.json();
    assert_eq!(rows[0]["src_ip"], "10.244.1.16");
    assert_eq!(
        rows[0]["src_kind"], "unknown",
        "the pod was created at 19:30"
    );
    assert_eq!(rows[2]["src_pod"], "release-agent-6c8f9b7d5-p9x7m");
}

#[test]
fn no_denials_is_success_with_an_accounting_footer() {
    let run = flowq(&["denied", "--dst-port", "1", INCIDENT]);
    assert_eq!(run.code, 0);
    assert_eq!(
        run.stdout,
        "No denied connections in 1 file; 21 records read, 0 skipped, 12 lost by the source.\n"
    );
    assert!(run.stderr.contains("lost 12 events"), "{}", run.stderr);
}

#[test]
fn flows_read_while_a_large_snapshot_loads_are_joined_to_it() {
    // A snapshot with 30,000 more pods loads well after the small incident log is read, so
    // its flows wait for the snapshot instead of going on without identities.
    let mut cluster: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(crate::root().join(SNAPSHOT)).unwrap())
            .unwrap();
    let items = cluster["items"].as_array_mut().expect("a List");
    for i in 0..30_000u32 {
        items.push(serde_json::json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": format!("filler-{i}"), "namespace": "filler",
                         "labels": {"app": "filler"}},
            "spec": {"nodeName": "node-a"},
            "status": {"phase": "Running",
                       "podIP": format!("10.{}.{}.{}", 100 + i / 65536, (i / 256) % 256, i % 256)}
        }));
    }
    let path =
        std::env::temp_dir().join(format!("flowq-large-snapshot-{}.json", std::process::id()));
    std::fs::write(&path, serde_json::to_vec(&cluster).unwrap()).unwrap();
    let run = flowq(&[
        "denied",
        "--dst-port",
        "9200",
        "--snapshot",
        path.to_str().unwrap(),
        "-o",
        "json",
        INCIDENT,
    ]);
    let _ = std::fs::remove_file(&path);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let rows = run.json();
    let rows = rows.as_array().expect("a JSON array");
    assert_eq!(rows.len(), 2);
    for row in rows {
        assert_eq!(row["src_pod"], "release-agent-6c8f9b7d5-w4k2j", "{row:#}");
        assert_eq!(row["src_identity_source"], "snapshot", "{row:#}");
        assert_eq!(row["dst_workload_kind"], "StatefulSet", "{row:#}");
    }
}

#[test]
fn a_missing_snapshot_fails_before_anything_is_read() {
    let run = flowq(&[
        "denied",
        "--snapshot",
        "testdata/clusters/no-such-cluster.json",
        INCIDENT,
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("no-such-cluster.json"),
        "{}",
        run.stderr
    );
    assert_eq!(run.stdout, "");
}

const VPC_COMPUTED: &str = "testdata/flows/gke-vpc/computed.ndjson";

fn json_rows(run: &crate::Run) -> Vec<serde_json::Value> {
    assert_eq!(run.code, 0, "{}", run.stderr);
    run.json().as_array().expect("a JSON array").clone()
}

#[test]
fn a_vpc_log_lists_the_connections_the_policies_deny_as_computed() {
    let run = flowq(&["denied", "--snapshot", SNAPSHOT, "-o", "json", VPC_COMPUTED]);
    let rows = json_rows(&run);
    let pairs: Vec<(&str, &str, &str)> = rows
        .iter()
        .map(|r| {
            (
                r["src_workload"].as_str().unwrap(),
                r["dst_pod"].as_str().unwrap(),
                r["verdict_from"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        pairs,
        [
            ("release-agent", "elasticsearch-1", "snapshot"),
            ("vamp-api", "coredns-5d78c9869d-x7k2p", "no_reply"),
        ],
        "vamp-api -> pyserver measured a round trip and elasticsearch-0 replied: neither is denied"
    );
    let computed = &rows[0];
    assert_eq!(
        computed["verdict"], "unknown",
        "the log itself says nothing"
    );
    assert_eq!(computed["where"], "ingress", "where the policies deny it");
    assert_eq!(computed["node"], "node-b");
    assert_eq!(computed["count"], 1, "reported by both VMs, one attempt");
    assert_eq!(computed["records"], 2);
    assert_eq!(computed["policy_verdict"], "deny");
    assert!(computed["explanation"]
        .as_str()
        .unwrap()
        .contains("vamp/elasticsearch-ingress"));
    assert_eq!(rows[1]["policy_verdict"], "allow");
    let table = flowq(&["denied", "--snapshot", SNAPSHOT, VPC_COMPUTED]);
    assert!(
        table.stdout.contains("(computed: the log has no verdict)"),
        "{}",
        table.stdout
    );
    assert!(!table.stderr.contains("no verdict"), "{}", table.stderr);
}

#[test]
fn without_a_snapshot_a_vpc_log_says_once_that_it_carries_no_verdict() {
    let run = flowq(&["denied", "-o", "json", VPC_COMPUTED]);
    let rows = json_rows(&run);
    let notes: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains("no verdict"))
        .collect();
    assert_eq!(notes.len(), 1, "{}", run.stderr);
    assert!(
        notes[0].contains("6 flow records carry no verdict") && notes[0].contains("--snapshot"),
        "{}",
        notes[0]
    );
    let flagged: Vec<&str> = rows
        .iter()
        .map(|r| r["dst_workload"].as_str().unwrap())
        .collect();
    assert_eq!(
        flagged,
        ["elasticsearch", "coredns"],
        "the request with a round trip is never flagged"
    );
    assert!(rows.iter().all(|r| r["verdict_from"] == "no_reply"));
    let off = flowq(&["denied", "--no-unanswered", "-o", "json", VPC_COMPUTED]);
    assert!(json_rows(&off).is_empty());
}

#[test]
fn icmp_denials_are_explained_by_the_policy_that_isolates_the_pod() {
    let run = flowq(&[
        "denied",
        "--snapshot",
        "testdata/clusters/ping.yaml",
        "-o",
        "json",
        "testdata/flows/hubble/icmp.ndjson",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let rows = run.json();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["protocol"], "ICMPv4");
    assert_eq!(rows[0]["policy_verdict"], "deny");
    assert_eq!(rows[0]["mismatch"], serde_json::Value::Null);
    assert!(
        rows[0]["explanation"]
            .as_str()
            .unwrap()
            .contains("apps/pinger-deny-egress"),
        "{}",
        rows[0]
    );
    assert_eq!(rows[1]["policy_verdict"], "deny");
    assert!(
        rows[1]["explanation"]
            .as_str()
            .unwrap()
            .contains("ICMPv4 has no ports, and a rule with ports [TCP/8080] only matches"),
        "{}",
        rows[1]
    );
}

#[test]
fn kube_network_policies_denials_name_the_pods_their_nodes_and_the_policy() {
    let log = "testdata/flows/kube-network-policies/klog.ndjson";
    let run = flowq(&["denied", "--snapshot", SNAPSHOT, log]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    insta::assert_snapshot!("denied_kube_network_policies", run.stdout);
    // The log's last evaluation has no verdict: said on stderr, never dropped.
    assert!(
        run.stderr
            .contains("1 flow without a verdict record (verdict unknown)"),
        "{}",
        run.stderr
    );
    let run = flowq(&["denied", "--snapshot", SNAPSHOT, "-o", "json", log]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let rows = run.json();
    let rows = rows.as_array().expect("a JSON array");
    assert_eq!(rows.len(), 3, "two logged denials and one computed");
    let es = &rows[0];
    for (field, want) in [
        ("src_pod", "release-agent-6c8f9b7d5-w4k2j"),
        ("src_node", "node-a"),
        ("dst_pod", "elasticsearch-0"),
        ("dst_node", "node-b"),
        ("where", "ingress"),
        ("policy_verdict", "deny"),
        ("first_seen", "2026-11-20T19:05:02Z"),
    ] {
        assert_eq!(es[field], want, "field {field} of {es:#}");
    }
    // The log names no node and no policy: the snapshot says on which node the denying pod
    // runs and which policy isolates it.
    assert_eq!(es["node"], "node-b");
    assert_eq!(es["verdict_from"], "log");
    assert_eq!(es["count"], 2);
    assert_eq!(es["mismatch"], serde_json::Value::Null);
    let why = es["explanation"].as_str().unwrap();
    assert!(why.contains("vamp/elasticsearch-ingress"), "{why}");
    let world = &rows[1];
    assert_eq!(
        (world["where"].as_str(), world["dst_ip"].as_str()),
        (Some("egress"), Some("203.0.113.50"))
    );
    assert!(
        world["explanation"]
            .as_str()
            .unwrap()
            .contains("customer1/release-agent-egress"),
        "{world:#}"
    );
    // The evaluation whose verdict never came is not dropped: the policies deny it, and the
    // row says the verdict is computed, not logged.
    let computed = &rows[2];
    assert_eq!(
        (
            computed["src_pod"].as_str(),
            computed["verdict_from"].as_str()
        ),
        (Some("pyserver-7d9c8b6f5-abcde"), Some("snapshot"))
    );
}

#[test]
fn kube_network_policies_klog_text_reads_as_its_json() {
    let run = flowq(&[
        "denied",
        "--snapshot",
        SNAPSHOT,
        "-o",
        "json",
        "testdata/flows/kube-network-policies/klog-text.log",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    let rows = run.json();
    let es = &rows[0];
    assert_eq!(es["dst_pod"], "elasticsearch-0");
    assert_eq!(es["where"], "ingress");
    assert_eq!(es["first_seen"], "2026-11-20T19:05:02.100211Z");
    assert_eq!(rows[1]["dst_ip"], "2001:db8::7");
    assert_eq!(rows[1]["where"], "egress");
}
