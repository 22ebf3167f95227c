//! The kube-network-policies decoder and the joining of its records on arbitrary text: every
//! line decodes to a part of a packet's record, an event, a blank or a skip with a cause (never
//! a panic), and the reader forced to the format joins them with the accounting intact:
//! records read = flows + events + skipped, every flow counted is delivered, flows without a
//! verdict and verdicts without an evaluation are counted (not lost), and the chunk size does
//! not change what is read.
#![no_main]

use std::io::Cursor;
use std::ops::ControlFlow;
use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use netflow_core::flow::Origin;
use netflow_core::ingest::{decode_record, read_from, Part, ReadOptions, Record};
use netflow_core::input::InputReader;
use netflow_core::{Action, Format};

fn read(bytes: &[u8], chunk_bytes: usize) -> Option<(netflow_core::InputReport, Vec<(u64, Action)>)> {
    let options = ReadOptions {
        format: Some(Format::KubeNetworkPolicies),
        max_skip_examples: 2,
        batch_lines: 2,
        chunk_bytes,
        ..ReadOptions::default()
    };
    let reader = InputReader::from_reader(Box::new(Cursor::new(bytes.to_vec()))).ok()?;
    let mut flows = Vec::new();
    let report = read_from("fuzz.log", reader, &options, &mut |flow| {
        serde_json::to_string(&flow).expect("a joined flow serializes");
        flows.push((flow.origin.line, flow.action));
        ControlFlow::Continue(())
    })
    .ok()?;
    Some((report, flows))
}

fuzz_target!(|data: &[u8]| {
    for (i, line) in data.split(|b| *b == b'\n').enumerate() {
        let origin = Origin {
            input: Arc::from("fuzz.log"),
            line: i as u64 + 1,
        };
        match decode_record(Format::KubeNetworkPolicies, line, origin) {
            Record::Part(Part::Evaluation { flow, .. }) => {
                assert_eq!(flow.action, Action::Unknown);
                serde_json::to_string(&flow).expect("an evaluated flow serializes");
            }
            Record::Part(Part::Verdict { action, raw, .. }) => {
                assert_ne!(action, Action::Unknown);
                assert!(!raw.is_empty());
            }
            Record::Skip(cause) => assert!(!cause.is_empty()),
            Record::Blank => assert!(line.trim_ascii().is_empty()),
            _ => {}
        }
    }
    let Some((report, flows)) = read(data, 1 << 20) else {
        return;
    };
    assert_eq!(
        report.records,
        report.flows + report.event_count() + report.skipped,
        "every record is a flow, an event or a skip: {report:?}"
    );
    assert_eq!(flows.len() as u64, report.flows, "every flow counted is delivered");
    assert!(report.incomplete <= report.flows);
    assert!(report.orphans <= report.event_count());
    let unknown = flows.iter().filter(|(_, a)| *a == Action::Unknown).count() as u64;
    assert!(report.incomplete <= unknown);
    if let Some(tiny) = read(data, 7) {
        assert_eq!(
            (tiny.0.records, tiny.0.skipped, tiny.1),
            (report.records, report.skipped, flows),
            "the chunk size changes nothing"
        );
    }
});
