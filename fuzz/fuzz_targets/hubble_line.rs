//! The Hubble decoder on one arbitrary line: it must return a record or a skip with a cause,
//! and a decoded flow must serialize.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use netflow_core::flow::Origin;
use netflow_core::ingest::{decode_record, Record};
use netflow_core::Format;

fuzz_target!(|data: &[u8]| {
    let origin = Origin {
        input: Arc::from("fuzz.ndjson"),
        line: 7,
    };
    match decode_record(Format::Hubble, data, origin) {
        Record::Flow(flow, _) => {
            assert_eq!(flow.origin.line, 7);
            assert!(flow.count <= 1);
            serde_json::to_string(&flow).expect("a decoded flow serializes");
            let _ = flow.src.identity.to_string();
            let _ = flow.dst.identity.to_string();
        }
        Record::Skip(cause) => assert!(!cause.is_empty()),
        Record::Blank => assert!(data.trim_ascii().is_empty()),
        _ => {}
    }
});
