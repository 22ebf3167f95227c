//! The pre-filter is exact: for every fixture and sample line and every filter, the flows that
//! pass the filter are the same whether or not the pre-filter ran first — JSON lines and the
//! text lines of the enforcers that print them alike.

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use netflow_core::query::filter::parse_ip_or_cidr;
use netflow_core::query::{needles_for, FlowFilter, NodePattern, PodPattern, PortRange};
use netflow_core::{read_input, Flow, Format, ReadOptions};

/// The formats of text lines, which the filters below must reach.
const TEXT_FORMATS: &[Format] = &[
    Format::AwsNetworkPolicyAgent,
    Format::OvnKubernetesAcl,
    Format::AntreaNpLog,
    Format::CalicoNodeFlows,
];

fn inputs() -> Vec<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    for dir in [
        root.join("testdata/flows"),
        root.join("../shared/formats/samples"),
    ] {
        collect(&dir, &mut files);
    }
    files.sort();
    files
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            collect(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn filters() -> Vec<FlowFilter> {
    let port = |p: &str| PortRange::parse(p).unwrap();
    vec![
        FlowFilter {
            dst_port: vec![port("9200")],
            ..Default::default()
        },
        FlowFilter {
            dst_port: vec![port("8080"), port("53")],
            ..Default::default()
        },
        FlowFilter {
            dst_port: vec![port("440-450")],
            ..Default::default()
        },
        FlowFilter {
            to_ip: vec![parse_ip_or_cidr("10.244.2.10").unwrap()],
            ..Default::default()
        },
        FlowFilter {
            from_ip: vec![parse_ip_or_cidr("10.0.2.1").unwrap()],
            ..Default::default()
        },
        FlowFilter {
            node: vec![NodePattern::parse("node-b").unwrap()],
            ..Default::default()
        },
        FlowFilter {
            node: vec![NodePattern::parse("gke-*").unwrap()],
            ..Default::default()
        },
        FlowFilter {
            namespace: vec!["vamp".into(), "storefront".into()],
            ..Default::default()
        },
        FlowFilter {
            from_pod: vec![PodPattern::parse("customer1/release-agent").unwrap()],
            to_namespace: vec!["vamp".into()],
            ..Default::default()
        },
        // The text-line enforcers: an address, a node the CloudWatch lines name, a port
        // among others in the line.
        FlowFilter {
            to_ip: vec![parse_ip_or_cidr("192.168.50.10").unwrap()],
            ..Default::default()
        },
        FlowFilter {
            node: vec![NodePattern::parse("ip-192-168-45-67*").unwrap()],
            dst_port: vec![port("8080")],
            ..Default::default()
        },
    ]
}

fn matching(file: &Path, filter: &FlowFilter, prefilter: bool) -> Vec<Flow> {
    let options = ReadOptions {
        needles: if prefilter {
            needles_for(filter, true).map(std::sync::Arc::new)
        } else {
            None
        },
        ..Default::default()
    };
    let mut out = Vec::new();
    let name = file.to_str().unwrap();
    let report = read_input(name, &options, &mut |f| {
        if filter.matches(&f) {
            out.push(f)
        }
        ControlFlow::Continue(())
    });
    if let Ok(r) = report {
        assert_eq!(
            r.records,
            r.flows + r.event_count() + r.skipped + r.prefiltered,
            "{name}"
        );
    }
    out
}

#[test]
fn prefiltered_and_unfiltered_results_are_identical() {
    let files = inputs();
    assert!(files.len() >= 10);
    let mut compared = 0;
    let mut per_format: BTreeMap<Format, usize> = BTreeMap::new();
    for file in &files {
        for filter in filters() {
            let full = matching(file, &filter, false);
            let fast = matching(file, &filter, true);
            assert_eq!(full, fast, "{} with {filter:?}", file.display());
            compared += full.len();
            for f in &full {
                *per_format.entry(f.format).or_default() += 1;
            }
        }
    }
    assert!(compared > 20, "the filters match something");
    // The text-line formats are covered: some of their lines pass the filters, so the lines the
    // pre-filter rules out are compared against lines that match.
    for format in TEXT_FORMATS {
        assert!(
            per_format.get(format).copied().unwrap_or(0) > 3,
            "{format}: {per_format:?}"
        );
    }
}

/// kube-network-policies writes a packet over several records, and only its evaluation holds
/// the addresses, ports and pods a filter looks for: its verdict (the packet id alone) must
/// reach the reader however the pre-filter rules, or the flow loses its verdict.
#[test]
fn kube_network_policies_flows_keep_their_verdicts_under_the_prefilter() {
    let knp: Vec<PathBuf> = inputs()
        .into_iter()
        .filter(|p| p.to_string_lossy().contains("kube-network-policies"))
        .collect();
    assert!(knp.len() >= 3, "{knp:?}");
    let mut denied = 0;
    for file in &knp {
        for filter in filters() {
            let full = matching(file, &filter, false);
            let fast = matching(file, &filter, true);
            assert_eq!(full, fast, "{} with {filter:?}", file.display());
            denied += fast
                .iter()
                .filter(|f| f.action == netflow_core::Action::Denied)
                .count();
        }
    }
    assert!(denied >= 6, "{denied} denied flows compared");
}
