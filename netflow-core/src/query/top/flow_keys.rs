//! The group columns of `top` read straight from a [`Flow`], without building its
//! [`FlowRow`] first: a row owns a dozen strings (names, addresses, the protocol, the input),
//! allocated and freed for every flow although `top` reads two or three of them and interns
//! those. Each [`FlowKey`] gives the cell its [`FlowRow`] column would hold — the same value
//! and the same [`Cell`] variant — borrowing from the flow, or formatting into a buffer the
//! caller reuses (addresses, the protocol, a Service's `namespace/name`, a non-pod identity's
//! name). A unit test compares every key with the row's cell over varied flows, so the two
//! cannot drift apart.

use std::fmt::Write;

use crate::flow::{Endpoint, Flow, Identity};
use crate::query::rows::Cell;
use crate::query::why::Why;

/// One end of a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum End {
    Src,
    Dst,
}

/// One of an end's columns (`src_*`, `dst_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EndColumn {
    Ip,
    Port,
    Kind,
    Namespace,
    Pod,
    Workload,
    WorkloadKind,
    Node,
    Service,
    Name,
    IdentitySource,
}

/// A groupable column of [`FlowRow`], read from a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FlowKey {
    End(End, EndColumn),
    Protocol,
    Verdict,
    VerdictRaw,
    Where,
    Node,
    Reason,
    IsReply,
    Bytes,
    Packets,
    Count,
    Duplicate,
    Counting,
    Format,
    Input,
    Line,
    PolicyVerdict,
    Mismatch,
}

impl FlowKey {
    /// The key for a [`FlowRow`] column name; `None` for the columns that are not read
    /// this way (time, lists).
    pub(crate) fn of(name: &str) -> Option<FlowKey> {
        if let Some((end, column)) = name
            .strip_prefix("src_")
            .map(|c| (End::Src, c))
            .or_else(|| name.strip_prefix("dst_").map(|c| (End::Dst, c)))
        {
            let column = match column {
                "ip" => EndColumn::Ip,
                "port" => EndColumn::Port,
                "kind" => EndColumn::Kind,
                "namespace" => EndColumn::Namespace,
                "pod" => EndColumn::Pod,
                "workload" => EndColumn::Workload,
                "workload_kind" => EndColumn::WorkloadKind,
                "node" => EndColumn::Node,
                // FlowRow has a destination Service only.
                "service" if end == End::Dst => EndColumn::Service,
                "name" => EndColumn::Name,
                "identity_source" => EndColumn::IdentitySource,
                _ => return None,
            };
            return Some(FlowKey::End(end, column));
        }
        Some(match name {
            "protocol" => FlowKey::Protocol,
            "verdict" => FlowKey::Verdict,
            "verdict_raw" => FlowKey::VerdictRaw,
            "where" => FlowKey::Where,
            "node" => FlowKey::Node,
            "reason" => FlowKey::Reason,
            "is_reply" => FlowKey::IsReply,
            "bytes" => FlowKey::Bytes,
            "packets" => FlowKey::Packets,
            "count" => FlowKey::Count,
            "duplicate" => FlowKey::Duplicate,
            "counting" => FlowKey::Counting,
            "format" => FlowKey::Format,
            "input" => FlowKey::Input,
            "line" => FlowKey::Line,
            "policy_verdict" => FlowKey::PolicyVerdict,
            "mismatch" => FlowKey::Mismatch,
            _ => return None,
        })
    }

    /// The cell [`FlowRow::of`]`(flow).with_why(why)` holds in this key's column. `buf` is
    /// cleared and written when the value has to be formatted.
    pub(crate) fn cell<'a>(
        self,
        flow: &'a Flow,
        why: Option<&'a Why>,
        buf: &'a mut String,
    ) -> Cell<'a> {
        let text = |s: Option<&'a str>| s.map_or(Cell::Null, Cell::Text);
        match self {
            FlowKey::End(End::Src, column) => end_cell(&flow.src, column, buf),
            FlowKey::End(End::Dst, column) => end_cell(&flow.dst, column, buf),
            FlowKey::Protocol => {
                buf.clear();
                let _ = write!(buf, "{}", flow.protocol);
                Cell::Text(buf)
            }
            FlowKey::Verdict => Cell::Text(flow.action.as_str()),
            FlowKey::VerdictRaw => Cell::Text(&flow.action_raw),
            FlowKey::Where => Cell::Text(flow.direction.as_str()),
            FlowKey::Node => text(flow.node.as_deref()),
            FlowKey::Reason => text(flow.drop_reason.as_deref()),
            FlowKey::IsReply => flow.is_reply.map_or(Cell::Null, Cell::Bool),
            FlowKey::Bytes => flow.bytes.map_or(Cell::Null, Cell::UInt),
            FlowKey::Packets => flow.packets.map_or(Cell::Null, Cell::UInt),
            FlowKey::Count => Cell::UInt(flow.count),
            FlowKey::Duplicate => Cell::Bool(flow.duplicate),
            FlowKey::Counting => Cell::Text(flow.counting.as_str()),
            FlowKey::Format => Cell::Text(flow.format.name()),
            FlowKey::Input => Cell::Text(&flow.origin.input),
            FlowKey::Line => Cell::UInt(flow.origin.line),
            FlowKey::PolicyVerdict => text(why.and_then(|w| w.verdict).map(|v| v.as_str())),
            FlowKey::Mismatch => text(why.and_then(|w| w.mismatch.as_deref())),
        }
    }
}

/// An end's column, as [`crate::query::rows::EndpointColumns::of`] fills it.
fn end_cell<'a>(ep: &'a Endpoint, column: EndColumn, buf: &'a mut String) -> Cell<'a> {
    let text = |s: Option<&'a str>| s.map_or(Cell::Null, Cell::Text);
    let pod = match &ep.identity {
        Identity::Pod(p) => Some(&**p),
        _ => None,
    };
    match column {
        EndColumn::Ip => match ep.ip {
            Some(ip) => {
                buf.clear();
                let _ = write!(buf, "{ip}");
                Cell::Text(buf)
            }
            None => Cell::Null,
        },
        EndColumn::Port => ep.port.map_or(Cell::Null, |p| Cell::UInt(p.into())),
        EndColumn::Kind => Cell::Text(ep.identity.kind_name()),
        EndColumn::IdentitySource => Cell::Text(ep.identity_source.as_str()),
        EndColumn::Namespace => match &ep.identity {
            Identity::Pod(p) => Cell::Text(&p.namespace),
            Identity::Service(s) => Cell::Text(&s.namespace),
            _ => Cell::Null,
        },
        EndColumn::Pod => text(pod.map(|p| p.name.as_str()).filter(|n| !n.is_empty())),
        EndColumn::Workload => text(
            pod.and_then(|p| p.workload.as_ref())
                .map(|w| w.name.as_str()),
        ),
        EndColumn::WorkloadKind => text(
            pod.and_then(|p| p.workload.as_ref())
                .map(|w| w.kind.as_str()),
        ),
        EndColumn::Node => match &ep.identity {
            Identity::Pod(p) => text(p.node.as_deref()),
            Identity::Node(n) => text(n.name.as_deref()),
            _ => Cell::Null,
        },
        EndColumn::Service => match &ep.service {
            Some(s) => {
                buf.clear();
                let _ = write!(buf, "{}/{}", s.namespace, s.name);
                Cell::Text(buf)
            }
            None => Cell::Null,
        },
        EndColumn::Name => match &ep.identity {
            Identity::Network(_)
            | Identity::Reserved { .. }
            | Identity::Ambiguous { .. }
            | Identity::Cloud(_) => {
                buf.clear();
                let _ = write!(buf, "{}", ep.identity);
                Cell::Text(buf)
            }
            _ => Cell::Null,
        },
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::flow::{
        Action, CloudIdentity, CloudResource, Counting, Direction, IdentitySource, NetworkIdentity,
        NetworkScope, NodeIdentity, PodIdentity, PolicyRef, Protocol, ServiceIdentity, Workload,
    };
    use crate::policy::PolicyVerdict;
    use crate::query::top::groupable_columns;
    use crate::query::{DeclaredRow, FlowRow, Row};
    use std::sync::Arc;

    fn pod(namespace: &str, name: &str, workload: bool, node: Option<&str>) -> Identity {
        Identity::Pod(Arc::new(PodIdentity {
            namespace: namespace.into(),
            name: name.into(),
            workload: workload.then(|| Workload {
                kind: "Deployment".into(),
                name: "web".into(),
            }),
            node: node.map(Into::into),
            ..Default::default()
        }))
    }

    /// Flows covering every identity kind, present and missing values, and IPv6.
    pub(in crate::query::top) fn varied_flows() -> Vec<Flow> {
        let mut flows = Vec::new();
        let mut f = Flow::test_flow("10.0.0.1", "10.0.0.2", 9200);
        f.src.identity = pod("shop", "web-1", true, Some("node-a"));
        f.src.identity_source = IdentitySource::Snapshot;
        f.dst.identity = pod("vamp", "", false, None);
        f.dst.service = Some(ServiceIdentity {
            namespace: "vamp".into(),
            name: "es".into(),
        });
        f.action = Action::Denied;
        f.action_raw = "DROPPED".into();
        f.direction = Direction::Ingress;
        f.node = Some("prod/node-b".into());
        f.drop_reason = Some("POLICY_DENIED".into());
        f.policies = vec![PolicyRef {
            namespace: Some("vamp".into()),
            name: "es-ingress".into(),
            kind: None,
            tier: None,
        }];
        f.is_reply = Some(false);
        f.bytes = Some(1200);
        f.packets = Some(3);
        f.count = 4;
        f.duplicate = true;
        f.counting = Counting::Aggregated;
        flows.push(f);

        let mut f = Flow::test_flow("fd00::1", "fd00::2", 53);
        f.protocol = Protocol::Udp;
        f.src.identity = Identity::Node(NodeIdentity {
            name: Some("node-a".into()),
            host_network_pods: Vec::new(),
        });
        f.dst.identity = Identity::Service(ServiceIdentity {
            namespace: "kube-system".into(),
            name: "kube-dns".into(),
        });
        f.dst.port = None;
        f.is_reply = Some(true);
        flows.push(f);

        let mut f = Flow::test_flow("10.0.0.3", "192.0.2.9", 443);
        f.protocol = Protocol::Other(47);
        f.src.identity = Identity::Reserved {
            name: "health".into(),
        };
        f.dst.identity = Identity::External;
        f.src.ip = None;
        flows.push(f);

        let mut f = Flow::test_flow("10.0.0.4", "10.0.0.5", 80);
        f.src.identity = Identity::Ambiguous {
            candidates: vec!["pod a/x".into(), "pod b/y".into()],
        };
        f.dst.identity = Identity::Network(NetworkIdentity {
            scope: NetworkScope::Private,
            name: Some("corp".into()),
            domains: vec!["db.corp.example".into()],
        });
        flows.push(f);

        let mut f = Flow::test_flow("10.0.0.6", "10.0.0.7", 443);
        f.src.identity = Identity::Cloud(CloudIdentity {
            resource: CloudResource::Vm,
            name: "vm-1".into(),
            location: Some("europe-west1-b".into()),
            ..Default::default()
        });
        f.dst.identity = Identity::Node(NodeIdentity::default());
        f.action = Action::Unknown;
        f.protocol = Protocol::Unknown;
        flows.push(f);
        flows
    }

    pub(in crate::query::top) fn whys() -> Vec<Option<Why>> {
        vec![
            None,
            Some(Why {
                verdict: Some(PolicyVerdict::Deny),
                summary: "denied".into(),
                evaluation: None,
                mismatch: Some("the snapshot allows".into()),
            }),
            Some(Why {
                verdict: None,
                summary: "not evaluated".into(),
                evaluation: None,
                mismatch: None,
            }),
        ]
    }

    #[test]
    fn every_key_reads_what_the_flow_row_holds() {
        let mut buf = String::new();
        for flow in varied_flows() {
            for why in whys() {
                let row = FlowRow::of(&flow).with_why(why.as_ref());
                for (i, column) in FlowRow::COLUMNS.iter().enumerate() {
                    let Some(key) = FlowKey::of(column.name) else {
                        continue;
                    };
                    assert_eq!(
                        key.cell(&flow, why.as_ref(), &mut buf),
                        row.cell(i),
                        "column {} of {flow:?}",
                        column.name
                    );
                }
            }
        }
    }

    #[test]
    fn every_groupable_column_has_a_key() {
        for name in groupable_columns() {
            assert!(FlowKey::of(name).is_some(), "{name}");
        }
        assert_eq!(FlowKey::of("src_service"), None);
        assert_eq!(FlowKey::of("time"), None);
        assert_eq!(FlowKey::of("policies"), None);
    }
}
