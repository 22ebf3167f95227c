//! The project's own fixtures for the enforcers that write text lines (`testdata/flows/<format>/`,
//! one line per documented shape): each reads with no skip as its format, and each shape gives
//! the flow its field reference says.

use std::net::IpAddr;
use std::ops::ControlFlow;
use std::path::PathBuf;

use netflow_core::{
    read_input, Action, Direction, Flow, Format, InputReport, Protocol, ReadOptions,
};

fn fixture(path: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata/flows")
        .join(path)
        .display()
        .to_string()
}

fn read(path: &str, format: Format) -> (InputReport, Vec<Flow>) {
    let name = fixture(path);
    let mut flows = Vec::new();
    let report = read_input(&name, &ReadOptions::default(), &mut |f| {
        flows.push(f);
        ControlFlow::Continue(())
    })
    .unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(report.format, Some(format), "{name}");
    assert_eq!(report.skipped, 0, "{name}: {:?}", report.skips);
    assert_eq!(
        report.records,
        report.flows + report.event_count(),
        "{name}"
    );
    (report, flows)
}

fn ip(s: &str) -> Option<IpAddr> {
    Some(s.parse().unwrap())
}

#[test]
fn every_aws_agent_line_shape_reads() {
    let (report, flows) = read(
        "aws-network-policy-agent/every-shape.log",
        Format::AwsNetworkPolicyAgent,
    );
    assert_eq!((report.records, report.flows), (14, 12));
    assert_eq!(report.events["conntrack_expired"], 1);
    assert_eq!(report.events["agent_log"], 1);
    let at = |line: u64| {
        flows
            .iter()
            .find(|f| f.origin.line == line)
            .unwrap_or_else(|| panic!("no flow at line {line}"))
    };
    // (a) with the first builds' `timestamp` key.
    assert_eq!(
        at(1).time.unwrap().to_rfc3339(),
        "2023-09-14T10:02:11.512+00:00"
    );
    assert_eq!(
        (at(1).action, at(1).direction),
        (Action::Denied, Direction::Unknown)
    );
    // (a) ICMP: the agent's zero ports are no ports.
    assert_eq!(at(3).protocol, Protocol::Icmpv4);
    assert_eq!((at(3).src.port, at(3).dst.port), (None, None));
    // (b) IPv4 without and with a tier; `ANY PROTOCOL` keeps its space.
    assert_eq!(
        (at(6).direction, at(6).drop_reason.as_deref()),
        (Direction::Ingress, None)
    );
    assert_eq!(at(7).protocol, Protocol::Other(254));
    assert_eq!(
        (at(7).direction, at(7).drop_reason.as_deref()),
        (Direction::Egress, Some("tier ADMIN"))
    );
    // (b) IPv6, both printf formats.
    assert_eq!(
        (at(8).src.ip, at(8).action, at(8).direction),
        (ip("2600:1f18:aa::15"), Action::Allowed, Direction::Egress)
    );
    assert_eq!(at(9).drop_reason.as_deref(), Some("tier BASELINE"));
    // (b) the message alone has no time.
    assert_eq!((at(10).time, at(10).dst.ip), (None, ip("192.168.50.11")));
    // (c) CloudWatch: the node, a tier, a console copy's local time, an S3 export's.
    assert_eq!(
        at(11).node.as_deref(),
        Some("ip-192-168-45-67.eu-west-1.compute.internal")
    );
    assert_eq!(
        (at(12).src.ip, at(12).action),
        (ip("2600:1f18:aa::15"), Action::Allowed)
    );
    assert_eq!(
        at(13).time.unwrap().to_rfc3339(),
        "2026-02-03T16:45:13.101+00:00"
    );
    assert_eq!(at(13).dst.ip, ip("169.254.169.254"));
    assert_eq!(
        at(14).time.unwrap().to_rfc3339(),
        "2026-02-03T16:45:14.220+00:00"
    );
    // A reply denied (the ledger's answer to an ephemeral port): not a request.
    assert_eq!(at(14).is_reply, Some(true));
    assert!(flows
        .iter()
        .filter(|f| f.origin.line != 14)
        .all(Flow::is_request));
}

#[test]
fn a_cloudwatch_export_document_reads_its_events() {
    let (report, flows) = read(
        "aws-network-policy-agent/filter-log-events.json",
        Format::AwsNetworkPolicyAgent,
    );
    assert_eq!(report.flows, 3);
    assert_eq!(flows[0].time.unwrap().timestamp_millis(), 1770137113101);
    assert!(flows
        .iter()
        .all(|f| f.node.as_deref() == Some("ip-192-168-45-67.eu-west-1.compute.internal")));
    assert_eq!(flows[2].action, Action::Allowed);
}

#[test]
fn the_eks_node_file_passes_over_the_agents_other_lines() {
    let (report, flows) = read(
        "aws-network-policy-agent/network-policy-agent.log",
        Format::AwsNetworkPolicyAgent,
    );
    assert_eq!((report.records, report.flows), (10, 7));
    assert_eq!(report.events["agent_log"], 2);
    assert_eq!(report.events["conntrack_expired"], 1);
    let denied: Vec<&Flow> = flows
        .iter()
        .filter(|f| f.action == Action::Denied)
        .collect();
    assert_eq!(denied.len(), 5);
    assert!(denied
        .iter()
        .all(|f| f.direction == Direction::Ingress && f.node.is_none()));
}

#[test]
fn every_ovn_acl_line_shape_reads() {
    let (report, flows) = read(
        "ovn-kubernetes-acl/every-shape.log",
        Format::OvnKubernetesAcl,
    );
    assert_eq!((report.records, report.flows), (15, 13));
    assert_eq!(report.events["kubectl_notice"], 1);
    assert_eq!(report.events["ovn_log"], 1);
    let at = |line: u64| {
        flows
            .iter()
            .find(|f| f.origin.line == line)
            .unwrap_or_else(|| panic!("no flow at line {line}"))
    };
    let policies =
        |line: u64| -> Vec<String> { at(line).policies.iter().map(|p| p.to_string()).collect() };
    assert_eq!(policies(2), ["shop/allow-web"]);
    assert_eq!(
        (at(3).action, at(3).direction),
        (Action::Denied, Direction::Ingress)
    );
    assert!(policies(3).is_empty());
    assert_eq!(
        (at(4).action_raw.as_str(), at(4).direction),
        ("reject", Direction::Egress)
    );
    assert_eq!(at(4).action, Action::Denied);
    assert_eq!(at(5).action, Action::Unknown);
    assert_eq!(policies(6), ["default (BaselineAdminNetworkPolicy)"]);
    assert_eq!(
        (at(6).protocol, at(6).dst.port, at(6).is_reply),
        (Protocol::Udp, Some(53), Some(false))
    );
    assert_eq!(policies(7), ["shop/default (EgressFirewall)"]);
    assert_eq!(
        at(7).drop_reason.as_deref(),
        Some("EgressFirewall egress rule 2 (ACL \"EF:shop:2\")")
    );
    assert_eq!(
        (at(8).src.ip, at(8).dst.port),
        (ip("fd01:0:0:1::15"), Some(8080))
    );
    // Legacy lines: no direction=, the name says it or not.
    assert_eq!(
        (at(10).direction, at(10).protocol),
        (Direction::Unknown, Protocol::Icmpv4)
    );
    assert_eq!(policies(10), ["shop/deny-all"]);
    assert_eq!(at(11).direction, Direction::Ingress);
    assert_eq!(policies(12), ["shop/allow-web"]);
    assert_eq!(policies(13), ["shop/allow-web"]);
    assert!(policies(14).is_empty());
    // A journal copy keeps its line's own time.
    assert_eq!(
        at(15).time.unwrap().to_rfc3339(),
        "2025-03-04T10:00:02.808+00:00"
    );
}

#[test]
fn every_antrea_np_log_layout_reads() {
    let (report, flows) = read("antrea-np-log/np.log", Format::AntreaNpLog);
    assert_eq!((report.records, report.flows), (11, 11));
    let policies =
        |i: usize| -> Vec<String> { flows[i].policies.iter().map(|p| p.to_string()).collect() };
    // v0.11–v1.5, no ports; a fold of three packets.
    assert_eq!(
        (flows[0].src.port, flows[0].direction),
        (None, Direction::Ingress)
    );
    assert_eq!(
        policies(1),
        ["customer1/agent-egress (AntreaNetworkPolicy)"]
    );
    assert_eq!((flows[1].count, flows[1].direction), (3, Direction::Egress));
    // v1.8: a Kubernetes default drop names no policy; an allow names it.
    assert!(flows[2].policies.is_empty());
    assert_eq!(flows[2].dst.port, Some(9200));
    assert_eq!(policies(3), ["vamp/elasticsearch-ingress"]);
    // v1.9: a generated rule name; v1.12: a log label.
    assert_eq!(
        policies(4),
        ["acnp-quarantine (AntreaClusterNetworkPolicy)"]
    );
    assert_eq!(
        flows[4].drop_reason.as_deref(),
        Some("AntreaClusterNetworkPolicy ingress rule ingress-drop-1cffec1")
    );
    assert_eq!(
        (flows[5].protocol, flows[5].direction),
        (Protocol::Udp, Direction::Egress)
    );
    // v1.13: an AdminNetworkPolicy pass (no decision), the local pod, a folded default drop.
    assert_eq!(policies(6), ["tenant-isolation (AdminNetworkPolicy)"]);
    assert_eq!(flows[6].action, Action::Unknown);
    assert_eq!(flows[6].dst.identity.to_string(), "vamp/elasticsearch-1");
    assert_eq!((flows[7].count, flows[7].action), (2, Action::Denied));
    assert_eq!(flows[7].dst.identity.to_string(), "vamp/elasticsearch-0");
    // An L7 redirect is no decision yet; IPv6 and ICMPv6; an indented line.
    assert_eq!(
        (flows[8].action, flows[8].action_raw.as_str()),
        (Action::Unknown, "Redirect")
    );
    assert_eq!(flows[9].src.ip, ip("fd00:10:244:1::1e"));
    assert_eq!(
        (flows[10].protocol, flows[10].dst.port),
        (Protocol::Icmpv6, None)
    );
}

#[test]
fn calico_node_flows_records_span_lines_and_read_whole() {
    let (report, flows) = read("calico-node-flows/flows.txt", Format::CalicoNodeFlows);
    assert_eq!((report.records, report.flows, report.last_line), (5, 5, 34));
    let lines: Vec<u64> = flows.iter().map(|f| f.origin.line).collect();
    assert_eq!(lines, [1, 8, 15, 22, 28]);
    let deny = &flows[0];
    assert_eq!(
        (deny.action, deny.direction, deny.count),
        (Action::Denied, Direction::Ingress, 3)
    );
    assert_eq!(deny.policies[0].to_string(), "vamp/elasticsearch-ingress");
    assert_eq!(deny.dst.service.as_ref().unwrap().name, "elasticsearch");
    assert_eq!(
        flows[2].policies.len(),
        1,
        "a pass hit does not allow: {:?}",
        flows[2].policies
    );
    assert_eq!(flows[3].dst.identity.kind_name(), "external");
    assert_eq!(
        flows[3].time.unwrap().to_rfc3339(),
        "2026-11-20T19:05:30.250+00:00"
    );
    // The older layout, without braces; the staged policy pending is not enforced.
    assert_eq!(
        (flows[4].dst.port, flows[4].action),
        (Some(8080), Action::Allowed)
    );
    assert_eq!(flows[4].policies[0].to_string(), "default/pyserver-ingress");
    // Chunks of any size read the same records: the reader joins lines in order.
    for chunk_bytes in [1, 7, 64] {
        let options = ReadOptions {
            chunk_bytes,
            ..ReadOptions::default()
        };
        let mut again = Vec::new();
        read_input(
            &fixture("calico-node-flows/flows.txt"),
            &options,
            &mut |f| {
                again.push(f);
                ControlFlow::Continue(())
            },
        )
        .unwrap();
        assert_eq!(again, flows, "chunks of {chunk_bytes}");
    }
}
