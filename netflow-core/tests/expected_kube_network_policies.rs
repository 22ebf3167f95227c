//! The hand-verified facts of `../shared/formats/samples/EXPECTED.md` for the
//! kube-network-policies samples (one test per sample file), asserted through the public API,
//! and the project's own fixtures (`testdata/flows/kube-network-policies/`): every record shape
//! (klog JSON lines, pretty-printed JSON, klog text with its packet lines), evaluations and
//! verdicts joined by packet id, identities from the log and from a snapshot. Each shared
//! sample test is skipped (with a note) when `../shared` is not beside the project.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Datelike, Timelike, Utc};
use netflow_core::ingest::framing::Framing;
use netflow_core::{
    Action, DeniedQuery, Direction, Flow, Format, Identity, IdentitySource, InputReport, Protocol,
    Session, Snapshot, SnapshotSet, Snapshots,
};

const DIR: &str = "kube-network-policies";

fn sample(file: &str) -> Option<PathBuf> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/formats/samples")
        .join(DIR)
        .join(file);
    if !path.is_file() {
        eprintln!("note: {} not found; its facts not checked", path.display());
        return None;
    }
    Some(path)
}

fn fixture(file: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata/flows/kube-network-policies")
        .join(file)
        .display()
        .to_string()
}

/// Reads one input through a [`Session`] with no snapshot: its one report and its flows.
fn read(path: &Path) -> (InputReport, Vec<Flow>) {
    let name = path.display().to_string();
    let mut flows = Vec::new();
    let mut summary = Session::new([name.clone()])
        .for_each_flow(|f| -> netflow_core::Result<()> {
            flows.push(f);
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    assert!(summary.failed.is_empty(), "{name}: {:?}", summary.failed);
    let report = summary.reports.remove(0);
    assert_eq!(report.skipped, 0, "{name}: {:?}", report.skips);
    assert_eq!(
        report.records,
        report.flows + report.event_count() + report.skipped + report.prefiltered,
        "{name}"
    );
    (report, flows)
}

fn ip(s: &str) -> Option<IpAddr> {
    Some(s.parse().unwrap())
}

fn pod(identity: &Identity) -> String {
    match identity {
        Identity::Pod(p) => format!("{}/{}", p.namespace, p.name),
        other => panic!("expected a pod, found {other:?}"),
    }
}

#[test]
fn evaluating_packet_json_sample() {
    let Some(path) = sample("knp-docs_json-logging_evaluating-packet.json") else {
        return;
    };
    let (report, flows) = read(&path);
    assert_eq!(report.format, Some(Format::KubeNetworkPolicies));
    assert_eq!(report.framing, Some(Framing::Document));
    // 1 JSON document, 1 record: an evaluation whose verdict is in another file.
    assert_eq!((report.records, report.flows, report.incomplete), (1, 1, 1));
    let f = &flows[0];
    assert_eq!(f.action, Action::Unknown);
    assert_eq!(pod(&f.src.identity), "default/frontend");
    assert_eq!(pod(&f.dst.identity), "default/backend");
    assert_eq!(f.src.identity_source, IdentitySource::Log);
    assert_eq!(
        (f.src.ip, f.src.port, f.dst.ip, f.dst.port),
        (ip("10.0.1.3"), Some(40243), ip("10.0.2.2"), Some(8080))
    );
    assert_eq!(f.protocol, Protocol::Tcp);
    // ts 1720777151838.3552 ms since the epoch.
    let expected: DateTime<Utc> = "2024-07-12T09:39:11.838355Z".parse().unwrap();
    assert_eq!(f.time, Some(expected));
    assert!(f.policies.is_empty());
    assert_eq!(f.node, None);
}

#[test]
fn verdict_json_sample() {
    let Some(path) = sample("knp-docs_json-logging_verdict.json") else {
        return;
    };
    let (report, flows) = read(&path);
    assert_eq!(report.format, Some(Format::KubeNetworkPolicies));
    // No tuple: alone it is a verdict without its evaluation, counted and said, no flow.
    assert_eq!((report.records, report.flows, report.orphans), (1, 0, 1));
    assert_eq!(report.events["verdict_without_evaluation"], 1);
    assert!(flows.is_empty());
}

#[test]
fn evaluating_packet_and_its_verdict_join_by_id() {
    let (Some(evaluation), Some(verdict)) = (
        sample("knp-docs_json-logging_evaluating-packet.json"),
        sample("knp-docs_json-logging_verdict.json"),
    ) else {
        return;
    };
    // `cat` of the two documents: pretty-printed values one after another.
    let dir = tempfile::tempdir().unwrap();
    let both = dir.path().join("both.json");
    let text =
        std::fs::read_to_string(&evaluation).unwrap() + &std::fs::read_to_string(&verdict).unwrap();
    std::fs::write(&both, text).unwrap();
    let (report, flows) = read(&both);
    assert_eq!(report.framing, Some(Framing::Concatenated));
    assert_eq!((report.records, report.flows, report.incomplete), (2, 1, 0));
    assert_eq!(report.events["packet_verdict"], 1);
    let f = &flows[0];
    assert_eq!((f.action, f.direction), (Action::Denied, Direction::Egress));
    assert_eq!(f.action_raw, "Packet denied by egress policy");
    assert_eq!(f.dst.port, Some(8080));
}

#[test]
fn text_format_evaluating_packet_sample() {
    let Some(path) = sample("knp-docs_json-logging_text-format-evaluating-packet.log") else {
        return;
    };
    let (report, flows) = read(&path);
    assert_eq!(report.format, Some(Format::KubeNetworkPolicies));
    assert_eq!(report.framing, Some(Framing::Lines));
    // 5 lines, 1 record: the header, its packet line, two hex-dump lines and ` >`.
    assert_eq!((report.last_line, report.records, report.flows), (5, 1, 1));
    let f = &flows[0];
    assert_eq!(pod(&f.src.identity), "default/frontend");
    assert_eq!(pod(&f.dst.identity), "default/backend");
    assert_eq!(
        (f.src.ip, f.src.port, f.dst.ip, f.dst.port),
        (ip("10.0.1.3"), Some(40243), ip("10.0.2.2"), Some(8080))
    );
    assert_eq!(f.protocol, Protocol::Tcp);
    assert_eq!(f.origin.line, 1);
    // klog text has no year: July 12, 09:53:52.257809.
    let t = f.time.unwrap();
    assert_eq!(
        (t.month(), t.day(), t.hour(), t.minute(), t.second()),
        (7, 12, 9, 53, 52)
    );
    assert_eq!(t.nanosecond(), 257_809_000);
    assert_eq!(report.incomplete, 1);
}

#[test]
fn json_lines_fixture_joins_each_packet_into_one_flow() {
    let (report, flows) = read(Path::new(&fixture("klog.ndjson")));
    assert_eq!(report.format, Some(Format::KubeNetworkPolicies));
    assert!(
        report.detected_because.starts_with("line 2: "),
        "{}",
        report.detected_because
    );
    assert_eq!(
        (report.records, report.flows, report.event_count()),
        (18, 6, 12)
    );
    assert_eq!(report.events["log_message"], 2);
    assert_eq!(report.events["packet_trace"], 1);
    assert_eq!(report.events["packet_evaluation"], 3);
    assert_eq!(report.events["packet_verdict"], 5);
    assert_eq!(report.events["packet_finished"], 1);
    assert_eq!((report.incomplete, report.orphans), (1, 0));
    let seen: Vec<(u64, Action, Direction, Option<u16>)> = flows
        .iter()
        .map(|f| (f.origin.line, f.action, f.direction, f.dst.port))
        .collect();
    assert_eq!(
        seen,
        [
            (2, Action::Denied, Direction::Ingress, Some(9200)),
            (6, Action::Denied, Direction::Ingress, Some(9200)),
            (9, Action::Denied, Direction::Egress, Some(443)),
            (11, Action::Allowed, Direction::Unknown, Some(9200)),
            // The engine's evaluation failed: the controller's drop is no policy's denial.
            (15, Action::Dropped, Direction::Unknown, Some(53)),
            (18, Action::Unknown, Direction::Unknown, Some(8080)),
        ]
    );
    assert_eq!(flows[4].action_raw, "Finished syncing packet: drop");
    assert_eq!(flows[2].dst.identity, Identity::Unknown);
    assert!(flows.iter().all(|f| f.count == 1 && f.is_request()));
}

#[test]
fn klog_text_fixture_reads_packets_after_their_evaluation_and_the_year_from_kubectl() {
    let (report, flows) = read(Path::new(&fixture("klog-text.log")));
    assert_eq!(report.format, Some(Format::KubeNetworkPolicies));
    assert_eq!(report.framing, Some(Framing::Lines));
    // The startup line, two evaluations and a verdict of packet 7, one evaluation and a verdict
    // of packet 8 (the packet and dump lines are part of their evaluation's record).
    assert_eq!((report.records, report.flows, report.incomplete), (6, 2, 0));
    let f = &flows[0];
    assert_eq!(
        (f.action, f.direction),
        (Action::Denied, Direction::Ingress)
    );
    assert_eq!(
        (f.src.ip, f.dst.ip, f.dst.port),
        (ip("10.244.1.15"), ip("10.244.2.10"), Some(9200))
    );
    let expected: DateTime<Utc> = "2026-11-20T19:05:02.100211Z".parse().unwrap();
    assert_eq!(f.time, Some(expected));
    let v6 = &flows[1];
    assert_eq!(
        (v6.action, v6.direction),
        (Action::Denied, Direction::Egress)
    );
    assert_eq!(
        (v6.src.ip, v6.src.port, v6.dst.ip, v6.dst.port),
        (
            ip("fd00:10:244:1::f"),
            Some(50200),
            ip("2001:db8::7"),
            Some(443)
        )
    );
}

#[test]
fn the_container_runtimes_log_file_reads_as_kubectl_prints_it() {
    let (kubectl, from_kubectl) = read(Path::new(&fixture("klog-text.log")));
    let (file, from_file) = read(Path::new(&fixture("container.log")));
    assert_eq!(file.format, Some(Format::KubeNetworkPolicies));
    assert_eq!(
        (file.records, file.flows, file.event_count()),
        (kubectl.records, kubectl.flows, kubectl.event_count())
    );
    let key = |f: &Flow| {
        (
            f.time,
            f.src.ip,
            f.dst.ip,
            f.dst.port,
            f.action,
            f.direction,
        )
    };
    assert_eq!(
        from_file.iter().map(key).collect::<Vec<_>>(),
        from_kubectl.iter().map(key).collect::<Vec<_>>()
    );
}

#[test]
fn pretty_printed_fixture_is_one_accepted_flow() {
    let (report, flows) = read(Path::new(&fixture("jq-pretty.json")));
    assert_eq!(report.framing, Some(Framing::Concatenated));
    assert_eq!((report.records, report.flows), (3, 1));
    assert_eq!(flows[0].action, Action::Allowed);
    assert_eq!(pod(&flows[0].dst.identity), "vamp/elasticsearch-0");
}

#[test]
fn denied_packets_are_explained_from_the_snapshot_with_the_side_the_log_names() {
    let cluster = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/clusters/vamp.json");
    let snapshot = Snapshot::load(&cluster, None).unwrap();
    let session = Session::new([fixture("klog.ndjson")])
        .with_snapshots(Snapshots::loaded(SnapshotSet::new(vec![snapshot])));
    let denied = session.denied(&DeniedQuery::default()).unwrap();
    let es = denied
        .connections
        .iter()
        .find(|c| c.dst.port == Some(9200))
        .expect("the release agent's denial");
    assert_eq!(es.count, 2);
    assert_eq!(es.direction, Direction::Ingress);
    assert_eq!(
        es.src.identity.to_string(),
        "customer1/release-agent-6c8f9b7d5-w4k2j"
    );
    let why = es.why.as_ref().expect("explained");
    assert!(
        why.summary.contains("vamp/elasticsearch-ingress"),
        "{}",
        why.summary
    );
    assert_eq!(why.mismatch, None);
    let egress = denied
        .connections
        .iter()
        .find(|c| c.dst.port == Some(443))
        .expect("the egress denial");
    assert_eq!(egress.direction, Direction::Egress);
    let why = egress.why.as_ref().expect("explained");
    assert!(
        why.summary.contains("customer1/release-agent-egress"),
        "{}",
        why.summary
    );
}

/// Regression: detection used to look only at the first chunk of a file, so a log opening with
/// startup messages (records that decide no format) failed to be recognised when its first
/// chunk held only those.
#[test]
fn startup_messages_before_the_first_packet_do_not_hide_the_format_whatever_the_chunks() {
    use netflow_core::input::InputReader;
    use std::ops::ControlFlow;
    let startup = r#"{"ts":1795201498000.25,"caller":"app/main.go:112","msg":"Starting kube-network-policies","v":0}"#;
    let packet = std::fs::read_to_string(fixture("klog.ndjson")).unwrap();
    let text = format!("{startup}\n{startup}\n\n{startup}\n{packet}");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kube-network-policies.log");
    std::fs::write(&path, &text).unwrap();
    for chunk_bytes in [1, 64, 1 << 20] {
        let options = netflow_core::ReadOptions {
            chunk_bytes,
            ..Default::default()
        };
        let mut mapped = 0;
        let report = netflow_core::read_input(path.to_str().unwrap(), &options, &mut |_| {
            mapped += 1;
            ControlFlow::Continue(())
        })
        .unwrap_or_else(|e| panic!("file in chunks of {chunk_bytes}: {e}"));
        assert_eq!(
            (report.format, mapped),
            (Some(Format::KubeNetworkPolicies), 6)
        );
        assert_eq!(report.skipped, 0);
        let reader =
            InputReader::from_reader(Box::new(std::io::Cursor::new(text.clone().into_bytes())))
                .unwrap();
        let mut streamed = 0;
        let report = netflow_core::ingest::read_from("-", reader, &options, &mut |_| {
            streamed += 1;
            ControlFlow::Continue(())
        })
        .unwrap_or_else(|e| panic!("stream in chunks of {chunk_bytes}: {e}"));
        assert_eq!((report.records, streamed), (21, 6));
    }
}

/// The log's side is compared with the snapshot's verdict for that side: an egress denial of a
/// connection the source's egress policy allows is a mismatch.
#[test]
fn a_denial_the_snapshot_does_not_explain_is_a_mismatch() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("knp.log");
    std::fs::write(
        &log,
        concat!(
            r#"{"ts":1795201502000.0,"caller":"networkpolicy/logging.go:67","msg":"Evaluating packet","id":5,"direction":"Egress","srcPod":"customer1/release-agent-6c8f9b7d5-w4k2j","dstPod":"vamp/elasticsearch-0","packet":{"ID":5,"Family":"IPv4","SrcIP":"10.244.1.15","DstIP":"10.244.2.10","Proto":"TCP","SrcPort":41234,"DstPort":9200}}"#,
            "\n",
            r#"{"ts":1795201502000.1,"caller":"networkpolicy/engine.go:57","msg":"Packet denied by egress policy","id":5}"#,
            "\n"
        ),
    )
    .unwrap();
    let cluster = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/clusters/vamp.json");
    let snapshot = Snapshot::load(&cluster, None).unwrap();
    let session = Session::new([log.display().to_string()])
        .with_snapshots(Snapshots::loaded(SnapshotSet::new(vec![snapshot])));
    let denied = session.denied(&DeniedQuery::default()).unwrap();
    let c = &denied.connections[0];
    assert_eq!(c.direction, Direction::Egress);
    let why = c.why.as_ref().expect("explained");
    let mismatch = why.mismatch.as_deref().expect("a mismatch");
    assert!(mismatch.contains("snapshot"), "{mismatch}");
}
