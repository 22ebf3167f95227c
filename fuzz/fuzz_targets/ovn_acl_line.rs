//! The OVN ACL audit decoder on one arbitrary line (an `acl_log` line, its ACL name and packet
//! dump, another vlog line, a `kubectl` notice): a flow, an event, a blank or a skip with a
//! cause, never a panic; a decoded flow serializes, and a policy it names has a name.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use netflow_core::flow::Origin;
use netflow_core::ingest::{decode_record, detect_format, Record};
use netflow_core::Format;

fuzz_target!(|data: &[u8]| {
    let origin = Origin {
        input: Arc::from("acl-audit-log.log"),
        line: 5,
    };
    match decode_record(Format::OvnKubernetesAcl, data, origin) {
        Record::Flow(flow, _) => {
            assert_eq!((flow.origin.line, flow.count), (5, 1));
            assert_eq!(flow.format, Format::OvnKubernetesAcl);
            assert!(flow.time.is_some());
            assert!(flow.policies.iter().all(|p| !p.name.is_empty()));
            serde_json::to_string(&flow).expect("a decoded flow serializes");
            let _ = flow.src.identity.to_string();
            let _ = flow.dst.identity.to_string();
        }
        Record::Skip(cause) => assert!(!cause.is_empty()),
        Record::Blank => assert!(data.trim_ascii().is_empty()),
        _ => {}
    }
    let _ = detect_format(&[(1, data)]);
});
