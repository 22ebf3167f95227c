//! Antrea's NetworkPolicy audit log (`/var/log/antrea/networkpolicy/np.log`): one
//! space-separated line per logged flow, `<date> <time> <table> <policy> …`, in every layout
//! Antrea wrote (v0.11–v1.5 without ports, v1.6–v1.8 with ports, v1.9 with the rule name, v1.12
//! with the log label, v1.13 on with the direction and the pod the rule applies to), maybe
//! folded (` [<n> packets in <duration>]`).
//!
//! The policy reference names the policy and its kind (`AntreaNetworkPolicy:ns/name`,
//! `K8sNetworkPolicy:ns/name`, …); a Kubernetes NetworkPolicy's default drop names none (bare
//! `K8sNetworkPolicy`): the snapshot says which policies isolated the pod. Addresses and the
//! local pod only; nothing here knows of other formats.

use std::sync::Arc;

use super::record::{PacketReport, Record};
use super::text::{as_text, naive_utc, preview, text_ip, text_port};
use crate::flow::{
    Action, Counting, Direction, Endpoint, Flow, Granularity, Identity, Origin, PodIdentity,
    PolicyRef, Protocol,
};
use crate::format::Format;

/// The kinds of policy reference Antrea prints, and the kind flowq names them by.
const POLICY_TYPES: &[(&str, &str)] = &[
    ("K8sNetworkPolicy", "NetworkPolicy"),
    ("AntreaNetworkPolicy", "AntreaNetworkPolicy"),
    ("AntreaClusterNetworkPolicy", "AntreaClusterNetworkPolicy"),
    ("AdminNetworkPolicy", "AdminNetworkPolicy"),
    ("BaselineAdminNetworkPolicy", "BaselineAdminNetworkPolicy"),
    ("K8sClusterNetworkPolicy", "ClusterNetworkPolicy"),
];

/// Says why a text line looks like an Antrea `np.log` line, or `None`.
pub(crate) fn sniff_line(line: &str) -> Option<String> {
    let tokens: Vec<&str> = line.split_whitespace().take(4).collect();
    let [date, time, table, reference] = tokens.as_slice() else {
        return None;
    };
    let policy_type = reference.split(':').next().unwrap_or("");
    (naive_utc(date, time, TIME_FORMAT).is_some()
        && table.ends_with("Rule")
        && POLICY_TYPES.iter().any(|(t, _)| *t == policy_type))
    .then(|| {
        format!(
            "is \"<date> <time> {table} {policy_type}…\": an Antrea NetworkPolicy audit line \
             (antrea-np-log)"
        )
    })
}

/// Go's `log.Ldate | log.Lmicroseconds`, in the agent's zone (UTC in practice).
const TIME_FORMAT: &str = "%Y/%m/%d %H:%M:%S%.f";

/// Decodes one `np.log` line.
pub fn decode(bytes: &[u8], origin: Origin) -> Record {
    let trimmed = bytes.trim_ascii();
    if trimmed.is_empty() {
        return Record::Blank;
    }
    as_text(trimmed)
        .and_then(|text| decode_text(text, origin))
        .unwrap_or_else(Record::Skip)
}

/// The fields of one line, whatever its layout.
struct Line<'a> {
    table: &'a str,
    reference: &'a str,
    rule: Option<&'a str>,
    direction: Option<&'a str>,
    action: &'a str,
    applied_to: Option<&'a str>,
    src_ip: &'a str,
    src_port: Option<&'a str>,
    dst_ip: &'a str,
    dst_port: Option<&'a str>,
    proto: &'a str,
    length: &'a str,
}

fn decode_text(text: &str, origin: Origin) -> Result<Record, String> {
    let (text, folded) = fold_suffix(text)?;
    let tokens: Vec<&str> = text.split_whitespace().collect();
    let (date, time, rest) = match tokens.as_slice() {
        [date, time, rest @ ..] => (*date, *time, rest),
        _ => return Err(not_antrea(text)),
    };
    let time = naive_utc(date, time, TIME_FORMAT).ok_or_else(|| not_antrea(text))?;
    let line = match *rest {
        // v1.13 on.
        [table, reference, rule, direction, action, _priority, applied_to, src_ip, src_port, dst_ip, dst_port, proto, length, _label] => {
            Line {
                table,
                reference,
                rule: Some(rule),
                direction: Some(direction),
                action,
                applied_to: Some(applied_to),
                src_ip,
                src_port: Some(src_port),
                dst_ip,
                dst_port: Some(dst_port),
                proto,
                length,
            }
        }
        // v1.9–v1.11, and v1.12 with the log label.
        [table, reference, rule, action, _priority, src_ip, src_port, dst_ip, dst_port, proto, length, ..]
            if rest.len() <= 12 =>
        {
            Line {
                table,
                reference,
                rule: Some(rule),
                direction: None,
                action,
                applied_to: None,
                src_ip,
                src_port: Some(src_port),
                dst_ip,
                dst_port: Some(dst_port),
                proto,
                length,
            }
        }
        // v1.6–v1.8.
        [table, reference, action, _priority, src_ip, src_port, dst_ip, dst_port, proto, length] => {
            Line {
                table,
                reference,
                rule: None,
                direction: None,
                action,
                applied_to: None,
                src_ip,
                src_port: Some(src_port),
                dst_ip,
                dst_port: Some(dst_port),
                proto,
                length,
            }
        }
        // v0.11–v1.5: no ports, the length before the protocol.
        [table, reference, action, _priority, src_ip, dst_ip, length, proto] => Line {
            table,
            reference,
            rule: None,
            direction: None,
            action,
            applied_to: None,
            src_ip,
            src_port: None,
            dst_ip,
            dst_port: None,
            proto,
            length,
        },
        _ => {
            return Err(format!(
                "expected an Antrea np.log line of 8, 10, 11, 12 or 14 fields after the time, \
                 found {}: {}",
                rest.len(),
                preview(text)
            ))
        }
    };
    line.flow(time, folded, origin)
        .map(|flow| Record::Flow(Box::new(flow), PacketReport::Single))
}

/// Takes the ` [<n> packets in <duration>]` Antrea appends when it folds identical lines.
fn fold_suffix(text: &str) -> Result<(&str, Option<u64>), String> {
    let Some(open) = text.rfind(" [") else {
        return Ok((text, None));
    };
    let Some(inner) = text[open + 2..].strip_suffix(']') else {
        return Ok((text, None));
    };
    let Some((n, _duration)) = inner.split_once(" packets in ") else {
        return Ok((text, None));
    };
    let n: u64 = n
        .trim()
        .parse()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("the folded packet count {n:?} is not a positive number"))?;
    Ok((text[..open].trim_end(), Some(n)))
}

fn not_antrea(text: &str) -> String {
    format!(
        "expected an Antrea np.log line (<yyyy/mm/dd> <hh:mm:ss.micro> <table> <policy> …), \
         found {}",
        preview(text)
    )
}

fn nil(value: &str) -> Option<&str> {
    (value != "<nil>" && !value.is_empty()).then_some(value)
}

impl Line<'_> {
    fn flow(
        self,
        time: chrono::DateTime<chrono::Utc>,
        folded: Option<u64>,
        origin: Origin,
    ) -> Result<Flow, String> {
        let action = match self.action {
            "Allow" => Action::Allowed,
            "Drop" | "Reject" => Action::Denied,
            // Pass hands the flow to the next tier, Redirect to the L7 engine: no decision yet.
            _ => Action::Unknown,
        };
        let direction = match self.direction.map(str::to_ascii_lowercase).as_deref() {
            Some("ingress") => Direction::Ingress,
            Some("egress") => Direction::Egress,
            _ if self.table.contains("Ingress") => Direction::Ingress,
            _ if self.table.contains("Egress") => Direction::Egress,
            _ => Direction::Unknown,
        };
        let protocol = match self.proto {
            "IPv6-ICMP" => Protocol::Icmpv6,
            "IGMP" => Protocol::Other(2),
            "UnknownProtocol" => Protocol::Unknown,
            p => Protocol::parse(p).unwrap_or(Protocol::Unknown),
        };
        let (policy, default_rule) = reference(self.reference)?;
        let rule = self.rule.and_then(nil);
        let mut src = Endpoint::from_log(
            text_ip(Some(self.src_ip), "source IP")?,
            text_port(self.src_port, "source port")?,
            Identity::Unknown,
            None,
        );
        let mut dst = Endpoint::from_log(
            text_ip(Some(self.dst_ip), "destination IP")?,
            text_port(self.dst_port, "destination port")?,
            Identity::Unknown,
            None,
        );
        // The pod the rule is enforced on (v1.13 on) is the local end.
        if let Some((ns, pod)) = self
            .applied_to
            .and_then(nil)
            .and_then(|a| a.split_once('/'))
        {
            let end = match direction {
                Direction::Ingress => Some(&mut dst),
                Direction::Egress => Some(&mut src),
                Direction::Unknown => None,
            };
            if let Some(end) = end {
                end.identity = Identity::Pod(Arc::new(PodIdentity {
                    namespace: ns.to_string(),
                    name: pod.to_string(),
                    ..Default::default()
                }));
                end.identity_source = crate::flow::IdentitySource::Log;
            }
        }
        let length: Option<u64> = nil(self.length).and_then(|l| l.parse().ok());
        let count = folded.unwrap_or(1);
        let side = match direction {
            Direction::Unknown => String::new(),
            d => format!(" {d}"),
        };
        let drop_reason = (action == Action::Denied).then(|| match (&policy, default_rule, rule) {
            (None, _, _) | (_, true, None) => {
                format!(
                    "NetworkPolicy default drop{side} (no rule allowed it; table {})",
                    self.table
                )
            }
            (Some(p), _, Some(rule)) => format!(
                "{}{side} rule {rule}",
                p.kind.as_deref().unwrap_or("policy")
            ),
            (Some(p), _, None) => format!(
                "{}{side} rule (table {})",
                p.kind.as_deref().unwrap_or("policy"),
                self.table
            ),
        });
        Ok(Flow {
            time: Some(time),
            src,
            dst,
            protocol,
            action,
            action_raw: self.action.to_string(),
            direction,
            node: None,
            drop_reason,
            policies: policy.into_iter().collect(),
            is_reply: None,
            reply_seen: false,
            bytes: length.map(|l| l.saturating_mul(count)),
            packets: Some(count),
            count,
            duplicate: false,
            counting: if folded.is_some() {
                Counting::Aggregated
            } else {
                Counting::Exact
            },
            granularity: Granularity::Connection,
            details: None,
            format: Format::AntreaNpLog,
            origin,
        })
    }
}

/// The policy a reference names (`Type:ns/name`, `Type:name`), and whether it is a default
/// rule that names none (bare `K8sNetworkPolicy`).
fn reference(text: &str) -> Result<(Option<PolicyRef>, bool), String> {
    let (policy_type, name) = text.split_once(':').unwrap_or((text, ""));
    let kind = POLICY_TYPES
        .iter()
        .find(|(t, _)| *t == policy_type)
        .map_or(policy_type, |(_, kind)| *kind);
    if name.is_empty() {
        return Ok((None, true));
    }
    let (namespace, name) = match name.split_once('/') {
        Some((ns, name)) => (Some(ns).filter(|ns| !ns.is_empty()), name),
        None => (None, name),
    };
    if name.is_empty() {
        return Err(format!("the policy reference {text:?} names no policy"));
    }
    Ok((
        Some(PolicyRef {
            namespace: namespace.map(str::to_string),
            name: name.to_string(),
            kind: Some(kind.to_string()),
            tier: None,
        }),
        false,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin() -> Origin {
        Origin {
            input: Arc::from("np.log"),
            line: 1,
        }
    }

    fn flow(line: &str) -> Flow {
        match decode(line.as_bytes(), origin()) {
            Record::Flow(f, _) => *f,
            other => panic!("{line}: {other:?}"),
        }
    }

    #[test]
    fn the_current_layout_names_policy_rule_direction_and_local_pod() {
        let f = flow("2024/01/02 03:04:05.000006 AntreaPolicyIngressRule AntreaNetworkPolicy:shop/web-in AllowWeb Ingress Allow 14000 shop/web-0 10.10.1.5 40000 10.10.1.6 8080 TCP 60 audit");
        assert_eq!(
            f.policies[0].to_string(),
            "shop/web-in (AntreaNetworkPolicy)"
        );
        assert_eq!(
            (f.action, f.direction),
            (Action::Allowed, Direction::Ingress)
        );
        assert_eq!(f.dst.identity.to_string(), "shop/web-0");
        assert_eq!(f.src.identity, Identity::Unknown);
        assert_eq!(
            f.time.unwrap().to_rfc3339(),
            "2024-01-02T03:04:05.000006+00:00"
        );
        assert_eq!((f.bytes, f.packets, f.count), (Some(60), Some(1), 1));
        let f = flow("2024/01/02 03:04:05.000006 EgressDefaultRule K8sNetworkPolicy <nil> Egress Drop <nil> shop/web-0 10.10.1.6 <nil> 10.10.1.5 <nil> ICMP 84 <nil>");
        assert!(f.policies.is_empty());
        assert_eq!(f.src.identity.to_string(), "shop/web-0");
        assert_eq!(
            f.drop_reason.as_deref(),
            Some("NetworkPolicy default drop egress (no rule allowed it; table EgressDefaultRule)")
        );
    }

    #[test]
    fn folded_lines_count_their_packets() {
        let f = flow("2021/06/24 23:56:41.346165 AntreaPolicyEgressRule AntreaNetworkPolicy:default/test-anp Drop 44900 10.0.0.5 10.0.0.4 60 TCP [3 packets in 1.011379442s]");
        assert_eq!((f.count, f.packets, f.bytes), (3, Some(3), Some(180)));
        assert_eq!(f.counting, Counting::Aggregated);
        assert_eq!((f.src.port, f.direction), (None, Direction::Egress));
        assert_eq!(
            f.drop_reason.as_deref(),
            Some("AntreaNetworkPolicy egress rule (table AntreaPolicyEgressRule)")
        );
    }

    #[test]
    fn cluster_scoped_and_kubernetes_references_keep_their_kind() {
        let f = flow("2022/10/01 00:00:00.000001 AntreaPolicyIngressRule AntreaClusterNetworkPolicy:acnp-deny DropAll Drop 44000 10.0.0.1 4000 10.0.0.2 80 UDP 40");
        assert_eq!(
            f.policies[0].to_string(),
            "acnp-deny (AntreaClusterNetworkPolicy)"
        );
        assert_eq!(
            f.drop_reason.as_deref(),
            Some("AntreaClusterNetworkPolicy ingress rule DropAll")
        );
        let f = flow("2022/10/01 00:00:00.000001 IngressRule K8sNetworkPolicy:default/np <nil> Allow 190 10.0.0.1 4000 10.0.0.2 80 TCP 60 label");
        assert!(f.policies[0].is_network_policy());
        assert_eq!(f.policies[0].to_string(), "default/np");
    }

    #[test]
    fn other_lines_are_skips_saying_what_was_expected() {
        let skip = |l: &str| match decode(l.as_bytes(), origin()) {
            Record::Skip(c) => c,
            other => panic!("{other:?}"),
        };
        assert!(skip("hello world").contains("expected an Antrea np.log line"));
        assert!(
            skip("2022/10/01 00:00:00.000001 IngressRule K8sNetworkPolicy Drop")
                .contains("found 3")
        );
        assert!(skip("2022/10/01 00:00:00.000001 IngressRule K8sNetworkPolicy Drop -1 10.0.0.300 1 10.0.0.2 80 TCP 60").contains("10.0.0.300"));
        assert!(skip("2022/10/01 00:00:00.000001 IngressRule K8sNetworkPolicy Drop -1 10.0.0.3 1 10.0.0.2 80 TCP 60 [x packets in 1s]").contains("\"x\""));
        assert!(skip("2022/10/01 00:00:00.000001 IngressRule K8sNetworkPolicy Drop -1 10.0.0.3 1 10.0.0.2 80 TCP 60 [0 packets in 1s]").contains("positive"));
    }
}
