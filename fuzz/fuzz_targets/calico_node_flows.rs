//! `calico-node -flows` text: arbitrary bytes read as that format through the reader (which
//! joins a record's lines in order, at any chunk size) and one arbitrary record to its block
//! decoder: never a panic; every record accounted for; the same records at tiny and default
//! chunks; a decoded flow serializes.
#![no_main]

use std::io::Cursor;
use std::ops::ControlFlow;
use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use netflow_core::flow::Origin;
use netflow_core::ingest::{decode_block, read_from, Record};
use netflow_core::input::InputReader;
use netflow_core::{Format, ReadOptions};

fuzz_target!(|data: &[u8]| {
    let origin = Origin {
        input: Arc::from("flows.txt"),
        line: 1,
    };
    match decode_block(Format::CalicoNodeFlows, data, origin) {
        Record::Flow(flow, _) => {
            assert_eq!(flow.format, Format::CalicoNodeFlows);
            serde_json::to_string(&flow).expect("a decoded flow serializes");
        }
        Record::Skip(cause) => assert!(!cause.is_empty()),
        _ => {}
    }
    let read = |chunk_bytes: usize| {
        let options = ReadOptions {
            format: Some(Format::CalicoNodeFlows),
            chunk_bytes,
            ..ReadOptions::default()
        };
        let reader = InputReader::from_reader(Box::new(Cursor::new(data.to_vec()))).ok()?;
        let mut flows = Vec::new();
        let report = read_from("flows.txt", reader, &options, &mut |f| {
            flows.push(f);
            ControlFlow::Continue(())
        })
        .ok()?;
        assert_eq!(report.records, report.flows + report.event_count() + report.skipped);
        Some((report.records, report.skipped, flows))
    };
    assert_eq!(read(5), read(ReadOptions::default().chunk_bytes));
});
