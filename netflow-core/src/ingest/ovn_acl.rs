//! OVN ACL audit lines (OVN-Kubernetes and OpenShift's `acl-audit-log.log`, Kube-OVN's
//! `ovn-controller.log`): `<time>|<seq>|acl_log(ovn_pinctrl0)|INFO|name="<acl>", verdict=<v>,
//! severity=<s>[, direction=<to-lport|from-lport>]: <protocol>,<key>=<value>,…`, one line per
//! logged packet.
//!
//! The ACL name is decoded into what it stands for — a NetworkPolicy rule, a namespace's
//! default deny, an AdminNetworkPolicy or BaselineAdminNetworkPolicy rule, an EgressFirewall
//! rule — in every naming OVN-Kubernetes and Kube-OVN used; `to-lport` is the destination pod's
//! ingress, `from-lport` the source pod's egress. Other lines of ovn-controller's log and the
//! notices `kubectl logs` prints before them are events, not skips. The lines carry addresses
//! only: pods come from a snapshot.

use chrono::{DateTime, Utc};

use super::record::{PacketReport, Record};
use super::text::{as_text, first, key_values, preview, text_ip, text_port};
use crate::flow::{
    Action, Counting, Direction, Endpoint, Flow, Granularity, Identity, Origin, PodIdentity,
    PolicyRef, Protocol,
};
use crate::format::Format;

/// The vlog module and thread of ACL log lines.
const ACL_LOG: &str = "|acl_log(";

/// Says why a text line looks like an OVN ACL audit line, or `None`.
pub(crate) fn sniff_line(line: &str) -> Option<String> {
    (line.contains(ACL_LOG) && line.contains("name=") && line.contains("verdict=")).then(|| {
        "is an \"acl_log\" line with name= and verdict=: an OVN ACL audit line \
         (ovn-kubernetes-acl)"
            .to_string()
    })
}

/// Decodes one line of an ACL audit log (or of ovn-controller's log).
pub fn decode(bytes: &[u8], origin: Origin) -> Record {
    let trimmed = bytes.trim_ascii();
    if trimmed.is_empty() {
        return Record::Blank;
    }
    as_text(trimmed)
        .and_then(|text| decode_text(text, origin))
        .unwrap_or_else(Record::Skip)
}

fn decode_text(text: &str, origin: Origin) -> Result<Record, String> {
    let Some(at) = text.find(ACL_LOG) else {
        if is_vlog_line(text) {
            return Ok(Record::Event { kind: "ovn_log" });
        }
        if is_kubectl_notice(text) {
            return Ok(Record::Event {
                kind: "kubectl_notice",
            });
        }
        return Err(format!(
            "expected an OVN ACL audit line (<time>|<seq>|acl_log(…)|INFO|name=\"…\", \
             verdict=…), found {}",
            preview(text)
        ));
    };
    // `<time>|<seq>` before the module; a syslog or journal prefix may come first.
    let head = &text[..at];
    let time_text = head
        .rsplit_once('|')
        .map_or(head, |(time, _seq)| time)
        .rsplit([' ', '\t'])
        .next()
        .unwrap_or("");
    let time = DateTime::parse_from_rfc3339(time_text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| format!("the ACL line's time {time_text:?} is not an RFC 3339 time"))?;
    // `acl_log(ovn_pinctrl0)|INFO|name="…", …`
    let rest = &text[at + 1..];
    let message = rest
        .splitn(3, '|')
        .nth(2)
        .ok_or_else(|| format!("an ACL line without its message: {}", preview(text)))?;
    let (name, after_name) = acl_name(message)?;
    let (header, packet) = after_name.split_once(": ").ok_or_else(|| {
        format!(
            "an ACL line without its packet after \": \": {}",
            preview(text)
        )
    })?;
    let fields: Vec<(&str, &str)> = header
        .split(',')
        .filter_map(|f| f.trim().split_once('='))
        .collect();
    let verdict = first(&fields, "verdict")
        .ok_or_else(|| format!("an ACL line without verdict=: {}", preview(text)))?;
    let acl = Acl::decode(&name);
    let direction = match first(&fields, "direction") {
        Some("to-lport") => Direction::Ingress,
        Some("from-lport") => Direction::Egress,
        // Older OVN writes no direction: the ACL name may say it.
        _ => acl.direction,
    };
    let action = match verdict {
        "allow" | "allow-related" | "allow-stateless" => Action::Allowed,
        "drop" | "reject" => Action::Denied,
        // `pass` hands the packet to the next tier (ANP → NetworkPolicy → BANP): no decision.
        _ => Action::Unknown,
    };
    let packet = Packet::decode(packet)?;
    let mut src = Endpoint::from_log(packet.src_ip, packet.src_port, Identity::Unknown, None);
    let mut dst = Endpoint::from_log(packet.dst_ip, packet.dst_port, Identity::Unknown, None);
    // A namespaced ACL is on the pods of its namespace: the destination's for ingress, the
    // source's for egress.
    if let Some(ns) = &acl.namespace {
        let end = match direction {
            Direction::Ingress => Some(&mut dst),
            Direction::Egress => Some(&mut src),
            Direction::Unknown => None,
        };
        if let Some(end) = end {
            *end = Endpoint::from_log(
                end.ip,
                end.port,
                Identity::Pod(std::sync::Arc::new(PodIdentity {
                    namespace: ns.clone(),
                    ..Default::default()
                })),
                None,
            );
        }
    }
    let flow = Flow {
        time: Some(time),
        src,
        dst,
        protocol: packet.protocol,
        action,
        action_raw: verdict.to_string(),
        direction,
        node: None,
        drop_reason: (action == Action::Denied).then(|| acl.reason(&name, direction)),
        policies: acl.policy.into_iter().collect(),
        is_reply: packet.is_reply,
        reply_seen: false,
        bytes: None,
        packets: None,
        count: 1,
        duplicate: false,
        counting: Counting::Exact,
        granularity: Granularity::Packet,
        details: None,
        format: Format::OvnKubernetesAcl,
        origin,
    };
    Ok(Record::Flow(Box::new(flow), PacketReport::Single))
}

/// The ACL name (a JSON-escaped string in quotes) at the start of `message`, and what follows.
fn acl_name(message: &str) -> Result<(String, &str), String> {
    let quoted = message.trim_start().strip_prefix("name=").ok_or_else(|| {
        format!(
            "expected name=\"…\" in the ACL line, found {}",
            preview(message)
        )
    })?;
    if !quoted.starts_with('"') {
        return Err(format!(
            "expected a quoted ACL name, found {}",
            preview(quoted)
        ));
    }
    let bytes = quoted.as_bytes();
    let mut i = 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => break,
            _ => i += 1,
        }
    }
    if i >= bytes.len() {
        return Err(format!("the ACL name is not closed: {}", preview(quoted)));
    }
    let name: String = serde_json::from_str(&quoted[..=i]).map_err(|e| {
        format!(
            "the ACL name {} is not a quoted string: {e}",
            preview(&quoted[..=i])
        )
    })?;
    Ok((name, &quoted[i + 1..]))
}

/// What an ACL name says: the policy it stands for, the namespace of the pods it is on, the
/// direction and rule, in the naming of each OVN-Kubernetes and Kube-OVN release.
#[derive(Debug, Default, PartialEq)]
struct Acl {
    /// The policy object (none for a namespace's default deny and unnamed ACLs).
    policy: Option<PolicyRef>,
    /// Namespace of the pods the ACL applies to.
    namespace: Option<String>,
    direction: Direction,
    rule: Option<String>,
    what: AclKind,
}

#[derive(Debug, Default, PartialEq, Clone, Copy)]
enum AclKind {
    /// A rule of a NetworkPolicy, AdminNetworkPolicy, BaselineAdminNetworkPolicy or
    /// EgressFirewall.
    Rule,
    /// The isolation of a namespace's selected pods (NetworkPolicy default deny).
    DefaultDeny,
    /// A name flowq does not know.
    #[default]
    Other,
}

fn direction_word(word: &str) -> Option<Direction> {
    match word.to_ascii_lowercase().as_str() {
        "ingress" => Some(Direction::Ingress),
        "egress" => Some(Direction::Egress),
        _ => None,
    }
}

fn policy(namespace: Option<&str>, name: &str, kind: &str) -> Option<PolicyRef> {
    Some(PolicyRef {
        namespace: namespace.map(str::to_string),
        name: name.to_string(),
        kind: Some(kind.to_string()),
        tier: None,
    })
}

impl Acl {
    fn decode(name: &str) -> Acl {
        let parts: Vec<&str> = name.split(':').collect();
        let numeric = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        match parts.as_slice() {
            // NP:<ns>:<policy>:<Ingress|Egress>:<rule>
            ["NP", ns, pol, dir, rule] if numeric(rule) => Acl {
                policy: policy(Some(ns), pol, "NetworkPolicy"),
                namespace: Some(ns.to_string()),
                direction: direction_word(dir).unwrap_or_default(),
                rule: Some(rule.to_string()),
                what: AclKind::Rule,
            },
            // NP:<ns>:<Ingress|Egress>: the namespace's default deny, naming no policy.
            ["NP", ns, dir] if direction_word(dir).is_some() => Acl {
                policy: None,
                namespace: Some(ns.to_string()),
                direction: direction_word(dir).unwrap_or_default(),
                rule: None,
                what: AclKind::DefaultDeny,
            },
            [kind @ ("ANP" | "BANP"), pol, dir, rule] if numeric(rule) => Acl {
                policy: policy(
                    None,
                    pol,
                    if *kind == "ANP" {
                        "AdminNetworkPolicy"
                    } else {
                        "BaselineAdminNetworkPolicy"
                    },
                ),
                namespace: None,
                direction: direction_word(dir).unwrap_or_default(),
                rule: Some(rule.to_string()),
                what: AclKind::Rule,
            },
            // EF:<ns>:<rule>: an EgressFirewall (always named `default`) rule.
            ["EF", ns, rule] if numeric(rule) => Acl {
                policy: policy(Some(ns), "default", "EgressFirewall"),
                namespace: Some(ns.to_string()),
                direction: Direction::Egress,
                rule: Some(rule.to_string()),
                what: AclKind::Rule,
            },
            _ => Acl::decode_older(name),
        }
    }

    /// Names before OVN-Kubernetes's 2023 scheme (`<ns>_<policy>_<rule>`, `<ns>_<policy>` for
    /// the default deny named after one policy of the namespace, `<ns>_ingressDefaultDeny`) and
    /// Kube-OVN's (`np/<policy>.<ns>/<ingress|egress>/<IPv4|IPv6>/<rule>`). Namespace and
    /// policy names cannot hold `_` (DNS names), so splitting on it is exact.
    fn decode_older(name: &str) -> Acl {
        if let Some(rest) = name.strip_prefix("np/") {
            let parts: Vec<&str> = rest.split('/').collect();
            if let [policy_ns, dir, _family, rule] = parts.as_slice() {
                // Policy names may hold dots, namespaces cannot.
                if let Some((pol, ns)) = policy_ns.rsplit_once('.') {
                    return Acl {
                        policy: policy(Some(ns), pol, "NetworkPolicy"),
                        namespace: Some(ns.to_string()),
                        direction: direction_word(dir).unwrap_or_default(),
                        rule: Some(rule.to_string()),
                        what: AclKind::Rule,
                    };
                }
            }
            return Acl::default();
        }
        let parts: Vec<&str> = name.split('_').collect();
        let dns = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        };
        match parts.as_slice() {
            [ns, "ingressDefaultDeny"] | [ns, "egressDefaultDeny"] if dns(ns) => Acl {
                policy: None,
                namespace: Some(ns.to_string()),
                direction: if name.ends_with("ingressDefaultDeny") {
                    Direction::Ingress
                } else {
                    Direction::Egress
                },
                rule: None,
                what: AclKind::DefaultDeny,
            },
            [ns, pol, rule] if dns(ns) && dns(pol) && rule.bytes().all(|b| b.is_ascii_digit()) => {
                Acl {
                    policy: policy(Some(ns), pol, "NetworkPolicy"),
                    namespace: Some(ns.to_string()),
                    direction: Direction::Unknown,
                    rule: Some(rule.to_string()),
                    what: AclKind::Rule,
                }
            }
            // The default deny of the pods a policy selects, named after that policy.
            [ns, pol] if dns(ns) && dns(pol) => Acl {
                policy: policy(Some(ns), pol, "NetworkPolicy"),
                namespace: Some(ns.to_string()),
                direction: Direction::Unknown,
                rule: None,
                what: AclKind::DefaultDeny,
            },
            _ => Acl::default(),
        }
    }

    /// The reason a denial gives: what the ACL is, in words, with its name as logged.
    fn reason(&self, name: &str, direction: Direction) -> String {
        let side = match direction {
            Direction::Unknown => String::new(),
            d => format!(" {d}"),
        };
        let what = match (self.what, &self.policy, &self.namespace) {
            (AclKind::DefaultDeny, _, Some(ns)) => format!("default deny{side} of namespace {ns}"),
            (AclKind::Rule, Some(p), _) => format!(
                "{}{side} rule {}",
                p.kind.as_deref().unwrap_or("policy"),
                self.rule.as_deref().unwrap_or("?")
            ),
            _ => return format!("ACL {name:?}"),
        };
        format!("{what} (ACL {name:?})")
    }
}

/// What the packet dump says (OVS `flow_format`: the protocol, then `key=value` fields).
struct Packet {
    protocol: Protocol,
    src_ip: Option<std::net::IpAddr>,
    dst_ip: Option<std::net::IpAddr>,
    src_port: Option<u16>,
    dst_port: Option<u16>,
    is_reply: Option<bool>,
}

impl Packet {
    fn decode(dump: &str) -> Result<Packet, String> {
        let fields = key_values(dump);
        let proto_word = fields.first().map_or("", |(k, _)| *k);
        let protocol = match proto_word {
            "tcp" | "tcp6" => Protocol::Tcp,
            "udp" | "udp6" => Protocol::Udp,
            "sctp" | "sctp6" => Protocol::Sctp,
            "icmp" => Protocol::Icmpv4,
            "icmp6" => Protocol::Icmpv6,
            _ => first(&fields, "nw_proto")
                .and_then(|n| n.parse().ok())
                .map_or(Protocol::Unknown, Protocol::from_number),
        };
        let src_ip = text_ip(
            first(&fields, "nw_src").or(first(&fields, "ipv6_src")),
            "nw_src",
        )?;
        let dst_ip = text_ip(
            first(&fields, "nw_dst").or(first(&fields, "ipv6_dst")),
            "nw_dst",
        )?;
        let src_port = text_port(first(&fields, "tp_src"), "tp_src")?;
        let dst_port = text_port(first(&fields, "tp_dst"), "tp_dst")?;
        let is_reply = match protocol {
            Protocol::Tcp => first(&fields, "tcp_flags").and_then(|flags| {
                let set: Vec<&str> = flags.split(['|', '=']).collect();
                let syn = set.contains(&"syn");
                let ack = set.contains(&"ack");
                // A SYN opens a connection, a SYN-ACK answers it; other packets are within one.
                match (syn, ack) {
                    (true, false) => Some(false),
                    (true, true) => Some(true),
                    _ => None,
                }
            }),
            Protocol::Icmpv4 | Protocol::Icmpv6 => {
                match (
                    protocol,
                    first(&fields, "icmp_type").or(first(&fields, "icmpv6_type")),
                ) {
                    (Protocol::Icmpv4, Some("8")) | (Protocol::Icmpv6, Some("128")) => Some(false),
                    (Protocol::Icmpv4, Some("0")) | (Protocol::Icmpv6, Some("129")) => Some(true),
                    _ => None,
                }
            }
            // UDP and SCTP say nothing: from an ephemeral port to a service port is a request,
            // the other way a reply.
            _ => match (src_port, dst_port) {
                (Some(s), Some(d)) if s >= 32768 && d < 32768 => Some(false),
                (Some(s), Some(d)) if s < 32768 && d >= 32768 => Some(true),
                _ => None,
            },
        };
        Ok(Packet {
            protocol,
            src_ip,
            dst_ip,
            src_port,
            dst_port,
            is_reply,
        })
    }
}

/// Whether a line is another message of an OVS/OVN vlog (`<time>|<seq>|<module>|<LEVEL>|…`).
fn is_vlog_line(text: &str) -> bool {
    let parts: Vec<&str> = text.splitn(5, '|').collect();
    parts.len() == 5
        && DateTime::parse_from_rfc3339(parts[0].rsplit(' ').next().unwrap_or("")).is_ok()
        && parts[1].bytes().all(|b| b.is_ascii_digit())
        && matches!(parts[3], "EMER" | "ERR" | "WARN" | "INFO" | "DBG")
}

/// Whether a line is one of the notices `kubectl`/`oc logs` print before a container's log.
fn is_kubectl_notice(text: &str) -> bool {
    text.starts_with("Defaulting container name to ")
        || text.starts_with("Defaulted container ")
        || (text.starts_with("Use '") && text.contains(" describe pod/"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn origin() -> Origin {
        Origin {
            input: Arc::from("t"),
            line: 1,
        }
    }

    fn flow(line: &str) -> Flow {
        match decode(line.as_bytes(), origin()) {
            Record::Flow(f, _) => *f,
            other => panic!("{line}: {other:?}"),
        }
    }

    const PACKET: &str = "tcp,vlan_tci=0x0000,dl_src=0a:58:0a:80:02:1a,dl_dst=0a:58:0a:80:02:19,nw_src=10.128.2.26,nw_dst=10.128.2.25,nw_tos=0,nw_ecn=0,nw_ttl=64,nw_frag=no,tp_src=57814,tp_dst=8080,tcp_flags=syn";

    fn line(name: &str, verdict: &str, direction: &str) -> String {
        format!(
            "2024-06-10T16:27:45.194Z|00052|acl_log(ovn_pinctrl0)|INFO|name=\"{name}\", verdict={verdict}, severity=alert{direction}: {PACKET}"
        )
    }

    #[test]
    fn current_acl_names_decode_into_their_policy_kind_and_rule() {
        let f = flow(&line(
            "NP:shop:allow-web:Ingress:0",
            "allow",
            ", direction=to-lport",
        ));
        assert_eq!(f.policies[0].to_string(), "shop/allow-web");
        assert_eq!(
            (f.direction, f.action),
            (Direction::Ingress, Action::Allowed)
        );
        assert_eq!(f.dst.identity.namespace(), Some("shop"));
        assert_eq!(f.src.identity, Identity::Unknown);
        assert_eq!(f.is_reply, Some(false));
        let f = flow(&line("NP:shop:Ingress", "drop", ", direction=to-lport"));
        assert!(f.policies.is_empty());
        assert_eq!(
            f.drop_reason.as_deref(),
            Some("default deny ingress of namespace shop (ACL \"NP:shop:Ingress\")")
        );
        let f = flow(&line(
            "ANP:tenants:Egress:2",
            "drop",
            ", direction=from-lport",
        ));
        assert_eq!(f.policies[0].to_string(), "tenants (AdminNetworkPolicy)");
        assert_eq!(
            f.drop_reason.as_deref(),
            Some("AdminNetworkPolicy egress rule 2 (ACL \"ANP:tenants:Egress:2\")")
        );
        assert_eq!(f.direction, Direction::Egress);
        let f = flow(&line("BANP:default:Ingress:1", "reject", ""));
        assert_eq!(
            f.direction,
            Direction::Ingress,
            "from the name when the line has none"
        );
        assert_eq!(f.action, Action::Denied);
        let f = flow(&line("EF:shop:3", "drop", ", direction=from-lport"));
        assert_eq!(f.policies[0].to_string(), "shop/default (EgressFirewall)");
        assert_eq!(f.src.identity.namespace(), Some("shop"));
        let f = flow(&line(
            "ANP:tenants:Ingress:1",
            "pass",
            ", direction=to-lport",
        ));
        assert_eq!((f.action, f.action_raw.as_str()), (Action::Unknown, "pass"));
    }

    #[test]
    fn older_and_kube_ovn_names_decode_too() {
        let f = flow(&line("shop_allow-web_0", "allow", ""));
        assert_eq!(f.policies[0].to_string(), "shop/allow-web");
        assert_eq!(f.direction, Direction::Unknown);
        let f = flow(&line("shop_deny-all", "drop", ""));
        assert_eq!(
            f.drop_reason.as_deref(),
            Some("default deny of namespace shop (ACL \"shop_deny-all\")")
        );
        assert_eq!(f.policies[0].name, "deny-all");
        let f = flow(&line("shop_ingressDefaultDeny", "drop", ""));
        assert_eq!(f.direction, Direction::Ingress);
        assert!(f.policies.is_empty());
        let f = flow(&line(
            "np/allow.web.shop/ingress/IPv4/0",
            "allow",
            ", direction=to-lport",
        ));
        assert_eq!(f.policies[0].to_string(), "shop/allow.web");
        let f = flow(&line("<unnamed>", "drop", ", direction=to-lport"));
        assert!(f.policies.is_empty());
        assert_eq!(f.drop_reason.as_deref(), Some("ACL \"<unnamed>\""));
    }

    #[test]
    fn ipv6_icmp_and_spliced_packets_read_their_first_fields() {
        let v6 = "2024-01-01T00:00:00.000Z|00001|acl_log(ovn_pinctrl0)|INFO|name=\"NP:a:Ingress\", verdict=drop, severity=alert, direction=to-lport: icmp6,vlan_tci=0x0000,ipv6_src=fd00::1,ipv6_dst=fd00::2,ipv6_label=0x00000,nw_tos=0,nw_ecn=0,nw_ttl=64,icmp_type=128,icmp_code=0";
        let f = flow(v6);
        assert_eq!(
            (f.protocol, f.src.ip),
            (Protocol::Icmpv6, "fd00::1".parse().ok())
        );
        assert_eq!((f.src.port, f.is_reply), (None, Some(false)));
        let spliced = line("ANP:x:Egress:0", "allow", ", direction=from-lport").replace(
            "tcp_flags=syn",
            "tcp_flags=fin|ack=0,nw_ecn=0,tp_src=55704,tp_dst=9,tcp_flags=ack",
        );
        let f = flow(&spliced);
        assert_eq!((f.src.port, f.dst.port), (Some(57814), Some(8080)));
        assert_eq!(f.is_reply, None);
    }

    #[test]
    fn other_log_lines_are_events_and_broken_lines_skips() {
        let kind = |l: &str| match decode(l.as_bytes(), origin()) {
            Record::Event { kind } => kind,
            other => panic!("{l}: {other:?}"),
        };
        assert_eq!(
            kind("2024-06-09T19:00:10.441Z|00161|binding|INFO|Claiming lport x"),
            "ovn_log"
        );
        assert_eq!(
            kind("Defaulting container name to ovn-controller."),
            "kubectl_notice"
        );
        let skip = |l: &str| match decode(l.as_bytes(), origin()) {
            Record::Skip(c) => c,
            other => panic!("{l}: {other:?}"),
        };
        assert!(skip("hello").contains("expected an OVN ACL audit line"));
        assert!(
            skip(&line("NP:a:Ingress", "drop", "").replace("10.128.2.26", "10.128.2.999"))
                .contains("10.128.2.999")
        );
        assert!(
            skip("2024-06-10T16:27:45.194Z|00052|acl_log(ovn_pinctrl0)|INFO|name=\"x")
                .contains("not closed")
        );
        assert!(
            skip("noon|00052|acl_log(ovn_pinctrl0)|INFO|name=\"x\", verdict=drop: tcp")
                .contains("RFC 3339")
        );
    }
}
