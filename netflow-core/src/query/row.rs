//! Flat records with the documented output schema (docs/output.md): one [`FlowRow`] per flow
//! record, one [`DeniedRow`] per denied connection. Field names are the JSON, CSV and column
//! names; the CLI serializes these and nothing else, so scripts read exactly what is documented.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use super::denied::DeniedConnection;
use crate::flow::{Endpoint, Flow, Identity};

/// Flat identity columns of one endpoint.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct EndpointColumns {
    /// Address.
    pub ip: Option<String>,
    /// Port.
    pub port: Option<u16>,
    /// Kind of identity: `pod`, `node`, `service`, `external`, `reserved`, `ambiguous`,
    /// `unknown`.
    pub kind: &'static str,
    /// Namespace (pods and services).
    pub namespace: Option<String>,
    /// Pod name.
    pub pod: Option<String>,
    /// Owning workload name.
    pub workload: Option<String>,
    /// Owning workload kind.
    pub workload_kind: Option<String>,
    /// Node (the pod's node, or the node itself for host traffic).
    pub node: Option<String>,
    /// Service the endpoint is, or was reached through.
    pub service: Option<String>,
    /// Readable one-word identity for other kinds (`reserved:health`, ambiguous candidates).
    pub name: Option<String>,
    /// `snapshot`, `log` or `none`.
    pub identity_source: &'static str,
}

impl EndpointColumns {
    /// The columns of an endpoint.
    pub fn of(ep: &Endpoint) -> EndpointColumns {
        let mut c = EndpointColumns {
            ip: ep.ip.map(|ip| ip.to_string()),
            port: ep.port,
            kind: ep.identity.kind_name(),
            identity_source: ep.identity_source.as_str(),
            service: ep
                .service
                .as_ref()
                .map(|s| format!("{}/{}", s.namespace, s.name)),
            ..Default::default()
        };
        match &ep.identity {
            Identity::Pod(p) => {
                c.namespace = Some(p.namespace.clone());
                c.pod = Some(p.name.clone()).filter(|n| !n.is_empty());
                c.workload = p.workload.as_ref().map(|w| w.name.clone());
                c.workload_kind = p.workload.as_ref().map(|w| w.kind.clone());
                c.node = p.node.clone();
            }
            Identity::Node(n) => c.node = n.name.clone(),
            Identity::Service(s) => c.namespace = Some(s.namespace.clone()),
            Identity::Reserved { .. } | Identity::Ambiguous { .. } => {
                c.name = Some(ep.identity.to_string())
            }
            Identity::External | Identity::Unknown => {}
        }
        c
    }
}

/// RFC 3339 UTC with the precision the log gave (up to nanoseconds).
pub fn format_time(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// One flow record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlowRow {
    /// Time of the record (RFC 3339 UTC).
    pub time: Option<String>,
    /// Source address.
    pub src_ip: Option<String>,
    /// Source port.
    pub src_port: Option<u16>,
    /// Source identity kind.
    pub src_kind: &'static str,
    /// Source namespace.
    pub src_namespace: Option<String>,
    /// Source pod.
    pub src_pod: Option<String>,
    /// Source workload name.
    pub src_workload: Option<String>,
    /// Source workload kind.
    pub src_workload_kind: Option<String>,
    /// Source node (pod's node, or the node itself).
    pub src_node: Option<String>,
    /// Other source identity (reserved, ambiguous candidates).
    pub src_name: Option<String>,
    /// Where the source identity came from.
    pub src_identity_source: &'static str,
    /// Destination address.
    pub dst_ip: Option<String>,
    /// Destination port.
    pub dst_port: Option<u16>,
    /// Destination identity kind.
    pub dst_kind: &'static str,
    /// Destination namespace.
    pub dst_namespace: Option<String>,
    /// Destination pod.
    pub dst_pod: Option<String>,
    /// Destination workload name.
    pub dst_workload: Option<String>,
    /// Destination workload kind.
    pub dst_workload_kind: Option<String>,
    /// Destination node.
    pub dst_node: Option<String>,
    /// Service the destination is or was reached through (`namespace/name`).
    pub dst_service: Option<String>,
    /// Other destination identity.
    pub dst_name: Option<String>,
    /// Where the destination identity came from.
    pub dst_identity_source: &'static str,
    /// Protocol.
    pub protocol: String,
    /// What the log says happened: `allowed`, `denied`, `dropped`, `unknown`.
    pub verdict: &'static str,
    /// The log's own word for it.
    pub verdict_raw: String,
    /// `egress` (source side), `ingress` (destination side) or `unknown`.
    #[serde(rename = "where")]
    pub where_: &'static str,
    /// Node that reported it.
    pub node: Option<String>,
    /// Drop reason the log gives.
    pub reason: Option<String>,
    /// Policies the log names.
    pub policies: Vec<String>,
    /// Whether the log marks it as a reply.
    pub is_reply: Option<bool>,
    /// Bytes, when counted.
    pub bytes: Option<u64>,
    /// Packets, when counted.
    pub packets: Option<u64>,
    /// Attempts this record stands for (0 for the second report of one packet).
    pub count: u64,
    /// Second report of a packet already reported (Hubble policy verdict + drop).
    pub duplicate: bool,
    /// `exact`, `aggregated` (folded by the source) or `sampled` (estimates).
    pub counting: &'static str,
    /// Input format.
    pub format: &'static str,
    /// Input name.
    pub input: String,
    /// Line in the input.
    pub line: u64,
    /// With a snapshot: what the NetworkPolicies decide for this connection (`allow`/`deny`);
    /// null without one, for replies, and when it could not be evaluated.
    pub policy_verdict: Option<&'static str>,
    /// With a snapshot: how the log and the snapshot disagree, with the likely cause.
    pub mismatch: Option<String>,
}

impl FlowRow {
    /// The row of a flow.
    pub fn of(flow: &Flow) -> FlowRow {
        let s = EndpointColumns::of(&flow.src);
        let d = EndpointColumns::of(&flow.dst);
        FlowRow {
            time: flow.time.as_ref().map(format_time),
            src_ip: s.ip,
            src_port: s.port,
            src_kind: s.kind,
            src_namespace: s.namespace,
            src_pod: s.pod,
            src_workload: s.workload,
            src_workload_kind: s.workload_kind,
            src_node: s.node,
            src_name: s.name,
            src_identity_source: s.identity_source,
            dst_ip: d.ip,
            dst_port: d.port,
            dst_kind: d.kind,
            dst_namespace: d.namespace,
            dst_pod: d.pod,
            dst_workload: d.workload,
            dst_workload_kind: d.workload_kind,
            dst_node: d.node,
            dst_service: d.service,
            dst_name: d.name,
            dst_identity_source: d.identity_source,
            protocol: flow.protocol.to_string(),
            verdict: flow.action.as_str(),
            verdict_raw: flow.action_raw.clone(),
            where_: flow.direction.as_str(),
            node: flow.node.clone(),
            reason: flow.drop_reason.clone(),
            policies: flow.policies.iter().map(|p| p.to_string()).collect(),
            is_reply: flow.is_reply,
            bytes: flow.bytes,
            packets: flow.packets,
            count: flow.count,
            duplicate: flow.duplicate,
            counting: flow.counting.as_str(),
            format: flow.format.name(),
            input: flow.origin.input.to_string(),
            line: flow.origin.line,
            policy_verdict: None,
            mismatch: None,
        }
    }

    /// Adds what the snapshot says about the record's connection.
    pub fn with_why(mut self, why: Option<&super::Why>) -> FlowRow {
        if let Some(why) = why {
            self.policy_verdict = why.verdict.map(|v| v.as_str());
            self.mismatch = why.mismatch.clone();
        }
        self
    }
}

/// One denied connection (all the records of one source → destination:port at one enforcing
/// side and node).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeniedRow {
    /// Source address (the first seen).
    pub src_ip: Option<String>,
    /// Source identity kind.
    pub src_kind: &'static str,
    /// Source namespace.
    pub src_namespace: Option<String>,
    /// Source pod.
    pub src_pod: Option<String>,
    /// Source workload name.
    pub src_workload: Option<String>,
    /// Source workload kind.
    pub src_workload_kind: Option<String>,
    /// Source node.
    pub src_node: Option<String>,
    /// Other source identity.
    pub src_name: Option<String>,
    /// Where the source identity came from.
    pub src_identity_source: &'static str,
    /// Destination address.
    pub dst_ip: Option<String>,
    /// Destination identity kind.
    pub dst_kind: &'static str,
    /// Destination namespace.
    pub dst_namespace: Option<String>,
    /// Destination pod.
    pub dst_pod: Option<String>,
    /// Destination workload name.
    pub dst_workload: Option<String>,
    /// Destination workload kind.
    pub dst_workload_kind: Option<String>,
    /// Destination node.
    pub dst_node: Option<String>,
    /// Service the destination is or was reached through.
    pub dst_service: Option<String>,
    /// Other destination identity.
    pub dst_name: Option<String>,
    /// Where the destination identity came from.
    pub dst_identity_source: &'static str,
    /// Destination port.
    pub dst_port: Option<u16>,
    /// Protocol.
    pub protocol: String,
    /// Always `denied` (or `dropped` with `--include-drops`).
    pub verdict: &'static str,
    /// Enforcing side: `egress`, `ingress` or `unknown`.
    #[serde(rename = "where")]
    pub where_: &'static str,
    /// Node that enforced it.
    pub node: Option<String>,
    /// Drop reasons the log gives, joined with `, `.
    pub reason: Option<String>,
    /// Policies the log names.
    pub policies: Vec<String>,
    /// Denied attempts (a packet reported twice counts once).
    pub count: u64,
    /// Log records behind the row.
    pub records: u64,
    /// First denial (RFC 3339 UTC).
    pub first_seen: Option<String>,
    /// Last denial (RFC 3339 UTC).
    pub last_seen: Option<String>,
    /// `exact`, or `inexact` when a record's count was folded or sampled by the source.
    pub counting: &'static str,
    /// What the other end reported for this connection (`egress allowed @ node-a`).
    pub other_reports: Vec<String>,
    /// What the snapshot's NetworkPolicies decide (`allow`/`deny`); null without a snapshot or
    /// when the connection could not be evaluated.
    pub policy_verdict: Option<&'static str>,
    /// Why, from the snapshot: the denying rule and what it missed (or why not evaluated).
    pub explanation: Option<String>,
    /// How the log and the snapshot disagree, with the likely cause.
    pub mismatch: Option<String>,
}

impl DeniedRow {
    /// The row of an aggregated denied connection.
    pub fn of(c: &DeniedConnection) -> DeniedRow {
        let s = EndpointColumns::of(&c.src);
        let d = EndpointColumns::of(&c.dst);
        DeniedRow {
            src_ip: s.ip,
            src_kind: s.kind,
            src_namespace: s.namespace,
            src_pod: s.pod,
            src_workload: s.workload,
            src_workload_kind: s.workload_kind,
            src_node: s.node,
            src_name: s.name,
            src_identity_source: s.identity_source,
            dst_ip: d.ip,
            dst_kind: d.kind,
            dst_namespace: d.namespace,
            dst_pod: d.pod,
            dst_workload: d.workload,
            dst_workload_kind: d.workload_kind,
            dst_node: d.node,
            dst_service: d.service,
            dst_name: d.name,
            dst_identity_source: d.identity_source,
            dst_port: c.dst.port,
            protocol: c.protocol.to_string(),
            verdict: c.action.as_str(),
            where_: c.direction.as_str(),
            node: c.node.clone(),
            reason: Some(c.drop_reasons.join(", ")).filter(|r| !r.is_empty()),
            policies: c.policies.iter().map(|p| p.to_string()).collect(),
            count: c.count,
            records: c.records,
            first_seen: c.first_seen.as_ref().map(format_time),
            last_seen: c.last_seen.as_ref().map(format_time),
            counting: if c.inexact { "inexact" } else { "exact" },
            other_reports: c.other_reports.iter().map(|r| r.to_string()).collect(),
            policy_verdict: c.why.as_ref().and_then(|w| w.verdict).map(|v| v.as_str()),
            explanation: c.why.as_ref().map(|w| w.summary.clone()),
            mismatch: c.why.as_ref().and_then(|w| w.mismatch.clone()),
        }
    }
}
