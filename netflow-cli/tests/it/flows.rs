use crate::{flowq, INCIDENT, SNAPSHOT};

fn ndjson(stdout: &str) -> Vec<serde_json::Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect()
}

#[test]
fn every_record_is_listed_with_its_origin() {
    let run = flowq(&["flows", "-o", "ndjson", INCIDENT]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let rows = ndjson(&run.stdout);
    assert_eq!(rows.len(), 19, "21 lines minus node_status and lost_events");
    assert_eq!(rows[0]["line"], 2);
    assert_eq!(rows[0]["input"], INCIDENT);
    assert_eq!(rows[0]["format"], "hubble");
    assert_eq!(rows[0]["src_kind"], "node");
    assert_eq!(rows[0]["src_node"], "node-a");
}

#[test]
fn verdict_filter_accepts_flowq_and_log_words() {
    let allowed =
        ndjson(&flowq(&["flows", "-o", "ndjson", "--verdict", "allowed", INCIDENT]).stdout);
    let forwarded =
        ndjson(&flowq(&["flows", "-o", "ndjson", "--verdict", "FORWARDED", INCIDENT]).stdout);
    assert_eq!(allowed.len(), 6);
    assert_eq!(allowed, forwarded);
}

#[test]
fn repeated_flags_or_and_different_flags_and() {
    let run = flowq(&[
        "flows",
        "-o",
        "ndjson",
        "--snapshot",
        SNAPSHOT,
        "-n",
        "default",
        "-n",
        "kube-system",
        "--protocol",
        "udp",
        INCIDENT,
    ]);
    let rows = ndjson(&run.stdout);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["dst_pod"], "coredns-5d78c9869d-x7k2p");
}

#[test]
fn label_pod_node_and_time_filters() {
    let count = |args: &[&str]| {
        let mut all = vec!["flows", "-o", "ndjson", "--snapshot", SNAPSHOT];
        all.extend_from_slice(args);
        all.push(INCIDENT);
        ndjson(&flowq(&all).stdout).len()
    };
    assert_eq!(
        count(&["--from-label", "io.vamp in (release-agent,other)"]),
        14
    );
    assert_eq!(
        count(&["--to-label", "app=elasticsearch", "--verdict", "FORWARDED"]),
        2
    );
    assert_eq!(count(&["--from-pod", "vamp/vamp-api"]), 1);
    assert_eq!(count(&["--to-pod", "pyserver-"]), 3);
    assert_eq!(count(&["--node", "node-a"]), 7);
    assert_eq!(count(&["--node", "prod/node-b"]), 12);
    assert_eq!(
        count(&[
            "--since",
            "2026-11-20T19:06:00Z",
            "--until",
            "2026-11-20T19:06:59Z"
        ]),
        6
    );
    assert_eq!(count(&["--ip", "203.0.113.0/24"]), 2);
}

#[test]
fn kubelet_probes_come_from_the_node_and_say_who_shares_its_ip() {
    let run = flowq(&[
        "flows",
        "-o",
        "json",
        "--snapshot",
        SNAPSHOT,
        "--to-pod",
        "pyserver",
        INCIDENT,
    ]);
    let rows = run.json();
    assert_eq!(rows[0]["src_kind"], "node");
    assert_eq!(rows[0]["src_node"], "node-a");
    assert_eq!(rows[0]["src_identity_source"], "snapshot");
    assert_eq!(rows[0]["dst_workload"], "pyserver");
}

#[test]
fn legacy_camel_case_and_numeric_enums_read_like_the_rest() {
    let run = flowq(&[
        "flows",
        "-o",
        "json",
        "testdata/flows/hubble/legacy-camelcase.ndjson",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let rows = run.json();
    assert_eq!(rows[0]["verdict"], "denied");
    assert_eq!(rows[0]["verdict_raw"], "DROPPED");
    assert_eq!(rows[0]["reason"], "POLICY_DENIED");
    assert_eq!(rows[0]["where"], "ingress");
    assert_eq!(rows[0]["src_pod"], "release-agent-6c8f9b7d5-w4k2j");
    assert_eq!(rows[0]["src_port"], 41500);
    assert_eq!(rows[0]["is_reply"], false);
    assert_eq!(
        rows[1]["is_reply"], true,
        "the deprecated reply field is read"
    );
}

#[test]
fn csv_has_a_header_and_one_line_per_record() {
    let run = flowq(&["flows", "-o", "csv", INCIDENT]);
    let mut lines = run.stdout.lines();
    let header = lines.next().unwrap();
    assert!(header.starts_with("time,src_ip,src_port,"), "{header}");
    assert_eq!(lines.count(), 19);
}

#[test]
fn flows_table_is_stable() {
    let run = flowq(&[
        "flows",
        "--snapshot",
        SNAPSHOT,
        "--to-namespace",
        "vamp",
        "--verdict",
        "FORWARDED",
        INCIDENT,
    ]);
    insta::assert_snapshot!("flows_table_forwarded_to_vamp", run.stdout);
}

#[test]
fn formats_are_listed() {
    let run = flowq(&["formats"]);
    assert!(run.stdout.starts_with("hubble "), "{}", run.stdout);
}

#[test]
fn completions_are_generated_for_each_shell() {
    for shell in ["bash", "zsh", "fish"] {
        let run = flowq(&["completions", shell]);
        assert_eq!(run.code, 0, "{shell}: {}", run.stderr);
        assert!(run.stdout.contains("denied"), "{shell}");
    }
}

#[test]
fn a_reply_row_reads_in_its_connections_direction_and_says_reply() {
    // The log's second record is the reply of the first: elasticsearch-1:9200 → the agent's
    // ephemeral port. The table shows the connection (agent → 9200) and marks the reply.
    let run = flowq(&["flows", "testdata/flows/hubble/unenforced.ndjson"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let reply = run
        .stdout
        .lines()
        .find(|l| l.contains("(reply)"))
        .unwrap_or_else(|| panic!("no reply row:\n{}", run.stdout));
    let agent = reply.find("release-agent").unwrap();
    let es = reply.find("elasticsearch-1").unwrap();
    assert!(agent < es, "client first: {reply}");
    assert!(reply.contains("9200/TCP"), "the server's port: {reply}");
    // The JSON keeps the record as the log has it.
    let json = flowq(&[
        "flows",
        "-o",
        "json",
        "testdata/flows/hubble/unenforced.ndjson",
    ])
    .json();
    assert_eq!(json[1]["is_reply"], true);
    assert_eq!(json[1]["src_port"], 9200);
}

#[test]
fn one_record_is_one_record_in_the_footer() {
    let run = flowq(&["flows", "--dst-port", "53", INCIDENT]);
    assert!(
        run.stdout.contains("\n1 flow record in 1 file"),
        "{}",
        run.stdout
    );
}

#[test]
fn wide_tables_put_each_row_on_one_line_with_full_names() {
    let run = flowq(&["denied", "--wide", "--snapshot", SNAPSHOT, INCIDENT]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let rows: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.contains("release-agent"))
        .collect();
    assert_eq!(rows.len(), 3, "{}", run.stdout);
    for row in rows {
        assert!(
            row.contains("release-agent-6c8f9b7d5-w4k2j"),
            "pod on the row: {row}"
        );
        assert!(row.contains("POLICY_DENIED → "), "WHY on the row: {row}");
        assert!(row.contains("@ prod/node-"), "full node name: {row}");
    }
}

#[test]
fn icmp_records_get_a_policy_verdict_with_a_snapshot() {
    let run = flowq(&[
        "flows",
        "--snapshot",
        "testdata/clusters/ping.yaml",
        "-o",
        "json",
        "testdata/flows/hubble/icmp.ndjson",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let verdicts: Vec<(String, String)> = run
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["verdict"].as_str().unwrap().to_string(),
                r["policy_verdict"].as_str().unwrap_or("-").to_string(),
            )
        })
        .collect();
    let pair = |a: &str, b: &str| (a.to_string(), b.to_string());
    assert_eq!(
        verdicts,
        [
            pair("denied", "deny"),
            pair("denied", "deny"),
            pair("allowed", "allow"),
            pair("allowed", "allow")
        ]
    );
}

#[test]
fn flow_rows_name_the_policies_flowq_does_not_evaluate() {
    let run = flowq(&[
        "flows",
        "--snapshot",
        "testdata/clusters/extra-kinds",
        "-o",
        "json",
        "testdata/flows/hubble/extra-kinds.ndjson",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let row = &run.json()[0];
    assert_eq!(row["policy_verdict"], "allow");
    let also: Vec<&str> = row["also_subject_to"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(also.len(), 5, "{also:?}");
    assert!(also.contains(
        &"also subject to CiliumNetworkPolicy shop/db-l7 (ingress of shop/db-0), which flowq \
          does not evaluate: the verdict may differ"
    ));
    let csv = flowq(&[
        "flows",
        "--snapshot",
        "testdata/clusters/extra-kinds",
        "-o",
        "csv",
        "testdata/flows/hubble/extra-kinds.ndjson",
    ]);
    assert!(
        csv.stdout
            .lines()
            .next()
            .unwrap()
            .ends_with("also_subject_to"),
        "{}",
        csv.stdout
    );
}

#[test]
fn rows_carry_the_l7_message_and_what_else_the_record_says() {
    let points = "testdata/flows/hubble/observation-points.ndjson";
    let run = flowq(&["flows", "-o", "ndjson", points]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let rows = ndjson(&run.stdout);
    // Line 6: the proxy's record of the first query; line 1: its FROM_ENDPOINT trace.
    let query = rows.iter().find(|r| r["line"] == 6).unwrap();
    assert_eq!(query["l7"], "dns request A redis.shop.svc.cluster.local.");
    assert_eq!(
        query["details"]["l7"]["dns"]["query"],
        "redis.shop.svc.cluster.local."
    );
    let trace = rows.iter().find(|r| r["line"] == 1).unwrap();
    assert_eq!(trace["l7"], serde_json::Value::Null);
    assert_eq!(trace["details"]["observation_point"], "FROM_ENDPOINT");
    assert_eq!(trace["details"]["trace_reason"], "NEW");
    // The incident fixture's records say nothing more: null, not an empty object.
    let plain = ndjson(&flowq(&["flows", "-o", "ndjson", INCIDENT]).stdout);
    assert!(plain.iter().any(|r| r["details"].is_null()));

    // CSV: the log's own columns come before those the snapshot adds; details as JSON text.
    let csv = flowq(&["flows", "-o", "csv", points]);
    let header = csv.stdout.lines().next().unwrap();
    assert!(
        header.ends_with("line,l7,details,policy_verdict,mismatch,also_subject_to"),
        "{header}"
    );
    assert!(
        csv.stdout
            .contains(r#""{""observation_point"":""FROM_ENDPOINT"""#),
        "{}",
        csv.stdout
    );
}
