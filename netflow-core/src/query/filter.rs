//! Flow filters in the spirit of `hubble observe`: values are parsed once into typed
//! predicates; repeating a filter ORs its values, different filters AND.

use std::net::IpAddr;

use chrono::{DateTime, Duration, Utc};
use ipnet::IpNet;

use crate::cluster::selector::LabelSelector;
use crate::error::{Error, Result};
use crate::flow::{Action, Endpoint, Flow, Identity, Protocol};

/// A set of filters; an empty filter matches every flow.
#[derive(Debug, Clone, Default)]
pub struct FlowFilter {
    /// Namespace of either end.
    pub namespace: Vec<String>,
    /// Namespace of the source.
    pub from_namespace: Vec<String>,
    /// Namespace of the destination.
    pub to_namespace: Vec<String>,
    /// Source pod.
    pub from_pod: Vec<PodPattern>,
    /// Destination pod.
    pub to_pod: Vec<PodPattern>,
    /// Address of either end.
    pub ip: Vec<IpNet>,
    /// Source address.
    pub from_ip: Vec<IpNet>,
    /// Destination address.
    pub to_ip: Vec<IpNet>,
    /// Destination port.
    pub dst_port: Vec<PortRange>,
    /// Protocol.
    pub protocol: Vec<Protocol>,
    /// Labels of the source pod.
    pub from_label: Vec<LabelSelector>,
    /// Labels of the destination pod.
    pub to_label: Vec<LabelSelector>,
    /// Node that reported the flow.
    pub node: Vec<NodePattern>,
    /// What the log says happened: one of flowq's words for it or the log's own word.
    pub verdict: Vec<VerdictFilter>,
    /// Flows at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Flows at or before this time.
    pub until: Option<DateTime<Utc>>,
}

impl FlowFilter {
    /// Whether the flow passes every filter.
    pub fn matches(&self, flow: &Flow) -> bool {
        let any = |values: &[String], ep: &Endpoint| values.iter().any(|ns| in_namespace(ep, ns));
        (self.namespace.is_empty()
            || any(&self.namespace, &flow.src)
            || any(&self.namespace, &flow.dst))
            && (self.from_namespace.is_empty() || any(&self.from_namespace, &flow.src))
            && (self.to_namespace.is_empty() || any(&self.to_namespace, &flow.dst))
            && (self.from_pod.is_empty() || self.from_pod.iter().any(|p| p.matches(&flow.src)))
            && (self.to_pod.is_empty() || self.to_pod.iter().any(|p| p.matches(&flow.dst)))
            && (self.ip.is_empty()
                || self
                    .ip
                    .iter()
                    .any(|n| in_net(n, flow.src.ip) || in_net(n, flow.dst.ip)))
            && (self.from_ip.is_empty() || self.from_ip.iter().any(|n| in_net(n, flow.src.ip)))
            && (self.to_ip.is_empty() || self.to_ip.iter().any(|n| in_net(n, flow.dst.ip)))
            && (self.dst_port.is_empty()
                || flow
                    .dst
                    .port
                    .is_some_and(|p| self.dst_port.iter().any(|r| r.contains(p))))
            && (self.protocol.is_empty() || self.protocol.contains(&flow.protocol))
            && (self.from_label.is_empty()
                || self.from_label.iter().any(|s| labels_match(s, &flow.src)))
            && (self.to_label.is_empty()
                || self.to_label.iter().any(|s| labels_match(s, &flow.dst)))
            && (self.node.is_empty()
                || flow
                    .node
                    .as_deref()
                    .is_some_and(|n| self.node.iter().any(|p| p.matches(n))))
            && (self.verdict.is_empty() || self.verdict.iter().any(|v| v.matches(flow)))
            && self.since.is_none_or(|s| flow.time.is_some_and(|t| t >= s))
            && self.until.is_none_or(|u| flow.time.is_some_and(|t| t <= u))
    }
}

fn in_namespace(ep: &Endpoint, ns: &str) -> bool {
    ep.identity.namespace() == Some(ns)
}

fn in_net(net: &IpNet, ip: Option<IpAddr>) -> bool {
    ip.is_some_and(|ip| net.contains(&ip))
}

fn labels_match(selector: &LabelSelector, ep: &Endpoint) -> bool {
    ep.identity.labels().is_some_and(|l| selector.matches(l))
}

/// What the log must say happened to a flow, as `hubble observe --verdict` takes it: one of
/// flowq's words for the [`Action`] or the log's own word (`DROPPED`, `AUDIT`, …), ignoring
/// case. A word matches a flow when it names the flow's action or is the log's own word for
/// it (so `DROPPED` finds Hubble's policy drops, which flowq calls denied).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerdictFilter {
    /// The action the word names, if it names one.
    pub action: Option<Action>,
    /// The word as given.
    pub word: String,
}

impl VerdictFilter {
    /// Parses a verdict: `allowed`/`allow`, `denied`/`deny`, `dropped`, `unknown`, or any word
    /// a log uses.
    pub fn parse(text: &str) -> Result<VerdictFilter> {
        let t = text.trim();
        if t.is_empty()
            || !t
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(Error::Invalid {
                what: "verdict",
                value: text.into(),
                detail: "expected allowed, denied, dropped, unknown or a log verdict such as AUDIT"
                    .into(),
            });
        }
        Ok(VerdictFilter {
            action: t.parse::<Action>().ok(),
            word: t.to_string(),
        })
    }

    /// Whether the flow's log says this.
    pub fn matches(&self, flow: &Flow) -> bool {
        self.action == Some(flow.action) || flow.action_raw.eq_ignore_ascii_case(&self.word)
    }
}

/// A pod pattern: `namespace/name-prefix`, `namespace/` (any pod there) or `name-prefix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodPattern {
    /// Namespace, when given.
    pub namespace: Option<String>,
    /// Prefix of the pod name (empty matches every pod).
    pub name_prefix: String,
}

impl PodPattern {
    /// Parses a pattern.
    pub fn parse(text: &str) -> Result<PodPattern> {
        let t = text.trim();
        let (namespace, name) = match t.split_once('/') {
            Some((ns, name)) => (Some(ns.to_string()), name),
            None => (None, t),
        };
        if t.is_empty() || name.contains('/') || namespace.as_deref() == Some("") {
            return Err(Error::Invalid {
                what: "pod pattern",
                value: text.into(),
                detail: "expected namespace/pod-name, namespace/ or a pod name prefix".into(),
            });
        }
        Ok(PodPattern {
            namespace,
            name_prefix: name.to_string(),
        })
    }

    /// Whether the endpoint is a pod matching the pattern.
    pub fn matches(&self, ep: &Endpoint) -> bool {
        let Identity::Pod(pod) = &ep.identity else {
            return false;
        };
        self.namespace
            .as_deref()
            .is_none_or(|ns| ns == pod.namespace)
            && pod.name.starts_with(&self.name_prefix)
    }
}

/// A node name, or a prefix ending in `*`; `cluster/node` names also match by their node part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodePattern(String);

impl NodePattern {
    /// Parses a node pattern.
    pub fn parse(text: &str) -> Result<NodePattern> {
        let t = text.trim();
        if t.is_empty() {
            return Err(Error::Invalid {
                what: "node pattern",
                value: text.into(),
                detail: "expected a node name or a prefix ending in *".into(),
            });
        }
        Ok(NodePattern(t.to_string()))
    }

    /// Text every matching node name contains: the name, or the prefix before `*`.
    pub fn needle(&self) -> &str {
        self.0.strip_suffix('*').unwrap_or(&self.0)
    }

    /// Whether `node` (possibly `cluster/node`) matches.
    pub fn matches(&self, node: &str) -> bool {
        let short = node.rsplit_once('/').map_or(node, |(_, n)| n);
        match self.0.strip_suffix('*') {
            Some(prefix) => node.starts_with(prefix) || short.starts_with(prefix),
            None => node == self.0 || short == self.0,
        }
    }
}

/// An inclusive port range (a single port is a range of one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortRange {
    /// First port.
    pub first: u16,
    /// Last port.
    pub last: u16,
}

impl PortRange {
    /// Parses `9200` or `8000-8100`.
    pub fn parse(text: &str) -> Result<PortRange> {
        let err = || Error::Invalid {
            what: "port range",
            value: text.into(),
            detail: "expected a port (1-65535) or a range such as 8000-8100".into(),
        };
        let parse = |s: &str| s.trim().parse::<u16>().ok().filter(|p| *p > 0);
        let (first, last) = match text.split_once('-') {
            Some((a, b)) => (parse(a).ok_or_else(err)?, parse(b).ok_or_else(err)?),
            None => {
                let p = parse(text).ok_or_else(err)?;
                (p, p)
            }
        };
        if first > last {
            return Err(err());
        }
        Ok(PortRange { first, last })
    }

    /// Whether `port` is in the range.
    pub fn contains(&self, port: u16) -> bool {
        (self.first..=self.last).contains(&port)
    }
}

/// Parses an address or CIDR (`10.0.0.5`, `10.0.0.0/8`, `fd00::/8`).
pub fn parse_ip_or_cidr(text: &str) -> Result<IpNet> {
    let t = text.trim();
    if let Ok(ip) = t.parse::<IpAddr>() {
        return Ok(IpNet::from(ip));
    }
    t.parse::<IpNet>()
        .map(|n| n.trunc())
        .map_err(|_| Error::Invalid {
            what: "address",
            value: text.into(),
            detail: "expected an IP address or a CIDR such as 10.0.0.0/8".into(),
        })
}

/// Parses a protocol name or number.
pub fn parse_protocol(text: &str) -> Result<Protocol> {
    Protocol::parse(text).ok_or_else(|| Error::Invalid {
        what: "protocol",
        value: text.into(),
        detail: "expected tcp, udp, sctp, icmpv4, icmpv6 or an IANA protocol number".into(),
    })
}

/// A duration written as a whole number and a unit: `90s`, `15m`, `2h`, `3d`.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = t.split_at(split);
    let n: i64 = number.parse().ok()?;
    match unit {
        "s" => Duration::try_seconds(n),
        "m" => Duration::try_minutes(n),
        "h" => Duration::try_hours(n),
        "d" => Duration::try_days(n),
        _ => None,
    }
}

/// Parses a time: RFC 3339 (`2026-11-20T19:00:00Z`) or a duration before `now` (`90s`, `15m`,
/// `2h`, `3d`).
pub fn parse_time(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>> {
    let t = text.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(t) {
        return Ok(at.with_timezone(&Utc));
    }
    let err = || Error::Invalid {
        what: "time",
        value: text.into(),
        detail: "expected an RFC 3339 time (2026-11-20T19:00:00Z) or a duration ago (90s, 15m, \
                 2h, 3d)"
            .into(),
    };
    let duration = parse_duration(t).ok_or_else(err)?;
    now.checked_sub_signed(duration).ok_or_else(err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::{Action, Direction, Origin, PodIdentity};
    use std::collections::BTreeMap;
    use std::sync::Arc;

    fn pod(ns: &str, name: &str, labels: &[(&str, &str)]) -> Endpoint {
        Endpoint {
            identity: Identity::Pod(std::sync::Arc::new(PodIdentity {
                namespace: ns.into(),
                name: name.into(),
                labels: Arc::new(
                    labels
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect::<BTreeMap<_, _>>(),
                ),
                ..Default::default()
            })),
            ..Default::default()
        }
    }

    fn flow() -> Flow {
        let mut src = pod(
            "customer1",
            "release-agent-5d9f-x1",
            &[("io.vamp", "release-agent")],
        );
        src.ip = "10.1.1.5".parse().ok();
        let mut dst = pod("vamp", "elasticsearch-0", &[("app", "elasticsearch")]);
        dst.ip = "10.1.2.7".parse().ok();
        dst.port = Some(9200);
        Flow {
            time: "2026-11-20T19:05:00Z".parse().ok(),
            src,
            dst,
            protocol: Protocol::Tcp,
            action: Action::Denied,
            action_raw: "DROPPED".into(),
            direction: Direction::Ingress,
            node: Some("prod/node-b".into()),
            drop_reason: Some("POLICY_DENIED".into()),
            policies: vec![],
            is_reply: Some(false),
            bytes: None,
            packets: None,
            reply_seen: false,
            count: 1,
            duplicate: false,
            counting: crate::flow::Counting::Exact,
            granularity: crate::flow::Granularity::Packet,
            details: None,
            format: crate::format::Format::Hubble,
            origin: Origin {
                input: Arc::from("t"),
                line: 1,
            },
        }
    }

    #[test]
    fn repeated_values_or_and_different_filters_and() {
        let f = flow();
        let mut filter = FlowFilter {
            namespace: vec!["nope".into(), "vamp".into()],
            ..Default::default()
        };
        assert!(filter.matches(&f));
        filter.dst_port = vec![PortRange::parse("80").unwrap()];
        assert!(!filter.matches(&f));
        filter.dst_port.push(PortRange::parse("9000-9300").unwrap());
        assert!(filter.matches(&f));
    }

    #[test]
    fn pod_ip_label_node_and_verdict_filters() {
        let f = flow();
        let ok = |filter: FlowFilter| filter.matches(&f);
        assert!(ok(FlowFilter {
            from_pod: vec![PodPattern::parse("customer1/release-agent").unwrap()],
            ..Default::default()
        }));
        assert!(!ok(FlowFilter {
            from_pod: vec![PodPattern::parse("vamp/").unwrap()],
            ..Default::default()
        }));
        assert!(ok(FlowFilter {
            to_ip: vec![parse_ip_or_cidr("10.1.0.0/16").unwrap()],
            ..Default::default()
        }));
        assert!(ok(FlowFilter {
            from_label: vec![LabelSelector::parse("io.vamp=release-agent").unwrap()],
            ..Default::default()
        }));
        assert!(ok(FlowFilter {
            node: vec![NodePattern::parse("node-b").unwrap()],
            ..Default::default()
        }));
        assert!(ok(FlowFilter {
            verdict: vec![VerdictFilter::parse("DROPPED").unwrap()],
            ..Default::default()
        }));
        assert!(!ok(FlowFilter {
            verdict: vec![VerdictFilter::parse("allowed").unwrap()],
            ..Default::default()
        }));
    }

    #[test]
    fn times_parse_absolute_and_relative() {
        let now: DateTime<Utc> = "2026-11-23T12:00:00Z".parse().unwrap();
        assert_eq!(
            parse_time("15m", now).unwrap(),
            "2026-11-23T11:45:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert!(parse_time("2026-11-20T19:00:00+01:00", now).is_ok());
        assert!(parse_time("yesterday", now).is_err());
        assert!(PortRange::parse("70000").is_err());
        assert!(PortRange::parse("90-80").is_err());
    }
}
