//! The fast decoders give what the general (serde) decoders give, record for record: over every
//! line of every fixture under `testdata/flows`, every shared sample of `../shared/formats/samples`
//! (skipped with a note when absent), every JSON value of those files written compact and
//! pretty, and generated Hubble, GKE policy-action, Calico and VPC Flow Logs records in every
//! spelling a producer may use — odd ones, broken
//! ones and cut-off ones included. The whole decoded record is compared (its `Debug` text: every
//! field of the flow, the packet report, the emitter, a skip's cause), so a field added to
//! `Flow` that a fast path does not fill fails here.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use netflow_core::flow::Origin;
use netflow_core::ingest::{decode_record_fast, decode_record_general};
use netflow_core::Format;

fn origin() -> Origin {
    Origin {
        input: Arc::from("test"),
        line: 7,
    }
}

/// How many records each format's fast path decoded, and how many it left to serde.
#[derive(Default, Debug)]
struct Tally {
    fast: usize,
    general: usize,
}

/// Decodes `record` both ways as every format; fails when a fast path gives another record
/// than the general decoder. Counts per format what the fast path decoded.
fn compare(record: &[u8], what: &str, tally: &mut [Tally]) {
    for (format, tally) in Format::ALL.iter().zip(tally.iter_mut()) {
        match decode_record_fast(*format, record, origin()) {
            Ok(fast) => {
                let general = decode_record_general(*format, record, origin());
                let (fast, general) = (format!("{fast:?}"), format!("{general:?}"));
                assert_eq!(
                    fast,
                    general,
                    "{format} fast path differs on {what}: {}",
                    String::from_utf8_lossy(record)
                );
                tally.fast += 1;
            }
            Err(_) => tally.general += 1,
        }
    }
}

fn tallies() -> Vec<Tally> {
    Format::ALL.iter().map(|_| Tally::default()).collect()
}

fn of(format: Format, tally: &[Tally]) -> &Tally {
    let at = Format::ALL.iter().position(|f| *f == format).unwrap();
    &tally[at]
}

fn hubble(tally: &[Tally]) -> &Tally {
    of(Format::Hubble, tally)
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// Every line, and every JSON value (compact and pretty), of every file under `dir`.
fn compare_files(dir: &Path, tally: &mut [Tally]) -> usize {
    let mut paths = Vec::new();
    files(dir, &mut paths);
    paths.sort();
    for path in &paths {
        let bytes = std::fs::read(path).unwrap();
        let name = path.display().to_string();
        for (i, line) in bytes.split(|b| *b == b'\n').enumerate() {
            compare(line, &format!("{name}:{}", i + 1), tally);
        }
        let mut values = Vec::new();
        for value in serde_json::Deserializer::from_slice(&bytes).into_iter::<serde_json::Value>() {
            match value {
                Ok(serde_json::Value::Array(items)) => values.extend(items),
                Ok(value) => values.push(value),
                Err(_) => break,
            }
        }
        for value in values {
            for text in [
                serde_json::to_string(&value).unwrap(),
                serde_json::to_string_pretty(&value).unwrap(),
            ] {
                compare(text.as_bytes(), &format!("a value of {name}"), tally);
            }
        }
    }
    paths.len()
}

#[test]
fn fast_paths_decode_every_fixture_as_serde_does() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/flows");
    let mut tally = tallies();
    let files = compare_files(&root, &mut tally);
    assert!(files > 20, "only {files} fixture files under {root:?}");
    // The fixtures are mostly `hubble observe` lines: the fast path must be what reads them.
    let h = hubble(&tally);
    assert!(h.fast > 200, "the Hubble fast path decoded only {h:?}");
    // The four node-file lines of policy_action.log, and their values written again.
    let g = of(Format::GkePolicyAction, &tally);
    assert!(
        g.fast >= 4,
        "the GKE policy-action fast path decoded only {g:?}"
    );
    // The three Felix documents of calico/flows.log.ndjson, and their values written again.
    let c = of(Format::Calico, &tally);
    assert!(c.fast >= 3, "the Calico fast path decoded only {c:?}");
    // The entries of gke-vpc/*.ndjson and of the `gcloud logging read` array.
    let v = of(Format::GkeVpc, &tally);
    assert!(v.fast >= 10, "the VPC fast path decoded only {v:?}");
}

#[test]
fn fast_paths_decode_every_shared_sample_as_serde_does() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/formats/samples");
    if !root.is_dir() {
        eprintln!("note: {} not found; samples not compared", root.display());
        return;
    }
    let mut tally = tallies();
    compare_files(&root, &mut tally);
    let h = hubble(&tally);
    assert!(h.fast > 0, "the Hubble fast path decoded no sample: {h:?}");
    let c = of(Format::Calico, &tally);
    assert!(c.fast > 0, "the Calico fast path decoded no sample: {c:?}");
    let v = of(Format::GkeVpc, &tally);
    assert!(v.fast > 0, "the VPC fast path decoded no sample: {v:?}");
}

/// Compares `count` records made by `make` (seeded with `seed`), each also cut short and with
/// a byte changed (never a different answer either): the tallies of the whole records and of
/// the broken ones.
fn compare_generated(
    seed: u64,
    count: usize,
    make: fn(&mut Rng) -> String,
) -> (Vec<Tally>, Vec<Tally>) {
    let mut rng = Rng(seed);
    let (mut tally, mut broken) = (tallies(), tallies());
    for i in 0..count {
        let record = make(&mut rng);
        compare(
            record.as_bytes(),
            &format!("generated record {i}"),
            &mut tally,
        );
        let cut = rng.below(record.len() + 1);
        compare(&record.as_bytes()[..cut], "a cut-off record", &mut broken);
        let mut changed = record.into_bytes();
        let at = rng.below(changed.len());
        const BYTES: &[u8] = b"{}[]\",:\\0 nt-";
        changed[at] = BYTES[rng.below(BYTES.len())];
        compare(&changed, "a changed record", &mut broken);
    }
    (tally, broken)
}

/// A small deterministic generator (xorshift), so that a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    /// One of `items`, which list the usual values first: nine times in ten one of the first
    /// half.
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        let usual = items.len().div_ceil(2);
        if self.chance(90) {
            items[self.below(usual)]
        } else {
            items[self.below(items.len())]
        }
    }
}

/// One field of a flow in one of the spellings producers use (snake or camel case, enums by
/// name or number, 64-bit numbers as strings), or an odd value now and then.
fn field(rng: &mut Rng, snake: &str, camel: &str, values: &[&str]) -> String {
    let key = if rng.chance(20) { camel } else { snake };
    format!("\"{key}\":{}", rng.pick(values))
}

fn endpoint(rng: &mut Rng) -> String {
    let ns = rng.pick(&["shop", "vamp", "kube-system", "ns-025", "caf\\u00e9", "ünï"]);
    let pod = rng.pick(&[
        "cart-7d9f-x2k4q",
        "redis-0",
        "worker-296c55870-f6a3f",
        "",
        "a\\\"b",
    ]);
    let mut parts = Vec::new();
    if rng.chance(70) {
        parts.push(format!(
            "\"ID\":{}",
            rng.pick(&["0", "814", "4294967295", "4294967296", "\"12\""])
        ));
    }
    parts.push(format!(
        "\"identity\":{}",
        rng.pick(&["1", "2", "4", "6", "60445", "-1", "1.5"])
    ));
    if rng.chance(90) {
        parts.push(format!("\"namespace\":\"{ns}\""));
    }
    if rng.chance(95) {
        let labels: Vec<String> = (0..rng.below(6))
            .map(|_| {
                format!(
                    "\"{}\"",
                    rng.pick(&[
                        "k8s:app=worker",
                        "k8s:io.cilium.k8s.policy.cluster=prod",
                        "k8s:io.kubernetes.pod.namespace=shop",
                        "k8s:io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name=shop",
                        "reserved:world",
                        "reserved:host",
                        "reserved:health",
                        "cidr:10.0.0.0/8",
                        "fqdn:example.com",
                        "k8s:flag",
                        "k8s:tier=a\\u0062c",
                    ])
                )
            })
            .collect();
        parts.push(format!("\"labels\":[{}]", labels.join(",")));
    }
    if rng.chance(85) {
        let key = if rng.chance(20) {
            "podName"
        } else {
            "pod_name"
        };
        parts.push(format!("\"{key}\":\"{pod}\""));
    }
    if rng.chance(60) {
        parts.push(format!(
            "\"workloads\":[{}]",
            rng.pick(&[
                r#"{"name":"worker","kind":"Deployment"}"#,
                r#"{"name":"","kind":"Deployment"},{"name":"redis","kind":"StatefulSet"}"#,
                r#"{"kind":"DaemonSet"}"#,
                r#"{"name":"x","extra":[1,{"y":null}]}"#,
                "",
            ])
        ));
    }
    if rng.chance(20) {
        parts.push(r#""cluster_name":"prod""#.to_string());
    }
    shuffle(rng, &mut parts);
    format!("{{{}}}", parts.join(","))
}

fn shuffle(rng: &mut Rng, parts: &mut [String]) {
    for i in (1..parts.len()).rev() {
        parts.swap(i, rng.below(i + 1));
    }
}

/// A Hubble record as `hubble observe -o json` or an exporter writes it, with fields in any
/// order, any of them missing, in either case, and now and then an odd or wrong value.
fn hubble_record(rng: &mut Rng) -> String {
    let mut parts = vec![
        field(
            rng,
            "time",
            "time",
            &[
                "\"2026-11-20T19:05:00.000400066Z\"",
                "\"2024-05-02T08:00:00+02:00\"",
                "\"noon\"",
                "12",
            ],
        ),
        field(
            rng,
            "verdict",
            "verdict",
            &["\"FORWARDED\"", "\"DROPPED\"", "\"AUDIT\"", "2", "1", "-1", "null"],
        ),
        format!(
            "\"IP\":{{\"source\":\"{}\",\"destination\":\"{}\",\"ipVersion\":\"IPv4\"}}",
            rng.pick(&["10.100.16.129", "fd00::1", "", "10.0.0.300"]),
            rng.pick(&["10.100.4.0", "192.168.1.1", "-"])
        ),
        format!(
            "\"l4\":{}",
            rng.pick(&[
                r#"{"TCP":{"source_port":35979,"destination_port":10074,"flags":{"SYN":true}}}"#,
                r#"{"TCP":{"sourcePort":"443","destinationPort":"8080","flags":{"PSH":true,"ACK":true,"XYZ":1}}}"#,
                r#"{"TCP":{"source_port":1,"destination_port":70000}}"#,
                r#"{"TCP":{"source_port":1,"destination_port":2,"flags":{"SYN":"yes"}}}"#,
                r#"{"UDP":{"source_port":53,"destination_port":40000}}"#,
                r#"{"SCTP":{"source_port":1,"destination_port":2}}"#,
                r#"{"ICMPv4":{"type":8,"code":0}}"#,
                r#"{"ICMPv6":{"type":"128","code":-1}}"#,
                r#"{"VRRP":{}}"#,
                r#"{"IGMP":null}"#,
                r#"{}"#,
            ])
        ),
        format!("\"source\":{}", endpoint(rng)),
        format!("\"destination\":{}", endpoint(rng)),
    ];
    let optional: [(u64, &str, &str, &[&str]); 14] = [
        (
            30,
            "drop_reason_desc",
            "dropReasonDesc",
            &[
                "\"POLICY_DENIED\"",
                "\"CT_MAP_INSERTION_FAILED\"",
                "133",
                "155",
            ],
        ),
        (20, "drop_reason", "dropReason", &["133", "0", "\"133\""]),
        (
            70,
            "node_name",
            "nodeName",
            &["\"prod/node-24\"", "\"node-a\"", "\"\""],
        ),
        (
            70,
            "event_type",
            "eventType",
            &[
                r#"{"type":4}"#,
                r#"{"type":4,"sub_type":3}"#,
                r#"{"type":1,"subType":133}"#,
                r#"{"type":5}"#,
                r#"{"type":129}"#,
                r#"{"type":4,"sub_type":-3}"#,
            ],
        ),
        (
            60,
            "trace_observation_point",
            "traceObservationPoint",
            &[
                "\"TO_ENDPOINT\"",
                "\"FROM_ENDPOINT\"",
                "3",
                "\"TO_WORMHOLE\"",
                "{\"deep\":[1]}",
            ],
        ),
        (
            70,
            "traffic_direction",
            "trafficDirection",
            &[
                "\"INGRESS\"",
                "\"EGRESS\"",
                "1",
                "\"TRAFFIC_DIRECTION_UNKNOWN\"",
            ],
        ),
        (50, "is_reply", "isReply", &["false", "true", "null"]),
        (10, "reply", "reply", &["true"]),
        (
            20,
            "destination_service",
            "destinationService",
            &[r#"{"name":"redis","namespace":"shop"}"#, r#"{"name":""}"#],
        ),
        (
            20,
            "ingress_denied_by",
            "ingressDeniedBy",
            &[
                r#"[{"name":"deny-all","namespace":"shop","kind":"CiliumNetworkPolicy","labels":["k8s:a=b"],"revision":"3"}]"#,
                r#"[{"name":""},{"name":"x"},{"name":"x"}]"#,
            ],
        ),
        (
            20,
            "egress_allowed_by",
            "egressAllowedBy",
            &[r#"[{"name":"allow","namespace":"shop"}]"#, "[]"],
        ),
        (
            10,
            "aggregate",
            "aggregate",
            &[
                r#"{"ingress_flow_count":40,"egress_flow_count":"2"}"#,
                r#"{"ingressFlowCount":"18446744073709551615","egressFlowCount":9}"#,
                r#"{"ingress_flow_count":-3}"#,
                "{}",
            ],
        ),
        (
            10,
            "emitter",
            "emitter",
            &[
                r#"{"name":"Hubble","version":"1.19.1"}"#,
                r#"{"name":"Retina"}"#,
                r#""Hubble""#,
                "{}",
            ],
        ),
        (
            5,
            "l7",
            "l7",
            &[r#"{"type":"REQUEST","dns":{"query":"example.com."}}"#],
        ),
    ];
    for (percent, snake, camel, values) in optional {
        if rng.chance(percent) {
            parts.push(field(rng, snake, camel, values));
        }
    }
    for extra in [
        r#""uuid":"72315e3f-bf0e-49b4-a471-4ad879495729""#,
        r#""ethernet":{"source":"5e:12:9a:33:0c:41","destination":"a6:4f:10:be:72:09"}"#,
        r#""Type":"L3_L4""#,
        r#""interface":{"index":12,"name":"lxc6e4e02ca"}"#,
        r#""Summary":"TCP Flags: SYN \"quoted\" \\ done""#,
        r#""trace_context":{"parent":{"trace_id":"a"}},"policy_match_type":3"#,
        r#""extensions":{"@type":"x","v":[1.5e3,-0,true,null,[]]}"#,
    ] {
        if rng.chance(40) {
            parts.push(extra.to_string());
        }
    }
    if rng.chance(3) {
        // A repeated field: serde rejects it.
        parts.push(r#""verdict":"DROPPED""#.to_string());
    }
    shuffle(rng, &mut parts);
    let flow = format!("{{{}}}", parts.join(","));
    match rng.below(20) {
        0 => flow,
        1 => format!(r#"{{"flow":{flow}}}"#),
        2 => format!(r#"{{"flow":{flow},"nodeName":"prod/node-3"}}"#),
        3 => {
            format!(r#"{{"time":"2026-11-20T19:05:00Z","flow":{flow},"node_name":"prod/node-3"}}"#)
        }
        4 => format!(r#"{{"flow":{flow},"node_name":"prod/node-3","extra":1}}"#),
        5 => r#"{"lost_events":{"source":1,"num_events_lost":"12"}}"#.to_string(),
        6 => format!(" {{ \"flow\" : {flow} ,\n \"node_name\" : \"n\" }} \t"),
        _ => {
            format!(r#"{{"flow":{flow},"node_name":"prod/node-24","time":"2026-11-20T19:05:00Z"}}"#)
        }
    }
}

#[test]
fn fast_paths_decode_generated_hubble_records_as_serde_does() {
    let (tally, broken) = compare_generated(0x9e37_79b9_7f4a_7c15, 20_000, hubble_record);
    // Both paths are exercised: most generated records are read by the fast path, many are
    // left to serde, and a changed byte is sometimes still read fast (inside a string).
    let h = hubble(&tally);
    assert!(h.fast > 8_000 && h.general > 2_000, "{h:?}");
    let b = hubble(&broken);
    assert!(b.fast > 1_000 && b.general > 20_000, "{b:?}");
}

/// A GKE policy-action node-file line, or now and then a Cloud Logging entry around one, with
/// fields in any order, any of them missing, and odd values.
fn gke_policy_record(rng: &mut Rng) -> String {
    let endpoints = [
        r#"{"pod_name":"client-5689846f5b-cq","pod_namespace":"default","namespace":"default","workload_kind":"ReplicaSet","workload_name":"client-5689846f5b"}"#,
        r#"{"node_name":"gke-n1","workload_kind":"Node"}"#,
        r#"{"pod_name":"es-0","namespace":"vamp"}"#,
        r#"{}"#,
        r#"{"pod_name":"caf\u00e9"}"#,
        r#"{"pod_name":null}"#,
    ];
    let mut parts = vec![
        format!(
            r#""connection":{{"src_ip":"{}","dest_ip":"10.84.0.11","src_port":{},"dest_port":{},"protocol":"{}","direction":"{}"}}"#,
            rng.pick(&["10.84.1.8", "fd00::8", "", "10.84.1.300"]),
            rng.pick(&["45084", r#""45084""#, "0", "70000", "-1"]),
            rng.pick(&["8080", "9200", "1.5"]),
            rng.pick(&["tcp", "udp", "icmp", "TCP", "sctp", "gre"]),
            rng.pick(&["ingress", "egress", "Ingress", "sideways"]),
        ),
        format!(
            r#""disposition":{}"#,
            rng.pick(&[r#""deny""#, r#""allow""#, r#""Deny""#, "3"])
        ),
        format!(r#""src":{}"#, rng.pick(&endpoints)),
        format!(r#""dest":{}"#, rng.pick(&endpoints)),
    ];
    let optional = [
        (
            70,
            format!(r#""count":{}"#, rng.pick(&["1", "4", r#""7""#, "-2"])),
        ),
        (
            80,
            format!(
                r#""node_name":{}"#,
                rng.pick(&[r#""gke-n1""#, r#""""#, "null"])
            ),
        ),
        (
            90,
            format!(
                r#""timestamp":{}"#,
                rng.pick(&[
                    r#""2020-06-13T21:30:22.292379064Z""#,
                    r#""1748772000""#,
                    "1748772000000",
                    r#""noon""#,
                    "-5",
                ])
            ),
        ),
        (
            40,
            format!(
                r#""policies":{}"#,
                rng.pick(&[
                    r#"[{"kind":"NetworkPolicy","name":"es-ingress","namespace":"vamp"}]"#,
                    r#"[{"name":""},{"kind":"","name":"x"}]"#,
                    "[]",
                ])
            ),
        ),
        (20, r#""extra":{"a":[1,2,{"b":"c"}]}"#.to_string()),
        (3, r#""disposition":"allow""#.to_string()),
    ];
    for (percent, field) in optional {
        if rng.chance(percent) {
            parts.push(field);
        }
    }
    shuffle(rng, &mut parts);
    let payload = format!("{{{}}}", parts.join(","));
    match rng.below(10) {
        0 => format!(
            r#"{{"jsonPayload":{payload},"logName":"projects/p/logs/policy-action","resource":{{"labels":{{"node_name":"gke-n2"}}}}}}"#
        ),
        1 => format!(" {payload}\t"),
        _ => payload,
    }
}

#[test]
fn fast_paths_decode_generated_gke_policy_records_as_serde_does() {
    let (tally, _) = compare_generated(0x2545_f491_4f6c_dd1d, 10_000, gke_policy_record);
    let g = of(Format::GkePolicyAction, &tally);
    assert!(g.fast > 3_000 && g.general > 1_000, "{g:?}");
}

/// A Calico flow document (Felix `flows.log`), now and then an Elasticsearch hit around one,
/// with fields in any order, any of them missing or null, and odd values.
fn calico_record(rng: &mut Rng) -> String {
    let labels = [
        r#"{"labels":["app=worker","pod-template-hash=296c55870"]}"#,
        r#"{"app":"worker"}"#,
        r#"["app=worker"]"#,
        "null",
        r#""app=worker""#,
    ];
    let policies = [
        r#"{"enforced_policies":["0|default|ns-024/knp.default.svc02-ingress|allow|0"]}"#,
        r#"{"enforced_policies":["0|default|ns-024/knp.default.db|deny|-1"],"all_policies":["0|t|x|allow|1"]}"#,
        r#"{"enforced_policies":[],"all_policies":["1|__PROFILE__|pro:kns.ns-024|allow|0"]}"#,
        r#"{"pending_policies":[]}"#,
        "null",
        r#""allow-all""#,
        r#"{"enforced_policies":[3]}"#,
    ];
    let mut parts = vec![
        format!(
            r#""start_time":{}"#,
            rng.pick(&[
                "1795201500",
                r#""1795201500""#,
                r#""2026-11-20T19:05:00Z""#,
                "1795201500.5",
                "null",
                r#""noon""#
            ])
        ),
        format!(
            r#""source_ip":{}"#,
            rng.pick(&[
                r#""10.100.16.129""#,
                "null",
                r#""""#,
                r#""fd00::8""#,
                r#""10.100.16.300""#,
                "7"
            ])
        ),
        format!(
            r#""dest_ip":{}"#,
            rng.pick(&[r#""10.100.4.0""#, "null", r#""-""#])
        ),
        format!(
            r#""source_port":{}"#,
            rng.pick(&["null", "49431", r#""49431""#, "70000", "-1", r#""+5""#])
        ),
        format!(
            r#""dest_port":{}"#,
            rng.pick(&["10074", "9200", r#""9200""#, "null", "1e3"])
        ),
        format!(
            r#""source_type":{},"source_name":{},"source_name_aggr":"worker-296c55870-*","source_namespace":{}"#,
            rng.pick(&[r#""wep""#, r#""hep""#, r#""net""#, r#""ns""#, r#""x""#, "null"]),
            rng.pick(&[
                r#""worker-296c55870-f6a3f""#,
                r#""-""#,
                "null",
                r#""caf\u00e9""#
            ]),
            rng.pick(&[r#""ns-025""#, r#""-""#, "null"]),
        ),
        format!(
            r#""dest_type":{},"dest_name":"svc02-354b59e2d-512d1","dest_name_aggr":{},"dest_namespace":"ns-024""#,
            rng.pick(&[r#""wep""#, r#""net""#, r#""ns""#]),
            rng.pick(&[r#""svc02-354b59e2d-*""#, r#""pvt""#, r#""pub""#]),
        ),
        format!(r#""source_labels":{}"#, rng.pick(&labels)),
        format!(r#""dest_labels":{}"#, rng.pick(&labels)),
        format!(
            r#""proto":{},"action":{},"reporter":{}"#,
            rng.pick(&[r#""tcp""#, r#""udp""#, r#""icmp""#, r#""6""#, r#""sctp""#]),
            rng.pick(&[r#""allow""#, r#""deny""#, r#""pass""#, "null"]),
            rng.pick(&[r#""src""#, r#""dst""#, r#""""#]),
        ),
        format!(r#""policies":{}"#, rng.pick(&policies)),
    ];
    let optional = [
        (
            60,
            format!(
                r#""bytes_in":{},"bytes_out":{}"#,
                rng.pick(&["12844", r#""12844""#, "0", "null"]),
                rng.pick(&[
                    "62098",
                    "-3",
                    "18446744073709551615",
                    "18446744073709551616"
                ]),
            ),
        ),
        (
            60,
            format!(
                r#""packets_in":{},"packets_out":{}"#,
                rng.pick(&["10", "0", "null"]),
                rng.pick(&["9", "0", r#""9""#]),
            ),
        ),
        (
            70,
            format!(
                r#""num_flows":{},"num_flows_started":{}"#,
                rng.pick(&["1", "0", "3"]),
                rng.pick(&["5", "0", "null"]),
            ),
        ),
        (
            50,
            format!(
                r#""end_time":{}"#,
                rng.pick(&["1795201800", "1795201800000", r#""1795201800""#])
            ),
        ),
        (
            50,
            format!(
                r#""host":{}"#,
                rng.pick(&[r#""node-24""#, r#""-""#, r#""""#, "null"])
            ),
        ),
        (
            40,
            format!(
                r#""dest_service_namespace":{},"dest_service_name":{},"dest_service_port_num":null"#,
                rng.pick(&[r#""-""#, r#""ns-024""#]),
                rng.pick(&[r#""-""#, r#""svc02""#]),
            ),
        ),
        (
            30,
            format!(
                r#""dest_domains":{}"#,
                rng.pick(&[
                    r#"["db.example.com","-"]"#,
                    r#""db.example.com""#,
                    "null",
                    "[1]",
                    "{}"
                ])
            ),
        ),
        (
            20,
            r#""extra":{"a":[1,2,{"b":"c"}]},"@timestamp":1795201800000"#.to_string(),
        ),
        (3, r#""host":"node-2""#.to_string()),
    ];
    for (percent, field) in optional {
        if rng.chance(percent) {
            parts.push(field);
        }
    }
    shuffle(rng, &mut parts);
    let document = format!("{{{}}}", parts.join(","));
    match rng.below(20) {
        0 => format!(r#"{{"_index":"tigera_secure_ee_flows","_source":{document}}}"#),
        1 => format!(" {document}\t"),
        _ => document,
    }
}

#[test]
fn fast_paths_decode_generated_calico_records_as_serde_does() {
    let (tally, _) = compare_generated(0x9e37_79b9_7f4a_7c15, 10_000, calico_record);
    let c = of(Format::Calico, &tally);
    assert!(c.fast > 1_000 && c.general > 1_000, "{c:?}");
}

/// A VPC Flow Logs entry (now and then a bare payload), with fields in any order, any of them
/// missing or null, odd values, and now and then the fields the fast path leaves to serde.
fn vpc_record(rng: &mut Rng) -> String {
    let instance = [
        r#"{"project_id":"flowq-bench","vm_name":"gke-prod-pool-a-node-25","zone":"europe-west1-b","region":"europe-west1"}"#,
        r#"{"vm_name":"gke-n1","managed_instance_group":{"name":"pool-a","zone":"z"}}"#,
        r#"{"vm_name":null}"#,
        r#"{"vm_name":"a","vm_name":"b"}"#,
        "null",
        r#"["gke-n1"]"#,
    ];
    let gke = [
        r#"{"cluster":{"cluster_name":"prod","cluster_location":"europe-west1"},"pod":{"pod_name":"worker-296c55870-f6a3f","pod_namespace":"ns-025","pod_workload":{"workload_name":"worker","workload_type":"DEPLOYMENT"}}}"#,
        r#"{"pod":{"pod_name":"es-0","pod_namespace":"vamp","workload":{"name":"es","type":"STATEFUL_SET"}}}"#,
        r#"{"pod":{"pod_name":"es-0","pod_workload":{"workload_name":"es","name":"x"}}}"#,
        r#"{"cluster":null,"service":[{"service_name":"es","service_namespace":"vamp"}]}"#,
        r#"{"service":null,"pod":{"pod_name":"caf\u00e9"}}"#,
        "null",
    ];
    let vpc = [
        r#"{"project_id":"flowq-bench","vpc_name":"prod","subnetwork_name":"gke"}"#,
        r#"{"vpc_name":"prod","subnetwork_region":"europe-west1"}"#,
        r#"{"vpc_name":7}"#,
        "null",
    ];
    let mut parts = vec![
        format!(
            r#""connection":{{"src_ip":{},"src_port":{},"dest_ip":"10.100.4.0","dest_port":{},"protocol":{}}}"#,
            rng.pick(&[
                r#""10.100.16.129""#,
                r#""fd00::8""#,
                r#""""#,
                "null",
                r#""10.1.1.300""#
            ]),
            rng.pick(&["49431", r#""49431""#, "null", "70000", "-1"]),
            rng.pick(&["10074", "9200", "1.5", r#""+80""#]),
            rng.pick(&["6", "17", r#""6""#, r#""tcp""#, "6.0", "-6", "null"]),
        ),
        format!(
            r#""reporter":{}"#,
            rng.pick(&[
                r#""SRC""#,
                r#""DEST""#,
                r#""SRC_GATEWAY""#,
                r#""x""#,
                "null"
            ])
        ),
        format!(r#""src_instance":{}"#, rng.pick(&instance)),
        format!(r#""dest_instance":{}"#, rng.pick(&instance)),
        format!(r#""src_gke_details":{}"#, rng.pick(&gke)),
        format!(r#""dest_gke_details":{}"#, rng.pick(&gke)),
    ];
    let optional = [
        (70, format!(r#""src_vpc":{}"#, rng.pick(&vpc))),
        (70, format!(r#""dest_vpc":{}"#, rng.pick(&vpc))),
        (
            80,
            format!(
                r#""bytes_sent":{},"packets_sent":{}"#,
                rng.pick(&[r#""4200""#, "4200", "null", r#""-3""#]),
                rng.pick(&[r#""35""#, "35", "1e2"]),
            ),
        ),
        (
            80,
            format!(
                r#""start_time":{},"end_time":{}"#,
                rng.pick(&[
                    r#""2026-11-20T19:05:00.003999948Z""#,
                    r#""1795201500""#,
                    "1795201500",
                    r#""noon""#
                ]),
                rng.pick(&[r#""2026-11-20T19:05:05.003999948Z""#, "null"]),
            ),
        ),
        (
            30,
            format!(
                r#""rtt_msec":{}"#,
                rng.pick(&[r#""12""#, "12", "12.5", "null", "{}"])
            ),
        ),
        (
            10,
            format!(
                r#""disposition":{}"#,
                rng.pick(&[r#""DROPPED""#, r#""dropped""#, r#""ALLOWED""#])
            ),
        ),
        (
            5,
            r#""dest_location":{"continent":"Europe","country":"fra","asn":3215}"#.to_string(),
        ),
        (5, r#""src_google_service":null"#.to_string()),
        (
            5,
            r#""internet_routing_details":{"egress_as_path":[{"as_details":[{"asn":15169}]}]}"#
                .to_string(),
        ),
        (20, r#""extra":{"a":[1,2,{"b":"c"}]}"#.to_string()),
        (3, r#""reporter":"DEST""#.to_string()),
    ];
    for (percent, field) in optional {
        if rng.chance(percent) {
            parts.push(field);
        }
    }
    shuffle(rng, &mut parts);
    let payload = format!("{{{}}}", parts.join(","));
    let mut envelope = vec![
        format!(r#""jsonPayload":{payload}"#),
        format!(
            r#""logName":{}"#,
            rng.pick(&[
                r#""projects/flowq-bench/logs/compute.googleapis.com%2Fvpc_flows""#,
                r#""projects/p/logs/compute.googleapis.com%2Fvpc_flows""#,
                "3",
            ])
        ),
        format!(
            r#""resource":{}"#,
            rng.pick(&[
                r#"{"type":"gce_subnetwork","labels":{"project_id":"flowq-bench","location":"europe-west1-b","subnetwork_id":"4242","subnetwork_name":"gke"}}"#,
                r#"{"type":"vpc_flow_logs_config","labels":{"name":"cfg","n":3}}"#,
                r#""gce_subnetwork""#,
                "null",
            ])
        ),
        format!(
            r#""insertId":{}"#,
            rng.pick(&[r#""d614a872315e3f""#, r#""""#, "7"])
        ),
        r#""timestamp":"2026-11-20T19:05:20.003999948Z","receiveTimestamp":"2026-11-20T19:05:21.003999948Z""#.to_string(),
    ];
    if rng.chance(20) {
        envelope.push(format!(
            r#""labels":{}"#,
            rng.pick(&[r#"{"target_resource_name":"x"}"#, "[1]", "null"])
        ));
    }
    shuffle(rng, &mut envelope);
    match rng.below(20) {
        0 => payload,
        1 => format!(" {{{}}}\t", envelope.join(",")),
        _ => format!("{{{}}}", envelope.join(",")),
    }
}

#[test]
fn fast_paths_decode_generated_vpc_records_as_serde_does() {
    let (tally, _) = compare_generated(0x1234_5678_9abc_def1, 10_000, vpc_record);
    let v = of(Format::GkeVpc, &tally);
    assert!(v.fast > 1_000 && v.general > 1_000, "{v:?}");
}
