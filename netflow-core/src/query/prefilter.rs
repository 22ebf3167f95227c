//! Which conditions of a [`FlowFilter`] the byte pre-filter can check: those whose text must
//! appear verbatim in any matching record, whatever the format or spelling (proto or camelCase
//! keys, enum names or numbers): a single destination port's digits, a single IPv4 address, a
//! node name, and — when identities come from the log alone — namespace and pod names. The
//! needles are handed to the reader ([`crate::needles::Needles`]), which finds them.

use std::net::IpAddr;

use super::FlowFilter;
use crate::needles::Needles;

/// Ports in a range up to this size are searched one by one.
const MAX_PORTS_PER_RANGE: u32 = 16;

/// The needles implied by `filter`, or `None` when no condition can be checked on bytes.
/// `names_from_log` says whether identities come only from the log (no snapshot), which makes
/// namespace and pod names usable.
pub fn needles_for(filter: &FlowFilter, names_from_log: bool) -> Option<Needles> {
    let mut p = Needles::new();
    if !filter.dst_port.is_empty()
        && filter
            .dst_port
            .iter()
            .all(|r| u32::from(r.last) - u32::from(r.first) < MAX_PORTS_PER_RANGE)
    {
        p.add(
            "dst-port",
            true,
            filter
                .dst_port
                .iter()
                .flat_map(|r| r.first..=r.last)
                .map(|port| port.to_string()),
        );
    }
    for (name, nets) in [
        ("from-ip", &filter.from_ip),
        ("to-ip", &filter.to_ip),
        ("ip", &filter.ip),
    ] {
        let addresses: Option<Vec<String>> = nets
            .iter()
            .map(|n| match n.addr() {
                IpAddr::V4(a) if n.prefix_len() == 32 => Some(a.to_string()),
                _ => None,
            })
            .collect();
        if let Some(addresses) = addresses.filter(|a| !a.is_empty()) {
            p.add(name, true, addresses);
        }
    }
    if !filter.node.is_empty() {
        p.add(
            "node",
            false,
            filter.node.iter().map(|n| n.needle().to_string()),
        );
    }
    if names_from_log {
        for (name, values) in [
            ("namespace", &filter.namespace),
            ("from-namespace", &filter.from_namespace),
            ("to-namespace", &filter.to_namespace),
        ] {
            if !values.is_empty() {
                p.add(name, false, values.iter().cloned());
            }
        }
        for (name, pods) in [("from-pod", &filter.from_pod), ("to-pod", &filter.to_pod)] {
            if !pods.is_empty() && pods.iter().all(|p| !p.name_prefix.is_empty()) {
                p.add(name, false, pods.iter().map(|p| p.name_prefix.clone()));
            }
        }
    }
    (!p.is_empty()).then_some(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::{NodePattern, PortRange};

    #[test]
    fn ports_and_addresses_become_needles() {
        let filter = FlowFilter {
            dst_port: vec![PortRange::parse("9200").unwrap()],
            to_ip: vec![crate::query::filter::parse_ip_or_cidr("10.244.2.10").unwrap()],
            node: vec![NodePattern::parse("node-*").unwrap()],
            ..Default::default()
        };
        let p = needles_for(&filter, false).unwrap();
        assert_eq!(p.describe().len(), 3);
        assert!(p.may_match(br#"{"dest_port":9200,"dest_ip":"10.244.2.10","host":"node-b"}"#));
        assert!(!p.may_match(br#"{"dest_port":9300,"dest_ip":"10.244.2.10","host":"node-b"}"#));
        assert!(
            p.may_match(br#"{"dest_port":9300,"note":"\u0039200"}"#),
            "escapes are parsed"
        );
        // Other numbers that contain the port's or the address's digits are not hits.
        assert!(!p.may_match(br#"{"dest_port":19200,"dest_ip":"10.244.2.10","host":"node-b"}"#));
        assert!(!p.may_match(br#"{"dest_port":92001,"dest_ip":"10.244.2.10","host":"node-b"}"#));
        assert!(!p.may_match(br#"{"dest_port":9200,"dest_ip":"10.244.2.101","host":"node-b"}"#));
        assert!(p.may_match(br#"{"dest_port":"9200","dest_ip":"10.244.2.10","host":"node-b"}"#));
        assert!(p.may_match(
            br#"{"dest_port": 9200, "dest_ip": "::ffff:10.244.2.10", "host":"node-b"}"#
        ));
    }

    #[test]
    fn hits_agree_with_may_match_line_by_line() {
        let filter = FlowFilter {
            dst_port: vec![
                PortRange::parse("9200").unwrap(),
                PortRange::parse("53").unwrap(),
            ],
            node: vec![NodePattern::parse("node-b").unwrap()],
            ..Default::default()
        };
        let p = needles_for(&filter, false).unwrap();
        let buf = b"{\"p\":9200,\"n\":\"node-b\"}\n{\"p\":9200,\"n\":\"node-a\"}\n\n{\"x\":\"\\u0041\"}\n{\"n\":\"node-b\",\"p\":53}\n{\"n\":\"node-b\"}\n{\"p\":53,\"n\":\"node-b\"}";
        let mut hits = p.hits(buf);
        let (mut expected, mut found) = (Vec::new(), Vec::new());
        let mut start = 0;
        for line in buf.split(|b| *b == b'\n') {
            if p.may_match(line) {
                expected.push(start);
            }
            let end = start + line.len();
            if hits.within(start, end) || line.contains(&b'\\') {
                found.push(start);
            }
            start = end + 1;
        }
        assert_eq!(found, expected);
        assert_eq!(expected.len(), 4);
    }

    #[test]
    fn wide_ranges_cidrs_and_snapshot_names_give_no_needles() {
        let filter = FlowFilter {
            dst_port: vec![PortRange::parse("1-1024").unwrap()],
            to_ip: vec!["10.0.0.0/8".parse().unwrap()],
            namespace: vec!["vamp".into()],
            ..Default::default()
        };
        assert!(needles_for(&filter, false).is_none());
        assert!(needles_for(&filter, true).is_some());
    }
}
