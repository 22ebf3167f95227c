//! Input layouts through the public API: the facts `../shared/formats/samples/EXPECTED.md` lists
//! for the pretty-printed Hubble sample (skipped, with a note, when `../shared` is not beside
//! the project), the `jq .` layouts of `testdata/flows/hubble/jq-*.json` read record for record
//! like the same records as NDJSON, and a format the caller chose that the records are not in.

use std::collections::BTreeSet;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use netflow_core::ingest::framing::{self, DocumentItem, Framing};
use netflow_core::{
    read_input, Action, Direction, Error, Flow, Format, Identity, InputReport, Protocol,
    ReadOptions,
};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A shared sample, or `None` (with a note) when the shared folder is absent.
fn sample(path: &str) -> Option<PathBuf> {
    let file = root().join("../shared/formats/samples").join(path);
    if file.is_file() {
        Some(file)
    } else {
        eprintln!("note: {} not found; its facts not checked", file.display());
        None
    }
}

fn read(path: &Path, options: &ReadOptions) -> (InputReport, Vec<Flow>) {
    let name = path.to_str().unwrap();
    let mut flows = Vec::new();
    let report = read_input(name, options, &mut |f| {
        flows.push(f);
        ControlFlow::Continue(())
    })
    .unwrap_or_else(|e| panic!("{name}: {e}"));
    (report, flows)
}

#[test]
fn the_pretty_printed_legacy_bare_flow_keeps_every_fact() {
    let Some(file) =
        sample("hubble/cilium-hands-on-lab_hubble-observe-json_legacy-bare-flow.pretty.json")
    else {
        return;
    };

    // 1 document, 1 record, 1 flow; not NDJSON (parsed as a whole document).
    let (report, flows) = read(&file, &ReadOptions::default());
    assert_eq!(report.format, Some(Format::Hubble));
    assert_eq!(report.framing, Some(Framing::Document));
    assert_eq!(
        (
            report.records,
            report.flows,
            report.skipped,
            report.event_count()
        ),
        (1, 1, 0, 0),
        "{:?}",
        report.skips
    );
    assert_eq!(flows.len(), 1);
    let flow = &flows[0];
    assert_eq!(flow.origin.line, 1);

    // Top-level keys, as the record the document reader splits out holds them.
    let mut bytes = std::fs::read(&file).unwrap();
    let items = framing::document_items(&mut bytes);
    let [DocumentItem::Record(range)] = items.as_slice() else {
        panic!("one record expected, found {items:?}");
    };
    let record: serde_json::Value = serde_json::from_slice(&bytes[range.clone()]).unwrap();
    let keys: BTreeSet<&str> = record
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let expected: BTreeSet<&str> = [
        "IP",
        "Summary",
        "Type",
        "destination",
        "ethernet",
        "event_type",
        "l4",
        "node_name",
        "source",
        "time",
        "trace_observation_point",
        "traffic_direction",
        "verdict",
    ]
    .into();
    assert_eq!(keys, expected);
    // No `flow` wrapper, no `is_reply`/`reply`, no `uuid`: the reply flag stays unknown.
    for absent in ["flow", "is_reply", "reply", "uuid"] {
        assert!(!keys.contains(absent), "{absent}");
    }
    assert_eq!(flow.is_reply, None);

    // verdict FORWARDED; time; node `minikube`.
    assert_eq!(flow.action, Action::Allowed);
    assert_eq!(flow.action_raw, "FORWARDED");
    assert_eq!(
        flow.time
            .unwrap()
            .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        "2020-12-14T07:58:04.526869639Z"
    );
    assert_eq!(flow.node.as_deref(), Some("minikube"));

    // Source: 10.0.0.69:59974, identity 1, labels [reserved:host] (no namespace/pod): the
    // reporting node itself.
    assert_eq!(flow.src.ip.unwrap().to_string(), "10.0.0.69");
    assert_eq!(flow.src.port, Some(59974));
    assert_eq!(record["source"]["identity"], 1);
    assert_eq!(
        record["source"]["labels"],
        serde_json::json!(["reserved:host"])
    );
    match &flow.src.identity {
        Identity::Node(node) => assert_eq!(node.name.as_deref(), Some("minikube")),
        other => panic!("source {other:?}"),
    }
    assert_eq!(flow.src.identity.namespace(), None);

    // Destination: kube-system/coredns-f9fd979d6-88nqn 10.0.0.120:8080, endpoint ID 2495,
    // identity 2087.
    assert_eq!(flow.dst.ip.unwrap().to_string(), "10.0.0.120");
    assert_eq!(flow.dst.port, Some(8080));
    let pod = flow.dst.identity.pod().expect("a pod destination");
    assert_eq!(
        (pod.namespace.as_str(), pod.name.as_str()),
        ("kube-system", "coredns-f9fd979d6-88nqn")
    );
    assert_eq!(
        pod.labels.get("k8s-app").map(String::as_str),
        Some("kube-dns")
    );
    assert_eq!(record["destination"]["ID"], 2495);
    assert_eq!(record["destination"]["identity"], 2087);

    // TCP, flags {SYN}; Type L3_L4; event_type.type 4 (trace); TO_ENDPOINT; INGRESS;
    // Summary "TCP Flags: SYN". No policy names.
    assert_eq!(flow.protocol, Protocol::Tcp);
    assert_eq!(
        record["l4"]["TCP"]["flags"],
        serde_json::json!({"SYN": true})
    );
    assert_eq!(record["Type"], "L3_L4");
    assert_eq!(record["event_type"]["type"], 4);
    assert_eq!(record["trace_observation_point"], "TO_ENDPOINT");
    assert_eq!(
        flow.details
            .as_ref()
            .and_then(|d| d.observation_point.as_deref()),
        Some("TO_ENDPOINT")
    );
    assert_eq!(record["traffic_direction"], "INGRESS");
    assert_eq!(flow.direction, Direction::Ingress);
    assert_eq!(record["Summary"], "TCP Flags: SYN");
    assert!(flow.policies.is_empty());
    assert_eq!(flow.drop_reason, None);
}

/// The same values as NDJSON, one per line, in a temporary file.
fn as_ndjson(file: &Path, dir: &Path) -> PathBuf {
    let bytes = std::fs::read(file).unwrap();
    let values = serde_json::Deserializer::from_slice(&bytes).into_iter::<serde_json::Value>();
    let text: String = values
        .map(|v| format!("{}\n", serde_json::to_string(&v.unwrap()).unwrap()))
        .collect();
    let out = dir.join(file.file_name().unwrap()).with_extension("ndjson");
    std::fs::write(&out, text).unwrap();
    out
}

/// A flow with where it was read left out, to compare two layouts of the same records.
fn content(flow: &Flow) -> String {
    let mut flow = flow.clone();
    flow.origin.line = 0;
    flow.origin.input = "".into();
    format!("{flow:?}")
}

#[test]
fn jq_layouts_read_every_record_like_ndjson_with_the_line_it_starts_on() {
    let dir = tempfile::tempdir().unwrap();
    for (file, starts) in [
        // Three records, a blank line after the first.
        ("jq-pretty.json", vec![1, 66, 130]),
        // `}{`: the second record starts on the line the first ends on.
        ("jq-glued.json", vec![1, 54]),
        // One pretty record, then two NDJSON lines.
        ("jq-mixed.json", vec![1, 54, 55]),
    ] {
        let path = root().join("testdata/flows/hubble").join(file);
        let (report, flows) = read(&path, &ReadOptions::default());
        assert_eq!(report.framing, Some(Framing::Concatenated), "{file}");
        assert_eq!(report.framing_name(), "concatenated", "{file}");
        assert_eq!(report.format, Some(Format::Hubble), "{file}");
        assert!(report.detected_because.starts_with("line 1: "), "{file}");
        assert_eq!(report.skipped, 0, "{file}: {:?}", report.skips);
        assert_eq!(report.records, starts.len() as u64, "{file}");
        let lines: Vec<u64> = flows.iter().map(|f| f.origin.line).collect();
        assert_eq!(lines, starts, "{file}");

        let (ndjson_report, ndjson_flows) =
            read(&as_ndjson(&path, dir.path()), &ReadOptions::default());
        assert_eq!(ndjson_report.framing, Some(Framing::Lines));
        assert_eq!(
            flows.iter().map(content).collect::<Vec<_>>(),
            ndjson_flows.iter().map(content).collect::<Vec<_>>(),
            "{file}"
        );
        assert_eq!(report.duplicates, ndjson_report.duplicates, "{file}");

        // Named as what it is, the layout reads the same.
        let chosen = ReadOptions {
            format: Some(Format::Hubble),
            ..ReadOptions::default()
        };
        let (_, chosen_flows) = read(&path, &chosen);
        assert_eq!(chosen_flows, flows, "{file}");
    }
    // The denied SYN reported twice (policy verdict, then drop) is one attempt.
    let (report, flows) = read(
        &root().join("testdata/flows/hubble/jq-pretty.json"),
        &ReadOptions::default(),
    );
    assert_eq!(report.duplicates, 1);
    assert_eq!(
        flows
            .iter()
            .filter(|f| f.action == Action::Denied)
            .map(|f| f.count)
            .sum::<u64>(),
        1
    );
}

#[test]
fn a_format_the_records_are_not_in_is_an_error_naming_what_they_look_like() {
    let calico = root().join("testdata/flows/calico/flows.log.ndjson");
    let pretty = root().join("testdata/flows/hubble/jq-pretty.json");
    for (path, chosen, looks_like) in [
        (&calico, Format::Hubble, "looks like calico"),
        (&pretty, Format::Calico, "looks like hubble"),
        (&pretty, Format::GkeVpc, "looks like hubble"),
    ] {
        let options = ReadOptions {
            format: Some(chosen),
            ..ReadOptions::default()
        };
        let mut delivered = 0;
        let err = read_input(path.to_str().unwrap(), &options, &mut |_| {
            delivered += 1;
            ControlFlow::Continue(())
        })
        .expect_err("records of another format");
        assert_eq!(delivered, 0);
        assert!(
            matches!(&err, Error::NotTheFormat { format, .. } if *format == chosen),
            "{err:?}"
        );
        let msg = err.to_string();
        assert!(
            msg.contains(&format!("does not read as {chosen}: ")),
            "{msg}"
        );
        assert!(msg.contains(&format!("{looks_like} (line 1: ")), "{msg}");
    }
}
