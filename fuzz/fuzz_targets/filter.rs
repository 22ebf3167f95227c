//! The filter value parsers on arbitrary text: an error or a value, never a panic, and parsed
//! values keep their invariants.
#![no_main]

use chrono::{DateTime, Utc};
use libfuzzer_sys::fuzz_target;
use netflow_core::query::filter::{
    parse_ip_or_cidr, parse_protocol, parse_time, NodePattern, PodPattern, PortRange, VerdictFilter,
};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(range) = PortRange::parse(text) {
        assert!(range.first >= 1 && range.first <= range.last);
        assert!(range.contains(range.first) && range.contains(range.last));
    }
    if let Ok(pattern) = PodPattern::parse(text) {
        assert!(pattern.namespace.as_deref() != Some(""));
        assert!(!pattern.name_prefix.contains('/'));
    }
    if let Ok(node) = NodePattern::parse(text) {
        let _ = node.matches(text.trim());
        let _ = node.matches("prod/node-b");
    }
    if let Ok(net) = parse_ip_or_cidr(text) {
        assert_eq!(net, net.trunc());
    }
    let now: DateTime<Utc> = "2026-11-23T12:00:00Z".parse().unwrap();
    let _ = parse_time(text, now);
    let _ = parse_time(text, DateTime::<Utc>::MIN_UTC);
    let _ = parse_time(text, DateTime::<Utc>::MAX_UTC);
    if let Ok(p) = parse_protocol(text) {
        let _ = p.to_string();
    }
    let _ = VerdictFilter::parse(text);
});
