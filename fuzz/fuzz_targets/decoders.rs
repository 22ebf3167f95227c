//! Every format's record decoder on one arbitrary record (the first byte picks the format):
//! a record or a skip with a cause, never a panic; a decoded flow must serialize.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use netflow_core::flow::Origin;
use netflow_core::ingest::{calico, gke_policy, gke_vpc, goldmane, hubble, Record};

fuzz_target!(|data: &[u8]| {
    let Some((&which, bytes)) = data.split_first() else {
        return;
    };
    let origin = Origin {
        input: Arc::from("fuzz"),
        line: 1,
    };
    let record = match which % 5 {
        0 => hubble::decode_line(bytes, origin),
        1 => calico::decode(bytes, origin),
        2 => goldmane::decode(bytes, origin),
        3 => gke_vpc::decode(bytes, origin),
        _ => gke_policy::decode(bytes, origin),
    };
    match record {
        Record::Flow(flow, _) => {
            serde_json::to_string(&flow).expect("a decoded flow serializes");
            let _ = flow.src.identity.to_string();
            let _ = flow.dst.identity.to_string();
        }
        Record::Skip(cause) => assert!(!cause.is_empty()),
        Record::Blank | Record::Event { .. } | Record::Lost { .. } => {}
    }
});
