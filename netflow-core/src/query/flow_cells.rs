//! The columns of [`FlowRow`] read straight from a [`Flow`], without building the row: a row
//! owns a dozen strings (names, addresses, the protocol, the input), allocated and freed for
//! every flow, although most are already in the flow. Each [`FlowKey`] gives the cell its
//! [`FlowRow`] column would hold — the same value and the same [`Cell`] variant — borrowing
//! from the flow, or formatting into a buffer that is reused (addresses, the protocol, a
//! Service's `namespace/name`, a non-pod identity's name, the policies). `top` reads its group
//! columns this way; [`FlowCells`] presents a whole flow as a [`Row`] for the writers. Unit
//! tests compare every column with the row's cell over varied flows, so the two cannot drift
//! apart.

use std::fmt::Write;

use crate::flow::{Endpoint, Flow, Identity};
use crate::query::rows::{Cell, DeclaredRow, FlowRow, Row};
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

/// A column of [`FlowRow`], read from a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FlowKey {
    Time,
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
    /// The L7 message in one line (formatted).
    L7,
    /// What else the record says.
    Details,
    /// Lists: formatted by [`FlowCells`] only.
    Policies,
    AlsoSubjectTo,
}

impl FlowKey {
    /// The key for a [`FlowRow`] column name.
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
            "time" => FlowKey::Time,
            "policies" => FlowKey::Policies,
            "also_subject_to" => FlowKey::AlsoSubjectTo,
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
            "l7" => FlowKey::L7,
            "details" => FlowKey::Details,
            _ => return None,
        })
    }

    /// Whether the value is formatted (not in the flow as is).
    fn formatted(self) -> bool {
        matches!(
            self,
            FlowKey::Protocol
                | FlowKey::L7
                | FlowKey::End(_, EndColumn::Ip | EndColumn::Service | EndColumn::Name)
        )
    }

    /// The cell [`FlowRow::of`]`(flow).with_why(why)` holds in this key's column. `buf` is
    /// cleared and written when the value has to be formatted. Lists are null here.
    pub(crate) fn cell<'a>(
        self,
        flow: &'a Flow,
        why: Option<&'a Why>,
        buf: &'a mut String,
    ) -> Cell<'a> {
        if self.formatted() {
            return if self.format(flow, buf) {
                Cell::Text(buf)
            } else {
                Cell::Null
            };
        }
        self.borrowed(flow, why)
    }

    /// Writes a formatted value into `buf` (cleared first); false for a null.
    fn format(self, flow: &Flow, buf: &mut String) -> bool {
        buf.clear();
        match self {
            FlowKey::Protocol => {
                let _ = write!(buf, "{}", flow.protocol);
                true
            }
            FlowKey::End(end, column) => {
                let ep = match end {
                    End::Src => &flow.src,
                    End::Dst => &flow.dst,
                };
                format_end(ep, column, buf)
            }
            FlowKey::L7 => flow
                .details
                .as_ref()
                .and_then(|d| d.l7.as_ref())
                .is_some_and(|l7| write!(buf, "{l7}").is_ok()),
            _ => false,
        }
    }

    /// A value the flow holds as is (lists and formatted values are null here).
    fn borrowed<'a>(self, flow: &'a Flow, why: Option<&'a Why>) -> Cell<'a> {
        let text = |s: Option<&'a str>| s.map_or(Cell::Null, Cell::Text);
        match self {
            FlowKey::Time => flow.time.map_or(Cell::Null, Cell::Time),
            FlowKey::End(End::Src, column) => end_cell(&flow.src, column),
            FlowKey::End(End::Dst, column) => end_cell(&flow.dst, column),
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
            FlowKey::Details => flow.details.as_deref().map_or(Cell::Null, Cell::Details),
            FlowKey::Protocol | FlowKey::L7 | FlowKey::Policies | FlowKey::AlsoSubjectTo => {
                Cell::Null
            }
        }
    }
}

/// An end's column held as is, as [`crate::query::rows::EndpointColumns::of`] fills it.
fn end_cell<'a>(ep: &'a Endpoint, column: EndColumn) -> Cell<'a> {
    let text = |s: Option<&'a str>| s.map_or(Cell::Null, Cell::Text);
    let pod = match &ep.identity {
        Identity::Pod(p) => Some(&**p),
        _ => None,
    };
    match column {
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
        EndColumn::Ip | EndColumn::Service | EndColumn::Name => Cell::Null,
    }
}

/// An end's formatted column written into `buf`; false for a null.
fn format_end(ep: &Endpoint, column: EndColumn, buf: &mut String) -> bool {
    match column {
        EndColumn::Ip => ep.ip.is_some_and(|ip| write!(buf, "{ip}").is_ok()),
        EndColumn::Service => ep
            .service
            .as_ref()
            .is_some_and(|s| write!(buf, "{}/{}", s.namespace, s.name).is_ok()),
        EndColumn::Name => match &ep.identity {
            Identity::Network(_)
            | Identity::Reserved { .. }
            | Identity::Ambiguous { .. }
            | Identity::Cloud(_) => write!(buf, "{}", ep.identity).is_ok(),
            _ => false,
        },
        _ => false,
    }
}

/// Presents flows as [`FlowRow`]s without building them: the formatted columns go into
/// buffers kept from one flow to the next. [`FlowCells::view`] gives the row of one flow;
/// writing it writes what writing its [`FlowRow`] writes.
///
/// ```
/// use netflow_core::query::FlowCells;
/// use netflow_core::{DeclaredRow, FlowRow, Row, Session};
///
/// let dir = tempfile::tempdir()?;
/// let log = dir.path().join("flows.json");
/// std::fs::write(&log, r#"{"flow":{"time":"2026-11-20T19:05:02Z","verdict":"DROPPED","IP":{"source":"10.244.1.15","destination":"10.244.2.10"},"l4":{"TCP":{"source_port":41234,"destination_port":9200}},"traffic_direction":"INGRESS","drop_reason_desc":"POLICY_DENIED"},"node_name":"node-b"}"#)?;
///
/// let session = Session::new([log.display().to_string()]);
/// let mut cells = FlowCells::default();
/// session.for_each_flow(|flow| -> netflow_core::Result<()> {
///     let why = session.why_of(&flow);
///     let view = cells.view(&flow, why.as_ref());
///     let row = FlowRow::of(&flow);
///     assert!((0..FlowRow::COLUMNS.len()).all(|i| view.cell(i) == row.cell(i)));
///     Ok(())
/// })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Default)]
pub struct FlowCells {
    /// The key of each column of [`FlowRow::COLUMNS`] (built on first use).
    keys: Vec<Option<FlowKey>>,
    /// The formatted value per column, for the formatted columns (reused from flow to flow).
    texts: Vec<String>,
    /// Whether the formatted value is null.
    nulls: Vec<bool>,
    policies: Vec<String>,
    also_subject_to: Vec<String>,
}

/// One flow as a [`FlowRow`], borrowing from the flow and from [`FlowCells`].
pub struct FlowView<'a> {
    flow: &'a Flow,
    why: Option<&'a Why>,
    cells: &'a FlowCells,
}

impl FlowCells {
    /// The row of `flow`, with what the snapshot says about its connection (`why`), as
    /// [`FlowRow::of`]`(flow).with_why(why)` holds it.
    pub fn view<'a>(&'a mut self, flow: &'a Flow, why: Option<&'a Why>) -> FlowView<'a> {
        if self.keys.is_empty() {
            self.keys = FlowRow::COLUMNS
                .iter()
                .map(|c| FlowKey::of(c.name))
                .collect();
            self.texts = vec![String::new(); self.keys.len()];
            self.nulls = vec![true; self.keys.len()];
        }
        for (i, key) in self.keys.iter().enumerate() {
            if let Some(key) = key.filter(|k| k.formatted()) {
                self.nulls[i] = !key.format(flow, &mut self.texts[i]);
            }
        }
        self.policies.clear();
        self.policies
            .extend(flow.policies.iter().map(|p| p.to_string()));
        self.also_subject_to.clear();
        self.also_subject_to.extend(
            why.iter()
                .flat_map(|w| w.evaluation.iter())
                .flat_map(|e| e.also_subject_to.iter().map(|a| a.note.clone())),
        );
        FlowView {
            flow,
            why,
            cells: self,
        }
    }
}

impl Row for FlowView<'_> {
    fn cell(&self, column: usize) -> Cell<'_> {
        let Some(&Some(key)) = self.cells.keys.get(column) else {
            return Cell::Null;
        };
        match key {
            FlowKey::Policies => Cell::TextList(&self.cells.policies),
            FlowKey::AlsoSubjectTo => Cell::TextList(&self.cells.also_subject_to),
            key if key.formatted() => {
                if self.cells.nulls[column] {
                    Cell::Null
                } else {
                    Cell::Text(&self.cells.texts[column])
                }
            }
            key => key.borrowed(self.flow, self.why),
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::flow::{
        Action, CloudIdentity, CloudResource, Counting, Direction, FlowDetails, IdentitySource,
        NetworkIdentity, NetworkScope, NodeIdentity, PodIdentity, PolicyRef, Protocol,
        ServiceIdentity, Workload,
    };
    use crate::policy::PolicyVerdict;
    use crate::query::top::groupable_columns;
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
    pub(in crate::query) fn varied_flows() -> Vec<Flow> {
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

        let mut f = Flow::test_flow("10.0.0.8", "10.96.0.10", 53);
        f.protocol = Protocol::Udp;
        f.details = Some(Arc::new(FlowDetails {
            record_id: Some("60e8fedd-6d98-49d8-b7f6-cb84455757ab".into()),
            l7: Some(crate::flow::L7 {
                kind: Some("RESPONSE".into()),
                dns: Some(crate::flow::Dns {
                    query: "zipkin.istio-system.svc.cluster.local.".into(),
                    rcode: Some(3),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }));
        flows.push(f);

        let mut f = Flow::test_flow("10.0.0.9", "10.0.0.10", 443);
        f.details = Some(Arc::new(FlowDetails {
            trace_reason: Some("ESTABLISHED".into()),
            ..Default::default()
        }));
        flows.push(f);
        flows
    }

    pub(in crate::query) fn whys() -> Vec<Option<Why>> {
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
                    // Lists are read through FlowCells (the test below).
                    let Some(key) = FlowKey::of(column.name)
                        .filter(|k| !matches!(k, FlowKey::Policies | FlowKey::AlsoSubjectTo))
                    else {
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
    fn every_column_has_a_key() {
        for column in FlowRow::COLUMNS {
            assert!(FlowKey::of(column.name).is_some(), "{}", column.name);
        }
        for name in groupable_columns() {
            assert!(FlowKey::of(name).is_some(), "{name}");
        }
        assert_eq!(FlowKey::of("src_service"), None);
        assert_eq!(FlowKey::of("nonsense"), None);
    }

    #[test]
    fn a_view_holds_what_the_flow_row_holds_flow_after_flow() {
        // One FlowCells for every flow: buffers reused from a flow with values must not leak
        // into one without.
        let mut cells = FlowCells::default();
        let mut flows = varied_flows();
        flows.extend(varied_flows().into_iter().rev());
        for flow in &flows {
            for why in whys() {
                let row = FlowRow::of(flow).with_why(why.as_ref());
                let view = cells.view(flow, why.as_ref());
                for (i, column) in FlowRow::COLUMNS.iter().enumerate() {
                    assert_eq!(view.cell(i), row.cell(i), "column {}", column.name);
                }
                assert_eq!(view.cell(FlowRow::COLUMNS.len()), Cell::Null);
            }
        }
    }
}
