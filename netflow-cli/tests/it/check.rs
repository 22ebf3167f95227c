use crate::{flowq, flowq_with_stdin, SNAPSHOT};

const AGENT: &str = "customer1/release-agent-6c8f9b7d5-w4k2j";

#[test]
fn the_release_agent_is_denied_at_elasticsearch_ingress_and_says_why() {
    let run = flowq(&[
        "check",
        "--snapshot",
        SNAPSHOT,
        "--from",
        AGENT,
        "--to",
        "svc/vamp/elasticsearch",
        "--port",
        "9200",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    insta::assert_snapshot!("check_agent_to_es_service", run.stdout);
}

#[test]
fn check_json_has_both_directions_with_rules_and_reasons() {
    let run = flowq(&[
        "check",
        "--snapshot",
        SNAPSHOT,
        "--from",
        AGENT,
        "--to",
        "vamp/elasticsearch-0",
        "--port",
        "9200",
        "-o",
        "json",
    ]);
    let v = run.json();
    assert_eq!(v["verdict"], "deny");
    assert_eq!(v["egress"]["verdict"], "allow");
    assert_eq!(
        v["egress"]["matched_rule"]["policy"],
        "customer1/release-agent-egress"
    );
    assert_eq!(v["egress"]["matched_rule"]["rule"], 0, "0-based in JSON");
    assert_eq!(v["ingress"]["verdict"], "deny");
    assert_eq!(v["ingress"]["isolated"], true);
    assert_eq!(
        v["ingress"]["policies"][0]["policy"],
        "vamp/elasticsearch-ingress"
    );
    let miss = &v["ingress"]["reasons"][0];
    assert_eq!(miss["policy"], "vamp/elasticsearch-ingress");
    assert_eq!(miss["rules"][0]["rule"], 0);
    let text = serde_json::to_string(&miss).unwrap();
    assert!(text.contains("role=tenant"), "{text}");
}

#[test]
fn the_service_port_is_translated_to_the_target_port() {
    let run = flowq(&[
        "check",
        "--snapshot",
        SNAPSHOT,
        "--from",
        "10.0.0.12",
        "--to",
        "svc/default/pyserver",
        "--port",
        "80",
        "-o",
        "json",
    ]);
    let v = run.json();
    assert_eq!(v["service"]["port"], 80);
    assert_eq!(v["backends"][0]["port"], 8080);
    // node-b is the node of pyserver-...-fghij: host traffic there, denied at the other pod.
    let text = flowq(&[
        "check",
        "--snapshot",
        SNAPSHOT,
        "--from",
        "10.0.0.12",
        "--to",
        "svc/default/pyserver",
        "--port",
        "80",
    ])
    .stdout;
    assert!(text.contains("service port 80 → pod port 8080"), "{text}");
}

#[test]
fn kubelet_probes_from_the_node_are_host_traffic() {
    let run = flowq(&[
        "check",
        "--snapshot",
        SNAPSHOT,
        "--from",
        "10.0.0.11",
        "--to",
        "default/pyserver-7d9c8b6f5-abcde",
        "--port",
        "8080",
        "-o",
        "json",
    ]);
    let v = run.json();
    assert_eq!(v["verdict"], "allow");
    assert_eq!(
        v["host_traffic"]["reason"],
        "host traffic, not subject to NetworkPolicy"
    );
}

#[test]
fn expect_turns_a_different_verdict_into_exit_1() {
    let args = [
        "check",
        "--snapshot",
        SNAPSHOT,
        "--from",
        AGENT,
        "--to",
        "vamp/elasticsearch-0",
        "--port",
        "9200",
        "--expect",
    ];
    let mut deny = args.to_vec();
    deny.push("deny");
    assert_eq!(flowq(&deny).code, 0);
    let mut allow = args.to_vec();
    allow.push("allow");
    assert_eq!(flowq(&allow).code, 1);
}

#[test]
fn batch_answers_each_line_in_order() {
    let input = format!(
        "{}\n{}\n{}\n",
        r#"{"src":"customer1/release-agent-6c8f9b7d5-w4k2j","dst":"vamp/elasticsearch-0","port":9200}"#,
        r#"{"src":"vamp/vamp-api-5f7c9d8b4-q8z2n","dst":"vamp/elasticsearch-0","port":9200,"protocol":"TCP","note":"ignored"}"#,
        r#"{"src":"nope/nobody","dst":"vamp/elasticsearch-0","port":9200}"#
    );
    let run = flowq_with_stdin(
        &[
            "check",
            "--snapshot",
            SNAPSHOT,
            "--batch",
            "-",
            "-o",
            "ndjson",
        ],
        input.as_bytes(),
    );
    let lines: Vec<serde_json::Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["verdict"], "deny");
    assert_eq!(lines[1]["verdict"], "allow");
    assert!(lines[2]["error"].as_str().unwrap().starts_with("line 3:"));
    assert_eq!(run.code, 2, "a line that cannot be evaluated is an error");
}

#[test]
fn denied_explains_with_the_snapshot_and_flags_mismatches() {
    let run = flowq(&[
        "denied",
        "--snapshot",
        SNAPSHOT,
        "-o",
        "json",
        "testdata/flows/hubble/incident.ndjson",
    ]);
    let rows = run.json();
    let es = &rows[0];
    assert_eq!(es["dst_pod"], "elasticsearch-0");
    assert_eq!(es["policy_verdict"], "deny");
    assert_eq!(
        es["explanation"],
        "ingress denied by vamp/elasticsearch-ingress rule 1: namespace customer1 does not match role=tenant"
    );
    assert_eq!(es["mismatch"], serde_json::Value::Null);
    let world = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["dst_port"] == 443)
        .unwrap();
    assert_eq!(world["policy_verdict"], "deny");
    assert!(world["explanation"]
        .as_str()
        .unwrap()
        .starts_with("egress denied by customer1/release-agent-egress"));
}

#[test]
fn a_denial_the_snapshot_allows_is_a_mismatch_with_its_likely_cause() {
    let run = flowq(&[
        "denied",
        "--snapshot",
        SNAPSHOT,
        "-o",
        "json",
        "testdata/flows/hubble/cilium-policy-deny.ndjson",
    ]);
    let rows = run.json();
    assert_eq!(rows[0]["src_workload"], "vamp-api");
    assert_eq!(
        rows[0]["policies"][0],
        "vamp/es-lockdown (CiliumNetworkPolicy)"
    );
    assert_eq!(rows[0]["policy_verdict"], "allow");
    let mismatch = rows[0]["mismatch"].as_str().unwrap();
    assert!(
        mismatch.starts_with("the log denies but the snapshot allows"),
        "{mismatch}"
    );
    assert!(mismatch.contains("CNI-specific policy"), "{mismatch}");
}

#[test]
fn a_forwarded_connection_the_snapshot_denies_is_a_mismatch_but_its_reply_is_not() {
    let run = flowq(&[
        "flows",
        "--snapshot",
        SNAPSHOT,
        "-o",
        "json",
        "testdata/flows/hubble/unenforced.ndjson",
    ]);
    let rows = run.json();
    assert_eq!(rows[0]["verdict"], "allowed");
    assert_eq!(rows[0]["policy_verdict"], "deny");
    assert!(rows[0]["mismatch"]
        .as_str()
        .unwrap()
        .starts_with("the log allows but the snapshot denies: policy not enforced"));
    assert_eq!(rows[1]["is_reply"], true);
    assert_eq!(
        rows[1]["policy_verdict"],
        serde_json::Value::Null,
        "replies pass by conntrack"
    );
    assert_eq!(rows[1]["mismatch"], serde_json::Value::Null);
}

#[test]
fn one_ends_allow_report_is_not_a_mismatch_when_the_other_end_denies() {
    let run = flowq(&[
        "flows",
        "--snapshot",
        SNAPSHOT,
        "-o",
        "json",
        "--verdict",
        "allowed",
        "--dst-port",
        "9200",
        "--from-pod",
        "customer1/",
        "testdata/flows/calico/flows.log.ndjson",
    ]);
    let rows = run.json();
    assert_eq!(rows[0]["where"], "egress");
    assert_eq!(
        rows[0]["policy_verdict"], "deny",
        "the connection is denied at ingress"
    );
    assert_eq!(rows[0]["mismatch"], serde_json::Value::Null);
}

const EXTRA: &str = "testdata/clusters/extra-kinds";

#[test]
fn verdicts_for_pods_under_policies_flowq_does_not_evaluate_say_so() {
    let run = flowq(&[
        "check",
        "--snapshot",
        EXTRA,
        "--from",
        "lab/probe",
        "--to",
        "shop/db-0",
        "--port",
        "5432",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .starts_with("DENIED  lab/probe → shop/db-0 :5432/TCP"),
        "{}",
        run.stdout
    );
    for line in [
        "! also subject to Calico GlobalNetworkPolicy default.lab-deny (egress of lab/probe), which flowq does not evaluate: the verdict may differ",
        "! also subject to CiliumNetworkPolicy shop/db-l7 (ingress of shop/db-0), which flowq does not evaluate: the verdict may differ",
    ] {
        assert!(run.stdout.contains(line), "{line}\n{}", run.stdout);
    }
    let json = flowq(&[
        "check",
        "--snapshot",
        EXTRA,
        "--from",
        "lab/probe",
        "--to",
        "shop/db-0",
        "--port",
        "5432",
        "-o",
        "json",
    ])
    .json();
    let also = json["also_subject_to"].as_array().unwrap();
    assert_eq!(also.len(), 5, "{also:?}");
    assert_eq!(also[0]["kind"], "Calico GlobalNetworkPolicy");
    assert_eq!(also[0]["direction"], "Egress");
    assert_eq!(also[0]["selects"], true);
    let csv = flowq(&[
        "check",
        "--snapshot",
        EXTRA,
        "--from",
        "lab/probe",
        "--to",
        "shop/db-0",
        "--port",
        "5432",
        "-o",
        "csv",
    ]);
    assert!(
        csv.stdout
            .lines()
            .next()
            .unwrap()
            .ends_with(",also_subject_to"),
        "{}",
        csv.stdout
    );
}

#[test]
fn check_verbose_counts_the_snapshot_and_lists_its_warnings() {
    let run = flowq(&[
        "check",
        "--snapshot",
        EXTRA,
        "--from",
        "shop/web-0",
        "--to",
        "shop/db-0",
        "--port",
        "5432",
        "-v",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "2 namespaces, 3 pods, 0 services, 1 node, 1 NetworkPolicy; 7 policies flowq does not \
             evaluate: ClusterNetworkPolicy prod-ingress-guard"
        ),
        "{}",
        run.stderr
    );
    let quiet = flowq(&[
        "check",
        "--snapshot",
        SNAPSHOT,
        "--from",
        AGENT,
        "--to",
        "vamp/elasticsearch-0",
        "--port",
        "9200",
    ]);
    assert_eq!(quiet.stderr, "", "no -v, nothing on stderr");
}

#[test]
fn inspect_describes_snapshots_and_the_policies_flowq_does_not_evaluate() {
    let run = flowq(&[
        "inspect",
        "--snapshot",
        "testdata/clusters/extra-kinds.json",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let header = run.stdout.lines().next().unwrap();
    assert!(
        header.starts_with("SNAPSHOT") && header.contains("NOT EVALUATED"),
        "{header}"
    );
    assert!(
        run.stdout.contains(
            "7 policies flowq does not evaluate (verdicts for the pods they select say so): \
             ClusterNetworkPolicy prod-ingress-guard, AdminNetworkPolicy lab-egress"
        ),
        "{}",
        run.stdout
    );
    let rows = flowq(&["inspect", "--snapshot", EXTRA, "-o", "json"]).json();
    assert_eq!(rows[0]["pods"], 3);
    assert_eq!(rows[0]["network_policies"], 1);
    assert_eq!(rows[0]["not_evaluated"], 7);
    assert_eq!(
        rows[0]["not_evaluated_policies"][6],
        "CiliumClusterwideNetworkPolicy shop-no-world"
    );
    let both = flowq(&[
        "inspect",
        "--snapshot",
        EXTRA,
        "-o",
        "json",
        "testdata/flows/hubble/extra-kinds.ndjson",
    ]);
    assert_eq!(both.code, 2, "rows of two kinds cannot share one output");
}

#[test]
fn a_denial_the_snapshot_allows_names_the_cilium_policy_as_the_likely_cause() {
    let run = flowq(&[
        "denied",
        "--snapshot",
        EXTRA,
        "-o",
        "json",
        "testdata/flows/hubble/extra-kinds.ndjson",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let row = &run.json()[0];
    assert_eq!(row["policy_verdict"], "allow");
    let mismatch = row["mismatch"].as_str().unwrap();
    assert!(
        mismatch.starts_with(
            "the log denies but the snapshot allows: also subject to CiliumNetworkPolicy \
             shop/db-l7, ClusterNetworkPolicy prod-ingress-guard, BaselineAdminNetworkPolicy \
             default, which flowq does not evaluate (the likely cause)"
        ),
        "{mismatch}"
    );
    assert_eq!(row["also_subject_to"].as_array().unwrap().len(), 5);
    let table = flowq(&[
        "denied",
        "--snapshot",
        EXTRA,
        "testdata/flows/hubble/extra-kinds.ndjson",
    ]);
    assert!(
        table
            .stdout
            .contains("! also subject to CiliumNetworkPolicy shop/db-l7 (ingress of shop/db-0)"),
        "{}",
        table.stdout
    );
}

const PING: &str = "testdata/clusters/ping.yaml";

#[test]
fn icmp_is_checked_without_a_port_to_and_from_isolated_and_open_pods() {
    let verdict = |from: &str, to: &str, protocol: &str| {
        let run = flowq(&[
            "check",
            "--snapshot",
            PING,
            "--from",
            from,
            "--to",
            to,
            "--protocol",
            protocol,
            "-o",
            "json",
        ]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let v = run.json();
        assert_eq!(v["port"], serde_json::Value::Null);
        v
    };
    // Into target (ingress isolated, its only rule has ports) and out of pinger (egress
    // isolated, no rules): denied; the other way round, nothing isolates them.
    for (from, to, want) in [
        ("apps/open", "apps/target", "deny"),
        ("apps/target", "apps/open", "allow"),
        ("apps/pinger", "8.8.8.8", "deny"),
        ("8.8.8.8", "apps/pinger", "allow"),
        ("apps/open", "apps/pinger", "allow"),
        ("apps/pinger", "apps/open", "deny"),
    ] {
        for protocol in ["icmp", "icmpv6", "47"] {
            let v = verdict(from, to, protocol);
            assert_eq!(v["verdict"], want, "{from} → {to} {protocol}: {v}");
        }
    }
    let v = verdict("apps/open", "apps/target", "icmp");
    assert_eq!(
        v["ingress"]["reasons"][0]["rules"][0]["ports"]["port"],
        serde_json::Value::Null
    );
    assert!(
        v["ingress"]["notes"][0]
            .as_str()
            .unwrap()
            .contains("may vary across network plugins"),
        "{v}"
    );
    let tcp = flowq(&[
        "check",
        "--snapshot",
        PING,
        "--from",
        "apps/open",
        "--to",
        "apps/target",
    ]);
    // Without a port, TCP asks whether any port is allowed: target admits only 8080.
    assert_eq!(tcp.code, 0, "{}", tcp.stderr);
    assert!(
        tcp.stdout.starts_with(
            "allowed on TCP 8080 (any port asked; explained for the first)\nALLOWED apps/open → \
             apps/target :8080/TCP"
        ),
        "{}",
        tcp.stdout
    );
}

#[test]
fn icmp_batch_lines_need_no_port() {
    let run = flowq_with_stdin(
        &["check", "--snapshot", PING, "--batch", "-", "-o", "ndjson"],
        br#"{"src": "apps/pinger", "dst": "8.8.8.8", "protocol": "icmp"}
{"src": "apps/open", "dst": "apps/target", "port": 8080}
{"src": "apps/app in (open,pinger)", "dst": "apps/target"}
"#,
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let lines: Vec<serde_json::Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["verdict"], "deny");
    assert_eq!(lines[1]["verdict"], "allow");
    // A selector and no port: the check object, one pair per source pod, on one line.
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[2]["one_to_one"], false);
    let pairs = lines[2]["pairs"].as_array().unwrap();
    assert_eq!(pairs.len(), 2);
    assert_eq!(pairs[0]["any_port"]["allowed"][0], "8080", "open → target");
    assert!(
        pairs[1]["any_port"]["allowed"]
            .as_array()
            .unwrap()
            .is_empty(),
        "pinger: no egress"
    );
}

const MANIFESTS: &str = "testdata/clusters/manifests-only";

fn check_json(args: &[&str]) -> serde_json::Value {
    let mut all = vec!["check", "--snapshot"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-o", "json"]);
    let run = flowq(&all);
    assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
    run.json()
}

#[test]
fn every_target_form_is_checked() {
    // A workload by its name: one verdict per pod, grouped when they agree.
    let v = check_json(&[
        SNAPSHOT,
        "--from",
        "customer1/release-agent",
        "--to",
        "vamp/elasticsearch",
        "--port",
        "9200",
    ]);
    assert_eq!(v["pairs"].as_array().unwrap().len(), 2);
    assert_eq!(v["groups"].as_array().unwrap().len(), 1);
    assert_eq!(v["groups"][0]["verdict"], "deny");
    assert_eq!(v["one_to_one"], false);
    // Explicit kinds, a label selector, a Service, an IP and a node.
    let explicit = check_json(&[
        SNAPSHOT,
        "--from",
        "deploy/customer1/release-agent",
        "--to",
        "sts/vamp/elasticsearch",
        "--port",
        "9200",
    ]);
    assert_eq!(explicit["pairs"], v["pairs"]);
    let selector = check_json(&[
        SNAPSHOT,
        "--from",
        "vamp/io.vamp=vamp-api",
        "--to",
        "vamp/app=elasticsearch",
        "--port",
        "9200",
    ]);
    let dsts: Vec<&str> = selector["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["evaluation"]["dst"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(dsts, ["elasticsearch-0", "elasticsearch-1"]);
    assert!(selector["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["evaluation"]["verdict"] == "allow"));
    let one = check_json(&[
        SNAPSHOT,
        "--from",
        AGENT,
        "--to",
        "svc/vamp/elasticsearch",
        "--port",
        "9200",
    ]);
    assert_eq!(
        one["verdict"], "deny",
        "one end each: the evaluation object itself"
    );
    assert_eq!(one["dst"]["kind"], "service");
    let ip = check_json(&[
        SNAPSHOT,
        "--from",
        "10.0.0.11",
        "--to",
        "vamp/elasticsearch-0",
        "--port",
        "9200",
    ]);
    let node = check_json(&[
        SNAPSHOT,
        "--from",
        "node/node-a",
        "--to",
        "vamp/elasticsearch-0",
        "--port",
        "9200",
    ]);
    assert_eq!(ip, node);
    assert_eq!(node["src"]["kind"], "node");
    let pod = check_json(&[
        SNAPSHOT,
        "--from",
        "pod/customer1/release-agent-6c8f9b7d5-w4k2j",
        "--to",
        "vamp/elasticsearch-0",
        "--port",
        "9200",
    ]);
    assert_eq!(pod["verdict"], "deny");
}

#[test]
fn manifests_without_pods_are_checked_from_pod_templates() {
    let run = flowq(&[
        "check",
        "--snapshot",
        MANIFESTS,
        "--from",
        "shop/web",
        "--to",
        "svc/shop/db",
        "--port",
        "5432",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.starts_with("ALLOWED shop/web (pod template) → shop/db (service) :5432/TCP\n        service port 5432 → pod port 5432 (named port \"pg\") on db (pod template)"),
        "{}",
        run.stdout
    );
    let v = check_json(&[MANIFESTS, "--from", "shop/tier=back", "--to", "sts/shop/db"]);
    let pairs = v["pairs"].as_array().unwrap();
    assert_eq!(pairs.len(), 2, "db and migrate templates");
    assert!(pairs
        .iter()
        .all(|p| p["any_port"]["allowed"].as_array().unwrap().is_empty()));
    let cron = check_json(&[
        MANIFESTS,
        "--from",
        "cj/shop/backup",
        "--to",
        "svc/shop/db",
        "--port",
        "5432",
    ]);
    let cron = &cron["pairs"][0]["evaluation"];
    assert_eq!(cron["src"]["name"], "backup (pod template)");
    assert_eq!(cron["verdict"], "deny", "the backup pods are not app=web");
    let expect = flowq(&[
        "check",
        "--snapshot",
        MANIFESTS,
        "--from",
        "shop/tier=back",
        "--to",
        "shop/db",
        "--expect",
        "allow",
    ]);
    assert_eq!(expect.code, 1, "{}", expect.stderr);
    let missing = flowq(&[
        "check",
        "--snapshot",
        MANIFESTS,
        "--from",
        "shop/nope",
        "--to",
        "shop/db",
    ]);
    assert_eq!(missing.code, 2);
    assert!(
        missing.stderr.contains("no pod shop/nope and no workload"),
        "{}",
        missing.stderr
    );
}

#[test]
fn check_summarises_snapshot_warnings_and_lists_them_with_verbose() {
    let args = [
        "check",
        "--snapshot",
        PING,
        "--from",
        "apps/open",
        "--to",
        "apps/target",
        "--port",
        "8080",
    ];
    let run = flowq(&args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "1 warning (first: namespace legacy has pods or policies but no Namespace object"
        ) && run.stderr.contains("-v to list all"),
        "{}",
        run.stderr
    );
    let mut verbose = args.to_vec();
    verbose.push("-v");
    let run = flowq(&verbose);
    assert!(
        run.stderr.contains(
            "flowq: warning: snapshot \"testdata/clusters/ping.yaml\": namespace legacy has pods \
             or policies but no Namespace object"
        ),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("3 pods, 0 services, 1 node, 3 NetworkPolicies"),
        "{}",
        run.stderr
    );
}
