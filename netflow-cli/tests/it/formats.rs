use crate::{flowq, SNAPSHOT};

fn rows(args: &[&str]) -> Vec<serde_json::Value> {
    let run = flowq(args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    run.json().as_array().expect("an array").clone()
}

#[test]
fn every_format_is_detected_and_explained_by_inspect() {
    let run = flowq(&[
        "inspect",
        "-o",
        "json",
        "testdata/flows/calico/flows.log.ndjson",
        "testdata/flows/goldmane/emitter.ndjson",
        "testdata/flows/goldmane/whisker-list.json",
        "testdata/flows/goldmane/whisker-stream.sse.txt",
        "testdata/flows/gke-vpc/gcloud-logging-read.json",
        "testdata/flows/gke-policy-action/policy_action.log",
        "testdata/flows/gke-policy-action/gcloud-logging-read.json",
        "testdata/flows/hubble/incident.ndjson",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let inputs = run.json();
    let got: Vec<(&str, &str)> = inputs
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["format"].as_str().unwrap(),
                i["framing"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("calico", "lines"),
            ("goldmane", "lines"),
            ("goldmane", "document"),
            ("goldmane", "sse"),
            ("gke-vpc", "document"),
            ("gke-policy-action", "lines"),
            ("gke-policy-action", "document"),
            ("hubble", "lines"),
        ]
    );
    for i in inputs.as_array().unwrap() {
        assert_eq!(i["skipped"], 0, "{i}");
        assert!(
            i["detected_because"].as_str().unwrap().starts_with("line "),
            "{i}"
        );
    }
    assert_eq!(inputs[7]["denied"], 12);
    assert_eq!(inputs[7]["lost_by_source"], 12);
    assert_eq!(inputs[7]["first_time"], "2026-11-20T19:05:00.100Z");
}

#[test]
fn calico_deny_names_the_policy_and_the_other_reporter() {
    let rows = rows(&[
        "denied",
        "-o",
        "json",
        "--snapshot",
        SNAPSHOT,
        "--dst-port",
        "9200",
        "testdata/flows/calico/flows.log.ndjson",
    ]);
    assert_eq!(rows.len(), 1);
    let r = &rows[0];
    assert_eq!(r["src_pod"], "release-agent-6c8f9b7d5-w4k2j");
    assert_eq!(r["dst_service"], "vamp/elasticsearch");
    assert_eq!(r["where"], "ingress");
    assert_eq!(r["node"], "node-b");
    assert_eq!(r["count"], 3);
    assert_eq!(r["counting"], "inexact");
    assert_eq!(r["policies"][0], "vamp/elasticsearch-ingress");
    assert_eq!(
        r["reason"],
        "end of tier default: no rule matched (default deny)"
    );
    assert_eq!(r["other_reports"][0], "egress allowed @ node-a");
}

#[test]
fn goldmane_encodings_agree() {
    let pick = |file: &str| {
        let rows = rows(&[
            "flows",
            "-o",
            "json",
            "--verdict",
            "denied",
            "--dst-port",
            "9200",
            file,
        ]);
        assert_eq!(rows.len(), 1, "{file}");
        let r = rows[0].clone();
        (
            r["src_namespace"].clone(),
            r["src_pod"].clone(),
            r["src_workload"].clone(),
            r["dst_namespace"].clone(),
            r["policies"].clone(),
            r["reason"].clone(),
            r["where"].clone(),
        )
    };
    let emitter = pick("testdata/flows/goldmane/emitter.ndjson");
    assert_eq!(emitter, pick("testdata/flows/goldmane/whisker-list.json"));
    assert_eq!(
        emitter,
        pick("testdata/flows/goldmane/whisker-stream.sse.txt")
    );
    assert_eq!(emitter.1, "release-agent-6c8f9b7d5-*");
    assert_eq!(emitter.2, "release-agent");
    assert_eq!(emitter.4[0], "vamp/elasticsearch-ingress");
}

#[test]
fn gke_policy_action_node_file_and_cloud_logging_agree() {
    let node = rows(&[
        "flows",
        "-o",
        "json",
        "testdata/flows/gke-policy-action/policy_action.log",
    ]);
    let logging = rows(&[
        "flows",
        "-o",
        "json",
        "testdata/flows/gke-policy-action/gcloud-logging-read.json",
    ]);
    assert_eq!(node.len(), 4);
    for (a, b) in node.iter().zip(&logging) {
        for field in [
            "time", "src_ip", "dst_ip", "dst_port", "verdict", "where", "count", "policies",
        ] {
            assert_eq!(a[field], b[field], "{field}");
        }
    }
    assert_eq!(node[0]["count"], 3);
    assert_eq!(node[0]["counting"], "aggregated");
    assert_eq!(
        logging[3]["node"], "node-a",
        "the resource labels name the node"
    );
    assert_eq!(node[2]["src_kind"], "node");
}

#[test]
fn vpc_flows_are_observations_and_unanswered_requests_are_flagged() {
    let flows = rows(&[
        "flows",
        "-o",
        "json",
        "testdata/flows/gke-vpc/gcloud-logging-read.json",
    ]);
    assert_eq!(flows.len(), 4);
    assert!(flows
        .iter()
        .all(|f| f["verdict"] == "unknown" && f["counting"] == "sampled"));
    let denied = rows(&[
        "denied",
        "-o",
        "json",
        "testdata/flows/gke-vpc/gcloud-logging-read.json",
    ]);
    assert!(
        denied.iter().all(|d| d["verdict_from"] == "no_reply"),
        "no verdict, no denial but unanswered requests: {denied:?}"
    );
    let off = rows(&[
        "denied",
        "--no-unanswered",
        "-o",
        "json",
        "testdata/flows/gke-vpc/gcloud-logging-read.json",
    ]);
    assert!(off.is_empty(), "no verdict, no denial: {off:?}");
    let unanswered = rows(&[
        "denied",
        "--unanswered",
        "-o",
        "json",
        "testdata/flows/gke-vpc/gcloud-logging-read.json",
    ]);
    assert_eq!(
        unanswered.len(),
        1,
        "vamp-api got its reply; the release agent did not"
    );
    assert_eq!(unanswered[0]["src_pod"], "release-agent-6c8f9b7d5-w4k2j");
    assert_eq!(unanswered[0]["dst_workload"], "elasticsearch");
    assert_eq!(unanswered[0]["count"], 1);
}

#[test]
fn mixed_formats_feed_one_table() {
    let run = flowq(&[
        "denied",
        "--snapshot",
        SNAPSHOT,
        "--dst-port",
        "9200",
        "testdata/flows/hubble/incident.ndjson",
        "testdata/flows/calico/flows.log.ndjson",
        "testdata/flows/gke-policy-action/policy_action.log",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    insta::assert_snapshot!("denied_mixed_formats", run.stdout);
}

#[test]
fn unknown_json_is_an_error_that_names_the_candidates() {
    let run = crate::flowq_with_stdin(&["flows"], b"{\"hello\": \"world\"}\n");
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("\"hello\""), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("hubble, calico, goldmane, gke-vpc, gke-policy-action"),
        "{}",
        run.stderr
    );
}

#[test]
fn inspect_prints_no_empty_table_when_nothing_could_be_read() {
    let run = flowq(&["inspect", "testdata/no-such-file.json"]);
    assert_eq!(run.code, 2);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert!(run.stderr.contains("no-such-file.json"), "{}", run.stderr);
}

#[test]
fn jq_pretty_output_is_read_record_for_record_from_a_file_and_from_stdin() {
    const PRETTY: &str = "testdata/flows/hubble/jq-pretty.json";
    let from_file = rows(&["flows", "-o", "json", PRETTY]);
    let got: Vec<(u64, &str, &str, &str, bool)> = from_file
        .iter()
        .map(|r| {
            (
                r["line"].as_u64().unwrap(),
                r["src_pod"].as_str().unwrap(),
                r["dst_pod"].as_str().unwrap(),
                r["verdict"].as_str().unwrap(),
                r["duplicate"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                1,
                "release-agent-6c8f9b7d5-w4k2j",
                "elasticsearch-0",
                "denied",
                false
            ),
            (
                66,
                "release-agent-6c8f9b7d5-w4k2j",
                "elasticsearch-0",
                "denied",
                true
            ),
            (
                130,
                "vamp-api-5f7c9d8b4-q8z2n",
                "elasticsearch-0",
                "allowed",
                false
            ),
        ]
    );
    let bytes = std::fs::read(crate::root().join(PRETTY)).unwrap();
    let run = crate::flowq_with_stdin(&["flows", "-o", "json", "-"], &bytes);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let from_stdin = run.json();
    for (a, b) in from_stdin.as_array().unwrap().iter().zip(&from_file) {
        assert_eq!(
            (&a["line"], &a["src_pod"], &a["time"]),
            (&b["line"], &b["src_pod"], &b["time"])
        );
    }

    let run = flowq(&[
        "inspect",
        "-o",
        "json",
        PRETTY,
        "testdata/flows/hubble/jq-glued.json",
        "testdata/flows/hubble/jq-mixed.json",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    for (input, records) in run.json().as_array().unwrap().iter().zip([3, 2, 3]) {
        assert_eq!(input["framing"], "concatenated", "{input}");
        assert_eq!(input["format"], "hubble", "{input}");
        assert_eq!(
            (input["records"].as_u64(), input["skipped"].as_u64()),
            (Some(records), Some(0)),
            "{input}"
        );
    }
    let table = flowq(&["inspect", PRETTY]);
    assert_eq!(table.code, 0, "{}", table.stderr);
    assert!(table.stdout.contains("concatenated"), "{}", table.stdout);
}

#[test]
fn a_format_the_file_is_not_in_is_an_error_not_a_run_of_skips() {
    let run = flowq(&[
        "flows",
        "-o",
        "ndjson",
        "--format",
        "hubble",
        "testdata/flows/calico/flows.log.ndjson",
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "flowq: error: \"testdata/flows/calico/flows.log.ndjson\" does not read as hubble: "
        ),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("the content looks like calico (line 1: "),
        "{}",
        run.stderr
    );
    assert_eq!(run.stdout, "", "no row made of another format's fields");
}

#[test]
fn inspect_names_the_hubble_emitter_and_kube_network_policies_joins() {
    let run = flowq(&[
        "inspect",
        "testdata/flows/hubble/exporter-aggregate.ndjson",
        "testdata/flows/kube-network-policies/klog.ndjson",
        "testdata/flows/kube-network-policies/klog-text.log",
        "testdata/flows/kube-network-policies/jq-pretty.json",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    for line in [
        "exporter-aggregate.ndjson: written by Hubble 1.19.1+gd0d0c879 (4 flows)",
        "klog.ndjson: 1 flow without a verdict record (verdict unknown)",
        "klog-text.log: line 2: a klog line \"Evaluating packet\"",
    ] {
        assert!(run.stdout.contains(line), "{line}\n{}", run.stdout);
    }
    let rows = rows(&[
        "inspect",
        "-o",
        "json",
        "testdata/flows/kube-network-policies/klog.ndjson",
        "testdata/flows/kube-network-policies/klog-text.log",
        "testdata/flows/kube-network-policies/jq-pretty.json",
    ]);
    let got: Vec<(&str, &str, i64, i64)> = rows
        .iter()
        .map(|i| {
            (
                i["format"].as_str().unwrap(),
                i["framing"].as_str().unwrap(),
                i["records"].as_i64().unwrap(),
                i["flows"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("kube-network-policies", "lines", 18, 6),
            ("kube-network-policies", "lines", 6, 2),
            ("kube-network-policies", "concatenated", 3, 1),
        ]
    );
    assert_eq!(rows[0]["incomplete"], 1);
    assert_eq!(rows[0]["skipped"], 0);
}
