//! Per-record costs with criterion: decoding one record of each format, pre-filtering a line,
//! resolving an address to an identity, and evaluating a connection's policies (uncached and
//! memoised). Inputs are the project's own fixtures.
//!
//! ```text
//! cargo bench -p netflow-core --bench per_record
//! ```

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use netflow_core::flow::Origin;
use netflow_core::ingest::decode_record;
use netflow_core::policy::{Engine, Subject};
use netflow_core::query::{needles_for, FlowFilter, PortRange};
use netflow_core::{Format, Protocol, Snapshot};

fn fixture(path: &str) -> Vec<u8> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata");
    std::fs::read(root.join(path)).expect("fixture")
}

fn first_line(path: &str, contains: &str) -> Vec<u8> {
    fixture(path)
        .split(|b| *b == b'\n')
        .find(|l| l.windows(contains.len()).any(|w| w == contains.as_bytes()))
        .expect("a matching line")
        .to_vec()
}

fn origin() -> Origin {
    Origin {
        input: Arc::from("bench"),
        line: 1,
    }
}

fn decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode");
    let hubble_line = first_line("flows/hubble/incident.ndjson", "POLICY_DENIED");
    let calico_line = first_line("flows/calico/flows.log.ndjson", "deny");
    let goldmane_line = first_line("flows/goldmane/emitter.ndjson", "Key");
    let policy_line = first_line("flows/gke-policy-action/policy_action.log", "deny");
    let vpc_doc: serde_json::Value =
        serde_json::from_slice(&fixture("flows/gke-vpc/gcloud-logging-read.json")).unwrap();
    let vpc_line = serde_json::to_vec(&vpc_doc[0]).unwrap();
    for (format, line) in [
        (Format::Hubble, &hubble_line),
        (Format::Calico, &calico_line),
        (Format::Goldmane, &goldmane_line),
        (Format::GkePolicyAction, &policy_line),
        (Format::GkeVpc, &vpc_line),
    ] {
        group.throughput(Throughput::Bytes(line.len() as u64));
        group.bench_function(format.name(), |b| {
            b.iter(|| decode_record(format, black_box(line), origin()))
        });
    }
    group.finish();
}

fn prefilter(c: &mut Criterion) {
    let filter = FlowFilter {
        dst_port: vec![PortRange::parse("9200").unwrap()],
        ..Default::default()
    };
    let p = needles_for(&filter, false).unwrap();
    let miss = first_line("flows/hubble/incident.ndjson", "pyserver");
    let mut group = c.benchmark_group("prefilter");
    group.throughput(Throughput::Bytes(miss.len() as u64));
    group.bench_function("hubble-line-ruled-out", |b| {
        b.iter(|| p.may_match(black_box(&miss)))
    });
    group.finish();
}

fn cluster(c: &mut Criterion) {
    let text = String::from_utf8(fixture("clusters/vamp.json")).unwrap();
    let snapshot = Snapshot::from_text(&text, "vamp.json", None).unwrap();
    let ip = "10.244.2.10".parse().unwrap();
    let at = "2026-11-20T19:05:00Z".parse().ok();
    c.bench_function("identity/pod-ip-at-time", |b| {
        b.iter(|| snapshot.identify(black_box(&ip), at))
    });
    let engine = Engine::new(&snapshot);
    let src = Subject::parse("customer1/release-agent-6c8f9b7d5-w4k2j").unwrap();
    let dst = Subject::parse("svc/vamp/elasticsearch").unwrap();
    c.bench_function("policy/evaluate-service-uncached", |b| {
        b.iter(|| engine.evaluate(black_box(&src), &dst, 9200, Protocol::Tcp))
    });
    c.bench_function("policy/evaluate-memoised", |b| {
        b.iter(|| engine.evaluate_cached(black_box(&src), &dst, 9200, Protocol::Tcp))
    });
}

criterion_group!(benches, decode, prefilter, cluster);
criterion_main!(benches);
