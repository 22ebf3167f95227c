//! The hand-verified facts of `../shared/formats/samples/EXPECTED.md` for every
//! `aws-network-policy-agent/*` sample (the EKS network policy agent's three line shapes), one
//! test per file, asserted through the public API. Each test is skipped (with a note) when
//! `../shared` is not beside the project.

use std::path::{Path, PathBuf};

use netflow_core::{Action, Direction, Flow, Format, InputReport, Protocol};

mod support;
use support::{ip, time, tuple};

fn sample(file: &str) -> Option<PathBuf> {
    support::sample("aws-network-policy-agent", file)
}

/// Reads one sample with no snapshot: its report (no skips, detected as AwsNetworkPolicyAgent) and its flows.
fn read(path: &Path) -> (InputReport, Vec<Flow>) {
    let (report, flows) = support::read_clean(path, Format::AwsNetworkPolicyAgent);
    assert!(flows
        .iter()
        .all(|f| f.format == Format::AwsNetworkPolicyAgent));
    (report, flows)
}

fn count(flows: &[Flow], pred: impl Fn(&Flow) -> bool) -> usize {
    flows.iter().filter(|f| pred(f)).count()
}

#[test]
fn issue73_old_json_accepts() {
    let Some(path) = sample("aws-npa-issue73_old-zap-json-ts_accept.first6.log") else {
        return;
    };
    let (report, flows) = read(&path);
    assert_eq!((report.records, report.flows), (6, 6));
    assert!(flows
        .iter()
        .all(|f| f.action == Action::Allowed && f.action_raw == "ACCEPT"));
    assert_eq!(count(&flows, |f| f.protocol == Protocol::Tcp), 3);
    assert_eq!(count(&flows, |f| f.protocol == Protocol::Udp), 3);
    assert!(flows
        .iter()
        .all(|f| f.direction == Direction::Unknown && f.node.is_none()));
    assert_eq!(tuple(&flows[0]), "10.1.206.228:49880 → 10.1.6.79:6379");
    assert_eq!(flows[0].time, time("2023-12-12T07:00:02.818Z"));
    assert_eq!(tuple(&flows[1]), "10.1.206.228:56468 → 172.20.0.10:53");
    assert_eq!(flows[1].protocol, Protocol::Udp);
    assert_eq!(flows[1].time, time("2023-12-12T07:00:03.731Z"));
    assert_eq!(tuple(&flows[2]), "10.1.206.228:59708 → 10.1.8.149:3306");
    // Client connections, explained as requests.
    assert!(flows.iter().all(Flow::is_request));
}

#[test]
fn issue127_respaced_json_among_agent_lines() {
    let Some(path) = sample("aws-npa-issue127_old-zap-json-spaced_mixed.first6.log") else {
        return;
    };
    let (report, flows) = read(&path);
    assert_eq!((report.records, report.flows), (6, 2));
    assert_eq!(report.events.get("agent_log"), Some(&4));
    assert_eq!(
        tuple(&flows[0]),
        "172.20.100.147:42216 → 172.20.121.22:5673"
    );
    assert_eq!(
        (flows[0].protocol, flows[0].action),
        (Protocol::Tcp, Action::Allowed)
    );
    assert_eq!(flows[0].time, time("2023-11-07T15:45:16.003Z"));
    assert_eq!(tuple(&flows[1]), "10.100.0.1:443 → 172.20.121.22:55464");
    assert_eq!(flows[1].action, Action::Denied);
    assert_eq!(flows[1].time, time("2023-11-07T15:45:16.503Z"));
    // The reply of the API server's service to the pod's ephemeral port.
    assert_eq!(flows[1].is_reply, Some(true));
    assert_eq!((flows[0].origin.line, flows[1].origin.line), (1, 2));
}

#[test]
fn issue246_one_flow_between_conntrack_lines() {
    let Some(path) = sample("aws-npa-issue246_old-zap-json_conntrack-mixed.first3.log") else {
        return;
    };
    let (report, flows) = read(&path);
    assert_eq!((report.records, report.flows), (3, 1));
    assert_eq!(report.events.get("agent_log"), Some(&2));
    assert!(
        report.detected_because.starts_with("line 1:"),
        "{}",
        report.detected_because
    );
    let f = &flows[0];
    assert_eq!(f.origin.line, 2);
    assert_eq!(tuple(f), "10.3.99.194:33794 → 209.54.181.208:443");
    assert_eq!((f.protocol, f.action), (Protocol::Tcp, Action::Allowed));
    assert_eq!(f.time, time("2024-04-10T20:38:07.026Z"));
}

#[test]
fn issue390_denied_retransmits() {
    let Some(path) = sample("aws-npa-issue390_old-zap-json-caller_deny.log") else {
        return;
    };
    let (report, flows) = read(&path);
    assert_eq!((report.records, report.flows), (2, 2));
    for f in &flows {
        assert_eq!(tuple(f), "10.152.50.234:38940 → 10.152.49.161:8080");
        assert_eq!(
            (f.protocol, f.action, f.count),
            (Protocol::Tcp, Action::Denied, 1)
        );
        assert!(f.is_request());
    }
    assert_eq!(flows[0].time, time("2025-04-17T18:08:21.960Z"));
    assert_eq!(flows[1].time, time("2025-04-17T18:08:23.018Z"));
}

#[test]
fn issue487_message_shape_with_direction() {
    let Some(path) = sample("aws-npa-issue487_v1.2-msg-direction_deny.first6.log") else {
        return;
    };
    let (report, flows) = read(&path);
    assert_eq!((report.records, report.flows), (6, 6));
    for f in &flows {
        assert_eq!(
            (f.action, f.direction, f.protocol),
            (Action::Denied, Direction::Ingress, Protocol::Tcp)
        );
        assert_eq!((f.dst.ip, f.dst.port), (ip("10.5.72.157"), Some(8080)));
        assert_eq!(f.src.ip, ip("10.5.223.87"));
        // v1.2.x: no Tier.
        assert_eq!(f.drop_reason, None);
    }
    let ports: Vec<u16> = flows.iter().map(|f| f.src.port.unwrap()).collect();
    assert_eq!(ports, [59622, 59622, 59622, 59622, 56272, 56272]);
    assert_eq!(flows[0].time, time("2025-11-21T03:25:54.751Z"));
    assert_eq!(flows[3].time, time("2025-11-21T03:26:01.996Z"));
    assert_eq!(flows[5].time, time("2025-11-21T03:26:14.866Z"));
}

#[test]
fn issue163_cloudwatch_console_copy() {
    let Some(path) = sample("aws-npa-issue163_cloudwatch-console-copy.first2.txt") else {
        return;
    };
    let (report, flows) = read(&path);
    assert_eq!((report.records, report.flows), (2, 2));
    for f in &flows {
        assert_eq!(f.node.as_deref(), Some("ip-172-27-44-11.ec2.internal"));
        assert_eq!(tuple(f), "172.27.32.157:60476 → 172.27.38.227:5003");
        assert_eq!((f.protocol, f.action), (Protocol::Tcp, Action::Allowed));
        assert_eq!(
            (f.direction, f.drop_reason.as_deref()),
            (Direction::Unknown, None)
        );
    }
    // The console's local time, with its offset.
    assert_eq!(flows[0].time, time("2023-12-06T20:25:58.455Z"));
    assert_eq!(flows[1].time, time("2023-12-06T20:25:58.466Z"));
}

#[test]
fn issue120_cloudwatch_deny_to_instance_metadata() {
    let Some(path) = sample("aws-npa-issue120_cloudwatch-message.txt") else {
        return;
    };
    let (report, flows) = read(&path);
    assert_eq!((report.records, report.flows), (1, 1));
    let f = &flows[0];
    assert_eq!(f.node.as_deref(), Some("ip-10-0-100-44.ec2.internal"));
    assert_eq!(tuple(f), "10.0.115.28:37758 → 169.254.169.254:80");
    assert_eq!((f.protocol, f.action), (Protocol::Tcp, Action::Denied));
    assert_eq!(f.time, None);
    assert!(f.is_request());
}

#[test]
fn issue175_cloudwatch_deny_of_a_reply() {
    let Some(path) = sample("aws-npa-issue175_cloudwatch-message.txt") else {
        return;
    };
    let (report, flows) = read(&path);
    assert_eq!((report.records, report.flows), (1, 1));
    let f = &flows[0];
    assert_eq!(
        f.node.as_deref(),
        Some("ip-10-0-64-172.ap-southeast-1.compute.internal")
    );
    assert_eq!(tuple(f), "10.0.68.172:4000 → 10.0.74.123:39816");
    assert_eq!((f.protocol, f.action), (Protocol::Tcp, Action::Denied));
    // Per the reporter the reply of an allowed connection: not explained as a request.
    assert_eq!(f.is_reply, Some(true));
    assert!(!f.is_request());
}

#[test]
fn issue681_ipv6_message_text_with_tier() {
    let Some(path) = sample("aws-npa-issue681_v1.3-ipv6-message-text.txt") else {
        return;
    };
    let (report, flows) = read(&path);
    assert_eq!((report.records, report.flows), (1, 1));
    let f = &flows[0];
    assert_eq!(
        (f.src.ip, f.dst.ip),
        (ip("fe80::b082:61ff:feaf:1be8"), ip("ff02::16"))
    );
    assert_eq!((f.src.port, f.dst.port), (None, None));
    assert_eq!(f.protocol, Protocol::Unknown);
    assert_eq!(
        (f.action, f.direction),
        (Action::Denied, Direction::Ingress)
    );
    assert_eq!(f.drop_reason.as_deref(), Some("tier ERROR"));
}
