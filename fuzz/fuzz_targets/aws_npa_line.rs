//! The EKS network policy agent's decoder on one arbitrary line (zap JSON, a `Flow Info:`
//! message, a CloudWatch message, a CloudWatch JSON event): a flow, an event, a blank or a skip
//! with a cause, never a panic; a decoded flow serializes, and a text line the detector takes
//! for the agent's never decodes as a skip without saying why.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use netflow_core::flow::Origin;
use netflow_core::ingest::{decode_record, detect_format, Record};
use netflow_core::{Format, Protocol};

fuzz_target!(|data: &[u8]| {
    let origin = Origin {
        input: Arc::from("network-policy-agent.log"),
        line: 3,
    };
    match decode_record(Format::AwsNetworkPolicyAgent, data, origin) {
        Record::Flow(flow, _) => {
            assert_eq!(flow.origin.line, 3);
            assert_eq!(flow.count, 1);
            assert_eq!(flow.format, Format::AwsNetworkPolicyAgent);
            let portless = !flow.protocol.has_ports() && flow.protocol != Protocol::Unknown;
            assert!(!portless || (flow.src.port.is_none() && flow.dst.port.is_none()));
            serde_json::to_string(&flow).expect("a decoded flow serializes");
        }
        Record::Skip(cause) => assert!(!cause.is_empty()),
        Record::Blank => assert!(data.trim_ascii().is_empty()),
        _ => {}
    }
    let _ = detect_format(&[(1, data)]);
});
