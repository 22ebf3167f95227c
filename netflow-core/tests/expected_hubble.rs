//! The facts `../shared/formats/samples/EXPECTED.md` lists for two real Hubble samples, read
//! through the public API (`read_input`, `Session`, and `ingest::decode_record` for which
//! report of its packet each record is). Skipped with a note when `../shared` is not beside
//! the project.
//!
//! Every fact is asserted on what flowq gives: the L7 payload, `interface`, `uuid`,
//! `cluster_name` and `trace_reason` through [`Flow::details`] and the flows row. The one fact
//! not asserted is whether `reply` or `is_reply` gave `is_reply`, which flowq reads as one
//! (docs/formats.md).

use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::Arc;

use netflow_core::flow::{Dns, FlowDetails, Interface, L7};
use netflow_core::ingest::{decode_record, Observation, PacketReport, Record, ReportPoint};
use netflow_core::query::KeyValue;
use netflow_core::{
    read_input, Action, DeniedQuery, Direction, Flow, FlowRow, Format, Identity, InputReport,
    Origin, Protocol, ReadOptions, Result, Session, TopQuery,
};

/// The path of a Hubble sample, or `None` (with a note) when the shared samples are absent.
fn sample(name: &str) -> Option<String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/formats/samples/hubble")
        .join(name);
    if !path.is_file() {
        eprintln!("note: {} not found; its facts not checked", path.display());
        return None;
    }
    Some(path.display().to_string())
}

fn read(path: &str) -> (InputReport, Vec<Flow>) {
    let mut flows = Vec::new();
    let report = read_input(path, &ReadOptions::default(), &mut |f| {
        flows.push(f);
        ControlFlow::Continue(())
    })
    .unwrap_or_else(|e| panic!("{path}: {e}"));
    (report, flows)
}

/// Which report of its packet each line is, in line order.
fn packet_reports(path: &str) -> Vec<PacketReport> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .enumerate()
        .map(|(i, line)| {
            let origin = Origin {
                input: Arc::from(path),
                line: i as u64 + 1,
            };
            match decode_record(Format::Hubble, line.as_bytes(), origin) {
                Record::Flow(_, report) => report,
                other => panic!("{path}:{}: expected a flow, found {other:?}", i + 1),
            }
        })
        .collect()
}

/// `namespace/pod` of a pod end, or what else it is.
fn who(identity: &Identity) -> String {
    identity.to_string()
}

fn details(flow: &Flow) -> &FlowDetails {
    flow.details
        .as_deref()
        .unwrap_or_else(|| panic!("line {}: no details", flow.origin.line))
}

fn l7(flow: &Flow) -> &L7 {
    details(flow)
        .l7
        .as_ref()
        .unwrap_or_else(|| panic!("line {}: no l7", flow.origin.line))
}

fn dns(flow: &Flow) -> &Dns {
    l7(flow).dns.as_ref().expect("a DNS message")
}

fn address(flow: &Flow) -> (String, String) {
    let end = |ip: Option<std::net::IpAddr>, port: Option<u16>| {
        format!("{}:{}", ip.unwrap(), port.unwrap())
    };
    (
        end(flow.src.ip, flow.src.port),
        end(flow.dst.ip, flow.dst.port),
    )
}

const HR0Z: &str = "gke-ilya-otel-demo-2-ilya-otel-demo-2-dac8cc20-hr0z";
const SNZW: &str = "gke-ilya-otel-demo-2-ilya-otel-demo-2-dac8cc20-snzw";
const N5236: &str = "gke-ilya-otel-demo-2-ilya-otel-demo-2-dac8cc20-5236";

#[test]
fn dns_flows_records_6_to_45() -> Result<()> {
    let Some(path) = sample("hubble-otel_basic-sample-330-dns-flows.records6-45.ndjson") else {
        return Ok(());
    };
    let (report, flows) = read(&path);

    // 40 lines, 40 records, 40 flows; no `node_status`/`lost_events`.
    assert_eq!(report.format, Some(Format::Hubble));
    assert_eq!(
        (
            report.last_line,
            report.records,
            report.flows,
            report.skipped
        ),
        (40, 40, 40, 0)
    );
    assert!(report.events.is_empty(), "{:?}", report.events);
    assert_eq!(report.lost_count(), 0);
    // Every line has a wrapper `node_name` and `time` equal to the inner ones.
    assert!(flows.iter().all(|f| f.time.is_some() && f.node.is_some()));

    // Verdicts: FORWARDED 40.
    assert!(flows
        .iter()
        .all(|f| f.action_raw == "FORWARDED" && f.action == Action::Allowed));
    // `Type` L7 and `event_type.type` 129 for all: each is the proxy's record of one message,
    // so none repeats another (two queries on one connection are two messages).
    let reports = packet_reports(&path);
    assert_eq!(reports.len(), 40);
    assert!(reports.iter().all(|r| matches!(
        r,
        PacketReport::Observed(Observation {
            point: ReportPoint::Proxy,
            signature: None
        })
    )));
    assert_eq!(report.duplicates, 0);
    assert!(flows.iter().all(|f| f.count == 1 && !f.duplicate));

    // `l7.type` REQUEST 20, RESPONSE 20: the requests are the 20 non-replies below.
    // `traffic_direction`: EGRESS 40.
    let kinds: Vec<(&str, Option<bool>)> = flows
        .iter()
        .map(|f| (l7(f).kind.as_deref().unwrap(), f.is_reply))
        .collect();
    assert_eq!(
        kinds
            .iter()
            .filter(|k| **k == ("REQUEST", Some(false)))
            .count(),
        20
    );
    assert_eq!(
        kinds
            .iter()
            .filter(|k| **k == ("RESPONSE", Some(true)))
            .count(),
        20
    );
    assert!(flows.iter().all(|f| f.direction == Direction::Egress));
    // L4: all TCP; IPv4 only.
    assert!(flows.iter().all(|f| f.protocol == Protocol::Tcp
        && f.src.ip.unwrap().is_ipv4()
        && f.dst.ip.unwrap().is_ipv4()));
    // `is_reply` on all 40: 20 true, 20 false (and `reply: true` on exactly those 20).
    let replies = flows.iter().filter(|f| f.is_reply == Some(true)).count();
    let requests = flows.iter().filter(|f| f.is_reply == Some(false)).count();
    assert_eq!((replies, requests), (20, 20));
    // DNS `rcode` 3 (NXDOMAIN) on records 3, 11, 13, 17, 25, 27, 31, 35, 39, with `ttl`
    // 4294967295 and no `ips`.
    let nxdomain: Vec<u64> = flows
        .iter()
        .filter(|f| dns(f).rcode == Some(3))
        .map(|f| f.origin.line)
        .collect();
    assert_eq!(nxdomain, [3, 11, 13, 17, 25, 27, 31, 35, 39]);
    for f in flows.iter().filter(|f| dns(f).rcode == Some(3)) {
        assert_eq!(dns(f).ttl, Some(u32::MAX));
        assert!(dns(f).ips.is_empty());
        assert_eq!(l7(f).kind.as_deref(), Some("RESPONSE"));
    }
    // No other record has a response code: protojson omits NOERROR.
    assert_eq!(flows.iter().filter(|f| dns(f).rcode.is_some()).count(), 9);

    // Nodes: …-hr0z 25, …-snzw 11, …-5236 4.
    let on = |node: &str| {
        flows
            .iter()
            .filter(|f| f.node.as_deref() == Some(node))
            .count()
    };
    assert_eq!((on(HR0Z), on(SNZW), on(N5236)), (25, 11, 4));
    // No policy names anywhere.
    assert!(flows.iter().all(|f| f.policies.is_empty()));

    // Record 1: kube-dns 10.156.2.3:53 → node-local-dns-88zrp 10.156.2.2:59102, TCP,
    // EGRESS, is_reply true, node …-hr0z, its time; a RESPONSE for istiod…, `ips`
    // [10.160.0.203], ttl 30.
    let r1 = &flows[0];
    assert_eq!(l7(r1).kind.as_deref(), Some("RESPONSE"));
    assert_eq!(
        dns(r1).query,
        "istiod-istio-1611.istio-system.svc.cluster.local."
    );
    assert_eq!(
        (dns(r1).ips.as_slice(), dns(r1).ttl),
        (&["10.160.0.203".to_string()][..], Some(30))
    );
    assert_eq!(
        who(&r1.src.identity),
        "kube-system/kube-dns-b4f5c58c7-vnx5s"
    );
    assert_eq!(who(&r1.dst.identity), "kube-system/node-local-dns-88zrp");
    assert_eq!(
        address(r1),
        ("10.156.2.3:53".into(), "10.156.2.2:59102".into())
    );
    assert_eq!(
        (r1.protocol, r1.direction, r1.is_reply),
        (Protocol::Tcp, Direction::Egress, Some(true))
    );
    assert_eq!(r1.node.as_deref(), Some(HR0Z));
    assert_eq!(
        r1.time
            .unwrap()
            .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        "2021-10-04T11:22:26.599010651Z"
    );
    // Record 2: node-local-dns-88zrp 10.156.2.2:59102 → kube-dns 10.156.2.3:53, TCP, EGRESS,
    // is_reply false; a REQUEST for zipkin.istio-system.istio-system…, qtypes [A].
    let r2 = &flows[1];
    assert_eq!(l7(r2).kind.as_deref(), Some("REQUEST"));
    assert_eq!(
        dns(r2).query,
        "zipkin.istio-system.istio-system.svc.cluster.local."
    );
    assert_eq!(dns(r2).qtypes, ["A"]);
    assert_eq!(who(&r2.src.identity), "kube-system/node-local-dns-88zrp");
    assert_eq!(
        who(&r2.dst.identity),
        "kube-system/kube-dns-b4f5c58c7-vnx5s"
    );
    assert_eq!(
        address(r2),
        ("10.156.2.2:59102".into(), "10.156.2.3:53".into())
    );
    assert_eq!(
        (r2.protocol, r2.direction, r2.is_reply),
        (Protocol::Tcp, Direction::Egress, Some(false))
    );
    // Record 3: the reply of record 2, a RESPONSE with rcode 3; in the flows row, one line.
    let r3 = &flows[2];
    assert_eq!(address(r3), (address(r2).1, address(r2).0));
    assert_eq!(r3.is_reply, Some(true));
    assert_eq!(
        (l7(r3).kind.as_deref(), dns(r3).rcode),
        (Some("RESPONSE"), Some(3))
    );
    assert_eq!(dns(r3).query, dns(r2).query);
    assert_eq!(
        FlowRow::of(r3).l7.as_deref(),
        Some("dns response NXDOMAIN A zipkin.istio-system.istio-system.svc.cluster.local.")
    );
    // Record 40: node-local-dns-cw6pv 10.156.3.7:41922 → kube-dns 10.156.2.3:53, node
    // …-snzw, a REQUEST for zipkin.istio-system.svc.cluster.local.
    let r40 = &flows[39];
    assert_eq!(l7(r40).kind.as_deref(), Some("REQUEST"));
    assert_eq!(dns(r40).query, "zipkin.istio-system.svc.cluster.local.");
    assert_eq!(who(&r40.src.identity), "kube-system/node-local-dns-cw6pv");
    assert_eq!(
        who(&r40.dst.identity),
        "kube-system/kube-dns-b4f5c58c7-vnx5s"
    );
    assert_eq!(
        address(r40),
        ("10.156.3.7:41922".into(), "10.156.2.3:53".into())
    );
    assert_eq!(r40.is_reply, Some(false));
    assert_eq!(r40.node.as_deref(), Some(SNZW));

    // Every end the log names is that pod, in `flows`, `top` and `denied`.
    assert!(flows.iter().all(|f| [&f.src, &f.dst].iter().all(|ep| {
        ep.identity.pod().is_some_and(|p| {
            p.namespace == "kube-system"
                && (p.name.starts_with("kube-dns-") || p.name.starts_with("node-local-dns-"))
        })
    })));
    let session = Session::new([path]);
    let by = ["src_namespace", "src_pod", "dst_namespace", "dst_pod"];
    let top = session.top(
        &TopQuery::new(by.iter().map(|k| k.to_string()).collect(), None, 0)?.include_replies(true),
    )?;
    assert!(top
        .groups
        .rows
        .iter()
        .all(|g| g.keys.iter().all(|k| matches!(k, KeyValue::Text(_)))));
    assert_eq!(top.groups.rows.iter().map(|g| g.count).sum::<i64>(), 40);
    let denied = session.denied(&DeniedQuery {
        include_drops: true,
        ..Default::default()
    })?;
    assert!(denied.connections.is_empty(), "every record is FORWARDED");
    assert_eq!(denied.summary.records(), 40);
    Ok(())
}

#[test]
fn aks_flows() {
    let Some(path) = sample("docker-provider_network-flow-logs-test_aks-flows.ndjson") else {
        return;
    };
    let (report, flows) = read(&path);

    // 3 lines, 3 records, 3 flows; the wrapper is only `{"flow":…}`: time and node come from
    // the flow.
    assert_eq!(
        (
            report.last_line,
            report.records,
            report.flows,
            report.skipped
        ),
        (3, 3, 3, 0)
    );
    let times: Vec<String> = flows
        .iter()
        .map(|f| {
            f.time
                .unwrap()
                .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
        })
        .collect();
    assert_eq!(
        times,
        [
            "2025-04-16T18:49:59.450463857Z",
            "2025-04-16T18:49:59.450508431Z",
            "2025-04-16T18:49:59.450549905Z"
        ]
    );

    // FORWARDED 3; `Type` L3_L4, `event_type.type` 4, `trace_observation_point`
    // TO_ENDPOINT; EGRESS; IPv4; TCP.
    assert!(flows
        .iter()
        .all(|f| f.action_raw == "FORWARDED" && f.action == Action::Allowed));
    let reports = packet_reports(&path);
    let point_and_flags: Vec<(ReportPoint, Option<u16>)> = reports
        .iter()
        .map(|r| match r {
            PacketReport::Observed(o) => (o.point, o.signature),
            other => panic!("expected an observed packet, found {other:?}"),
        })
        .collect();
    const FIN: u16 = 1;
    const PSH: u16 = 1 << 3;
    const ACK: u16 = 1 << 4;
    let to_endpoint = ReportPoint::Trace(0);
    // Flags: record 1 {PSH, ACK}, records 2 and 3 {FIN, ACK}.
    assert_eq!(
        point_and_flags,
        [
            (to_endpoint, Some(PSH | ACK)),
            (to_endpoint, Some(FIN | ACK)),
            (to_endpoint, Some(FIN | ACK))
        ]
    );
    assert!(flows.iter().all(|f| f.direction == Direction::Egress
        && f.protocol == Protocol::Tcp
        && f.src.ip.unwrap().is_ipv4()
        && f.dst.ip.unwrap().is_ipv4()));
    // Three packets, none repeating another (records 1 and 2 share a 5-tuple and a point).
    assert_eq!(report.duplicates, 0);
    assert!(flows.iter().all(|f| f.count == 1));

    // `node_name` cluster/node; both ends carry `workloads` (Deployment) and `cluster_name`.
    assert!(flows
        .iter()
        .all(|f| f.node.as_deref()
            == Some("longtestnetworkflowcni/aks-nodepool1-27013129-vmss000000")));
    for f in &flows {
        for ep in [&f.src, &f.dst] {
            let workload = ep.identity.pod().unwrap().workload.as_ref().unwrap();
            assert_eq!(workload.kind, "Deployment");
        }
        let d = details(f);
        assert_eq!(d.src_cluster.as_deref(), Some("longtestnetworkflowcni"));
        assert_eq!(d.dst_cluster.as_deref(), Some("longtestnetworkflowcni"));
        // `trace_observation_point` TO_ENDPOINT on all three.
        assert_eq!(d.observation_point.as_deref(), Some("TO_ENDPOINT"));
    }

    // Replies: records 1 and 2 `is_reply` true (with `reply` true) and `trace_reason` REPLY,
    // record 3 false and ESTABLISHED.
    let replies: Vec<Option<bool>> = flows.iter().map(|f| f.is_reply).collect();
    assert_eq!(replies, [Some(true), Some(true), Some(false)]);
    let reasons: Vec<&str> = flows
        .iter()
        .map(|f| details(f).trace_reason.as_deref().unwrap())
        .collect();
    assert_eq!(reasons, ["REPLY", "REPLY", "ESTABLISHED"]);

    let good = "default/kapinger-good-64cbf459c4-q4tr9";
    let bad = "default/kapinger-bad-6b5b787dc9-ds4j4";
    // Record 1: good 10.0.1.13:8080 → bad 10.0.1.178:60778, interface lxc8308dc5301b3 index
    // 98, uuid 60e8fedd-…, as the flows row gives them.
    let r1 = &flows[0];
    assert_eq!(
        details(r1).interface,
        Some(Interface {
            index: Some(98),
            name: "lxc8308dc5301b3".into()
        })
    );
    assert_eq!(
        details(r1).record_id.as_deref(),
        Some("60e8fedd-6d98-49d8-b7f6-cb84455757ab")
    );
    let json = serde_json::to_value(FlowRow::of(r1)).unwrap();
    let row = &json["details"];
    assert_eq!(row["record_id"], "60e8fedd-6d98-49d8-b7f6-cb84455757ab");
    assert_eq!(row["interface"]["name"], "lxc8308dc5301b3");
    assert_eq!(row["trace_reason"], "REPLY");
    assert_eq!(
        (who(&r1.src.identity), who(&r1.dst.identity)),
        (good.into(), bad.into())
    );
    assert_eq!(
        address(r1),
        ("10.0.1.13:8080".into(), "10.0.1.178:60778".into())
    );
    assert_eq!(
        r1.src
            .identity
            .pod()
            .unwrap()
            .workload
            .as_ref()
            .unwrap()
            .name,
        "kapinger-good"
    );
    // Record 2: the same 5-tuple as record 1.
    let r2 = &flows[1];
    assert_eq!(
        (who(&r2.src.identity), who(&r2.dst.identity)),
        (good.into(), bad.into())
    );
    assert_eq!((address(r2), r2.protocol), (address(r1), r1.protocol));
    // Record 3: bad 10.0.1.178:60778 → good 10.0.1.13:8080, the client side of the same
    // connection, on interface lxcef45ee129456.
    let r3 = &flows[2];
    assert_eq!(
        details(r3).interface.as_ref().map(|i| i.name.as_str()),
        Some("lxcef45ee129456")
    );
    assert_eq!(
        (who(&r3.src.identity), who(&r3.dst.identity)),
        (bad.into(), good.into())
    );
    assert_eq!(
        address(r3),
        ("10.0.1.178:60778".into(), "10.0.1.13:8080".into())
    );
    // No policy names.
    assert!(flows.iter().all(|f| f.policies.is_empty()));
}
