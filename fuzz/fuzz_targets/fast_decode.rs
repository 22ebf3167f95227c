//! The fast decoders against the general (serde) ones on one arbitrary record: whenever a fast
//! path decodes a record, the record (flow, packet report, emitter, skip cause) must be the one
//! the general decoder gives. The bytes are tried as they are and inside a Hubble wrapper, so
//! that mutations land in the fields the fast path reads.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use netflow_core::flow::Origin;
use netflow_core::ingest::{decode_record_fast, decode_record_general};
use netflow_core::Format;

fn origin() -> Origin {
    Origin {
        input: Arc::from("fuzz.ndjson"),
        line: 7,
    }
}

fn compare(record: &[u8]) {
    for format in Format::ALL {
        if let Ok(fast) = decode_record_fast(*format, record, origin()) {
            let general = decode_record_general(*format, record, origin());
            assert_eq!(
                format!("{fast:?}"),
                format!("{general:?}"),
                "{format}: {}",
                String::from_utf8_lossy(record)
            );
        }
    }
}

fuzz_target!(|data: &[u8]| {
    compare(data);
    let mut wrapped = br#"{"flow":{"#.to_vec();
    wrapped.extend_from_slice(data);
    wrapped.extend_from_slice(br#"},"node_name":"prod/node-1","time":"2026-11-20T19:05:00Z"}"#);
    compare(&wrapped);
});
