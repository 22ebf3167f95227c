//! An exact byte-level pre-filter: before a line is parsed, cheap substring searches (memmem)
//! rule out lines that cannot match the query, so they are counted but never decoded.
//!
//! Exact means it may only skip a line the full parse would also have rejected. So it only
//! uses conditions whose text must appear verbatim in any matching record, whatever the format
//! or spelling (proto or camelCase keys, enum names or numbers): a single destination port's
//! digits, a single IPv4 address, a node name, and — when identities come from the log alone —
//! namespace and pod names. A line holding a backslash is always parsed, since a JSON escape
//! could spell any of those differently. Numbers (ports, IPv4 addresses) only count where
//! they stand alone: `9200` inside `19200` or `92001` is some other number.

use std::net::IpAddr;

use memchr::memmem::Finder;

use super::FlowFilter;

/// Groups of needles: a line may match only if every group has a needle in it.
#[derive(Debug, Clone)]
pub struct Prefilter {
    groups: Vec<NeedleGroup>,
    description: Vec<String>,
}

/// Needles of which a line needs one.
#[derive(Debug, Clone)]
struct NeedleGroup {
    finders: Vec<Finder<'static>>,
    /// Hits count only when not touching another digit (for ports and addresses).
    delimited: bool,
}

impl NeedleGroup {
    /// Positions of the hits in `buf` that count.
    fn hits<'a>(&'a self, buf: &'a [u8]) -> impl Iterator<Item = usize> + 'a {
        self.finders.iter().flat_map(move |f| {
            let len = f.needle().len();
            f.find_iter(buf)
                .filter(move |&pos| !self.delimited || stands_alone(buf, pos, len))
        })
    }
}

/// Whether the digits at `buf[pos..pos + len]` are not part of a longer number.
fn stands_alone(buf: &[u8], pos: usize, len: usize) -> bool {
    let digit_before = pos > 0 && buf[pos - 1].is_ascii_digit() && buf[pos].is_ascii_digit();
    let last = pos + len - 1;
    let digit_after =
        buf.get(last + 1).is_some_and(u8::is_ascii_digit) && buf[last].is_ascii_digit();
    !digit_before && !digit_after
}

/// Where each needle group hits in one buffer: found with one SIMD pass per needle over the
/// whole buffer, then asked line by line, in order, by [`NeedleHits::within`].
#[derive(Debug)]
pub struct NeedleHits {
    /// Per group, the sorted positions of its hits.
    groups: Vec<Vec<usize>>,
    /// Per group, the first hit not yet behind the lines asked about.
    next: Vec<usize>,
}

impl NeedleHits {
    /// Whether every group hits within `start..end` (a hit must lie wholly inside a line, and
    /// needles never hold a newline, so a hit starting there is inside). Lines must be asked
    /// about in order of their start.
    pub fn within(&mut self, start: usize, end: usize) -> bool {
        debug_assert!(start <= end, "a line ends after it starts");
        let mut all = true;
        for (hits, next) in self.groups.iter().zip(self.next.iter_mut()) {
            while hits.get(*next).is_some_and(|&pos| pos < start) {
                *next += 1;
            }
            all &= hits.get(*next).is_some_and(|&pos| pos < end);
        }
        all
    }
}

/// Ports in a range up to this size are searched one by one.
const MAX_PORTS_PER_RANGE: u32 = 16;

impl Prefilter {
    /// The pre-filter implied by `filter`, or `None` when no condition can be checked on bytes.
    /// `names_from_log` says whether identities come only from the log (no snapshot), which
    /// makes namespace and pod names usable.
    pub fn for_filter(filter: &FlowFilter, names_from_log: bool) -> Option<Prefilter> {
        let mut p = Prefilter {
            groups: Vec::new(),
            description: Vec::new(),
        };
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
        (!p.groups.is_empty()).then_some(p)
    }

    fn add(&mut self, name: &str, delimited: bool, needles: impl IntoIterator<Item = String>) {
        let needles: Vec<String> = needles.into_iter().filter(|n| !n.is_empty()).collect();
        if needles.is_empty() {
            return;
        }
        self.description
            .push(format!("{name}: {}", needles.join(" | ")));
        self.groups.push(NeedleGroup {
            finders: needles
                .iter()
                .map(|n| Finder::new(n.as_bytes()).into_owned())
                .collect(),
            delimited,
        });
    }

    /// Whether the line may match (false means it certainly cannot): every group has a
    /// needle in it, or it holds a backslash.
    pub fn may_match(&self, line: &[u8]) -> bool {
        memchr::memchr(b'\\', line).is_some()
            || self
                .groups
                .iter()
                .all(|group| group.hits(line).next().is_some())
    }

    /// Where the needles hit in `buf`, to ask line by line which lines may match: a line of
    /// `buf` may match when [`NeedleHits::within`] says so or it holds a backslash, the same
    /// answer as [`Prefilter::may_match`] on that line. The caller finds the line ends and
    /// backslashes in one pass of its own.
    pub fn hits(&self, buf: &[u8]) -> NeedleHits {
        let groups: Vec<Vec<usize>> = self
            .groups
            .iter()
            .map(|group| {
                let mut hits: Vec<usize> = group.hits(buf).collect();
                if group.finders.len() > 1 {
                    hits.sort_unstable();
                }
                hits
            })
            .collect();
        NeedleHits {
            next: vec![0; groups.len()],
            groups,
        }
    }

    /// The conditions, for `-v` and tests.
    pub fn describe(&self) -> &[String] {
        &self.description
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::{NodePattern, PortRange};

    #[test]
    fn ports_and_addresses_become_needles() {
        let filter = FlowFilter {
            dst_port: vec![PortRange::parse("9200").unwrap()],
            to_ip: vec![crate::query::filter::parse_ip_or_cidr("to-ip", "10.244.2.10").unwrap()],
            node: vec![NodePattern::parse("node-*").unwrap()],
            ..Default::default()
        };
        let p = Prefilter::for_filter(&filter, false).unwrap();
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
        let p = Prefilter::for_filter(&filter, false).unwrap();
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
        assert!(Prefilter::for_filter(&filter, false).is_none());
        assert!(Prefilter::for_filter(&filter, true).is_some());
    }
}
