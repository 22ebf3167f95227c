//! Every format's record decoder on one arbitrary record (the first byte picks the format):
//! a record or a skip with a cause, never a panic; a decoded flow must serialize.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use netflow_core::flow::Origin;
use netflow_core::ingest::{decode_record, Record};
use netflow_core::Format;

fuzz_target!(|data: &[u8]| {
    let Some((&which, bytes)) = data.split_first() else {
        return;
    };
    let origin = Origin {
        input: Arc::from("fuzz"),
        line: 1,
    };
    let format = Format::ALL[usize::from(which) % Format::ALL.len()];
    let record = decode_record(format, bytes, origin);
    match record {
        Record::Flow(flow, _) => {
            serde_json::to_string(&flow).expect("a decoded flow serializes");
            let _ = flow.src.identity.to_string();
            let _ = flow.dst.identity.to_string();
        }
        Record::Skip(cause) => assert!(!cause.is_empty()),
        _ => {}
    }
});
