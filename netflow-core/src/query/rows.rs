//! The output rows, each declared once: a row type's fields, their column names, types and
//! meanings come from one declaration ([`declare_row!`]), which JSON, NDJSON, CSV, Parquet and
//! the tables all read (docs/output.md lists the same columns). A [`Row`] gives its values as
//! [`Cell`]s by column position, so every writer is written once for every row type, including
//! the `top` groups whose columns are chosen at run time.

use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::ser::{Serialize, SerializeMap, Serializer};

use super::denied::DeniedConnection;
use super::replay::ReplayConnection;
use super::why::Why;
use crate::flow::{Endpoint, Flow, FlowDetails, Identity};
use crate::policy::lint::Finding;
use crate::policy::{Evaluation, SideVerdict};

/// How a column's values are typed in every output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ColumnType {
    /// UTF-8 text; IP addresses are text.
    Text,
    /// A 32-bit integer (ports).
    Int32,
    /// A 64-bit integer (counts, bytes, lines); larger values saturate in frames.
    Int64,
    /// A boolean.
    Bool,
    /// A time: RFC 3339 UTC text in JSON and CSV, a UTC timestamp (µs) in frames and Parquet.
    Time,
    /// A list of text (`;`-joined in CSV).
    TextList,
    /// Structured data: nested JSON in JSON, JSON text in CSV and Parquet.
    Json,
}

impl ColumnType {
    /// Whether values of the column are whole numbers.
    pub fn is_integer(self) -> bool {
        matches!(self, ColumnType::Int32 | ColumnType::Int64)
    }
}

/// One column of a row type: its name (the JSON key, CSV header and frame column), its type
/// and what it means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    /// Column name.
    pub name: &'static str,
    /// Column type.
    pub kind: ColumnType,
    /// What the column holds, one line.
    pub meaning: &'static str,
}

/// One value of a row, borrowed from it.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum Cell<'a> {
    /// No value.
    Null,
    /// Text.
    Text(&'a str),
    /// A signed whole number.
    Int(i64),
    /// An unsigned whole number.
    UInt(u64),
    /// A boolean.
    Bool(bool),
    /// A time.
    Time(DateTime<Utc>),
    /// A list of text.
    TextList(&'a [String]),
    /// Structured data.
    Json(&'a serde_json::Value),
    /// A policy evaluation (structured data, written in its own field order).
    Evaluation(&'a Evaluation),
    /// What a flow record says beyond the common columns (structured data).
    Details(&'a FlowDetails),
}

impl Cell<'_> {
    /// The value as one line of text, as CSV writes it: empty for null, lists joined with `;`,
    /// times in RFC 3339 UTC, structured data as compact JSON.
    pub fn to_text(&self) -> String {
        match self {
            Cell::Null => String::new(),
            Cell::Text(s) => s.to_string(),
            Cell::Int(n) => n.to_string(),
            Cell::UInt(n) => n.to_string(),
            Cell::Bool(b) => b.to_string(),
            Cell::Time(t) => format_time(t),
            Cell::TextList(items) => items.join(";"),
            Cell::Json(v) => v.to_string(),
            Cell::Evaluation(e) => serde_json::to_string(e).unwrap_or_default(),
            Cell::Details(d) => serde_json::to_string(d).unwrap_or_default(),
        }
    }

    /// The value as a 64-bit integer (numbers saturate, booleans are 0 or 1, times are µs
    /// since 1970); `None` for null, text and lists.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Cell::Int(n) => Some(n),
            Cell::UInt(n) => Some(i64::try_from(n).unwrap_or(i64::MAX)),
            Cell::Bool(b) => Some(i64::from(b)),
            Cell::Time(t) => Some(t.timestamp_micros()),
            _ => None,
        }
    }
}

impl Serialize for Cell<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Cell::Null => serializer.serialize_none(),
            Cell::Text(s) => serializer.serialize_str(s),
            Cell::Int(n) => serializer.serialize_i64(*n),
            Cell::UInt(n) => serializer.serialize_u64(*n),
            Cell::Bool(b) => serializer.serialize_bool(*b),
            Cell::Time(t) => serializer.serialize_str(&format_time(t)),
            Cell::TextList(items) => items.serialize(serializer),
            Cell::Json(v) => v.serialize(serializer),
            Cell::Evaluation(e) => e.serialize(serializer),
            Cell::Details(d) => d.serialize(serializer),
        }
    }
}

/// A row of output: its values by column position (the columns are the row type's
/// `COLUMNS`, or a result's own, as for `top` groups).
pub trait Row {
    /// The value of column `column`; [`Cell::Null`] past the last column.
    fn cell(&self, column: usize) -> Cell<'_>;
}

/// A row type whose columns are fixed and declared with it.
pub trait DeclaredRow: Row {
    /// The columns, in order.
    const COLUMNS: &'static [Column];
}

/// A row as a JSON object: the columns' names as keys, in order.
pub struct RowObject<'a, R: ?Sized> {
    /// The columns of the row.
    pub columns: &'a [Column],
    /// The row.
    pub row: &'a R,
}

impl<R: Row + ?Sized> Serialize for RowObject<'_, R> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.columns.len()))?;
        for (i, column) in self.columns.iter().enumerate() {
            map.serialize_entry(column.name, &self.row.cell(i))?;
        }
        map.end()
    }
}

/// A field's value as a [`Cell`].
pub trait IntoCell {
    /// The value as a cell.
    fn cell(&self) -> Cell<'_>;
}

impl IntoCell for String {
    fn cell(&self) -> Cell<'_> {
        Cell::Text(self)
    }
}

impl IntoCell for &'static str {
    fn cell(&self) -> Cell<'_> {
        Cell::Text(self)
    }
}

impl IntoCell for u16 {
    fn cell(&self) -> Cell<'_> {
        Cell::UInt((*self).into())
    }
}

impl IntoCell for u64 {
    fn cell(&self) -> Cell<'_> {
        Cell::UInt(*self)
    }
}

impl IntoCell for i64 {
    fn cell(&self) -> Cell<'_> {
        Cell::Int(*self)
    }
}

impl IntoCell for bool {
    fn cell(&self) -> Cell<'_> {
        Cell::Bool(*self)
    }
}

impl IntoCell for DateTime<Utc> {
    fn cell(&self) -> Cell<'_> {
        Cell::Time(*self)
    }
}

impl IntoCell for Vec<String> {
    fn cell(&self) -> Cell<'_> {
        Cell::TextList(self)
    }
}

impl IntoCell for serde_json::Value {
    fn cell(&self) -> Cell<'_> {
        Cell::Json(self)
    }
}

impl IntoCell for Arc<FlowDetails> {
    fn cell(&self) -> Cell<'_> {
        Cell::Details(self)
    }
}

impl IntoCell for Arc<Evaluation> {
    fn cell(&self) -> Cell<'_> {
        Cell::Evaluation(self)
    }
}

impl<T: IntoCell> IntoCell for Option<T> {
    fn cell(&self) -> Cell<'_> {
        self.as_ref().map_or(Cell::Null, IntoCell::cell)
    }
}

/// Declares an output row type once: the struct, its `COLUMNS` (name, type, meaning), its
/// cells and its JSON form all come from one list of `field [as "name"]: Type => ColumnType,
/// "meaning";` entries.
macro_rules! declare_row {
    (
        $(#[doc = $doc:literal])*
        pub struct $row:ident {
            $( $field:ident $(as $name:literal)? : $ty:ty => $kind:ident, $meaning:literal; )*
        }
    ) => {
        $(#[doc = $doc])*
        #[derive(Debug, Clone, PartialEq)]
        pub struct $row {
            $( #[doc = $meaning] pub $field: $ty, )*
        }

        impl $crate::query::DeclaredRow for $row {
            const COLUMNS: &'static [$crate::query::Column] = &[
                $( $crate::query::Column {
                    name: declare_row!(@name $field $(, $name)?),
                    kind: $crate::query::ColumnType::$kind,
                    meaning: $meaning,
                }, )*
            ];
        }

        impl $crate::query::Row for $row {
            fn cell(&self, column: usize) -> $crate::query::Cell<'_> {
                use $crate::query::IntoCell;
                const CELLS: &[for<'r> fn(&'r $row) -> $crate::query::Cell<'r>] =
                    &[ $( |row| row.$field.cell(), )* ];
                CELLS
                    .get(column)
                    .map_or($crate::query::Cell::Null, |cell| cell(self))
            }
        }

        impl serde::Serialize for $row {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                use $crate::query::DeclaredRow;
                $crate::query::RowObject { columns: Self::COLUMNS, row: self }
                    .serialize(serializer)
            }
        }
    };
    (@name $field:ident) => { stringify!($field) };
    (@name $field:ident, $name:literal) => { $name };
}
pub(crate) use declare_row;

/// Flat identity columns of one endpoint.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EndpointColumns {
    /// Address.
    pub ip: Option<String>,
    /// Port.
    pub port: Option<u16>,
    /// Kind of identity: `pod`, `node`, `service`, `external`, `reserved`, `vm`,
    /// `google_service`, `network`, `ambiguous`, `unknown`.
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
    /// Readable identity for other kinds (`reserved:health`, `vm NAME (ZONE, …)`, `private
    /// network`, ambiguous candidates).
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
            Identity::Network(_)
            | Identity::Reserved { .. }
            | Identity::Ambiguous { .. }
            | Identity::Cloud(_) => c.name = Some(ep.identity.to_string()),
            Identity::External | Identity::Unknown => {}
        }
        c
    }
}

/// RFC 3339 UTC with the precision the log gave (up to nanoseconds).
pub fn format_time(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

declare_row! {
    /// One flow record.
    pub struct FlowRow {
        time: Option<DateTime<Utc>> => Time, "Time of the record (RFC 3339 UTC).";
        src_ip: Option<String> => Text, "Source address.";
        src_port: Option<u16> => Int32, "Source port.";
        src_kind: &'static str => Text, "Source identity kind: pod, node, service, external, reserved, vm, google_service, network, ambiguous or unknown.";
        src_namespace: Option<String> => Text, "Source namespace.";
        src_pod: Option<String> => Text, "Source pod.";
        src_workload: Option<String> => Text, "Source workload name.";
        src_workload_kind: Option<String> => Text, "Source workload kind.";
        src_node: Option<String> => Text, "Source node (the pod's node, or the node itself).";
        src_name: Option<String> => Text, "Other source identity (reserved, vm, google_service, network, a named public network, ambiguous candidates).";
        src_identity_source: &'static str => Text, "Where the source identity came from: snapshot, log or none.";
        dst_ip: Option<String> => Text, "Destination address.";
        dst_port: Option<u16> => Int32, "Destination port.";
        dst_kind: &'static str => Text, "Destination identity kind.";
        dst_namespace: Option<String> => Text, "Destination namespace.";
        dst_pod: Option<String> => Text, "Destination pod.";
        dst_workload: Option<String> => Text, "Destination workload name.";
        dst_workload_kind: Option<String> => Text, "Destination workload kind.";
        dst_node: Option<String> => Text, "Destination node.";
        dst_service: Option<String> => Text, "Service the destination is or was reached through (namespace/name).";
        dst_name: Option<String> => Text, "Other destination identity.";
        dst_identity_source: &'static str => Text, "Where the destination identity came from.";
        protocol: String => Text, "Protocol.";
        verdict: &'static str => Text, "What the log says happened: allowed, denied, dropped or unknown.";
        verdict_raw: String => Text, "The log's own word for it.";
        where_ as "where": &'static str => Text, "Side that reported it: egress (source side), ingress (destination side) or unknown.";
        node: Option<String> => Text, "Node that reported it.";
        reason: Option<String> => Text, "Drop reason the log gives.";
        policies: Vec<String> => TextList, "Policies the log names.";
        is_reply: Option<bool> => Bool, "Whether the log marks it as a reply.";
        bytes: Option<u64> => Int64, "Bytes, when counted.";
        packets: Option<u64> => Int64, "Packets, when counted.";
        count: u64 => Int64, "Attempts this record stands for (0 for the second report of one packet).";
        duplicate: bool => Bool, "A repeated report of a packet already reported (Hubble observation points, policy verdict, drop).";
        counting: &'static str => Text, "exact, aggregated (folded by the source) or sampled (estimates).";
        format: &'static str => Text, "Input format.";
        input: String => Text, "Input name.";
        line: u64 => Int64, "Line in the input.";
        l7: Option<String> => Text, "The application-layer message a proxy recorded, in one line: dns request A NAME, dns response NXDOMAIN A NAME, http response 503 GET URL.";
        details: Option<Arc<FlowDetails>> => Json, "What else the record says, when it says more: record_id, observation_point, trace_reason, interface, src_cluster, dst_cluster, l7, dscp, src_location, dst_location, src_vpc, dst_vpc, egress_as_paths, log_entry.";
        policy_verdict: Option<&'static str> => Text, "With a snapshot: what the NetworkPolicies decide for this connection (allow or deny); null without one, for replies, and when it could not be evaluated.";
        mismatch: Option<String> => Text, "With a snapshot: how the log and the snapshot disagree, with the likely cause.";
        also_subject_to: Vec<String> => TextList, "With a snapshot: policies flowq does not evaluate (Cilium, Calico, AdminNetworkPolicy, …) that select or may select an end: the verdict may differ.";
    }
}

impl FlowRow {
    /// The row of a flow.
    pub fn of(flow: &Flow) -> FlowRow {
        let s = EndpointColumns::of(&flow.src);
        let d = EndpointColumns::of(&flow.dst);
        FlowRow {
            time: flow.time,
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
            also_subject_to: Vec::new(),
            l7: flow
                .details
                .as_ref()
                .and_then(|d| d.l7.as_ref())
                .map(|l7| l7.to_string()),
            details: flow.details.clone(),
        }
    }

    /// Adds what the snapshot says about the record's connection.
    pub fn with_why(mut self, why: Option<&Why>) -> FlowRow {
        if let Some(why) = why {
            self.policy_verdict = why.verdict.map(|v| v.as_str());
            self.mismatch = why.mismatch.clone();
            self.also_subject_to = why
                .evaluation
                .iter()
                .flat_map(|e| e.also_subject_to.iter().map(|a| a.note.clone()))
                .collect();
        }
        self
    }
}

declare_row! {
    /// One denied connection: all the records of one source → destination:port at one
    /// enforcing side and node.
    pub struct DeniedRow {
        src_ip: Option<String> => Text, "Source address (the first seen).";
        src_kind: &'static str => Text, "Source identity kind.";
        src_namespace: Option<String> => Text, "Source namespace.";
        src_pod: Option<String> => Text, "Source pod.";
        src_workload: Option<String> => Text, "Source workload name.";
        src_workload_kind: Option<String> => Text, "Source workload kind.";
        src_node: Option<String> => Text, "Source node.";
        src_name: Option<String> => Text, "Other source identity.";
        src_identity_source: &'static str => Text, "Where the source identity came from.";
        dst_ip: Option<String> => Text, "Destination address.";
        dst_kind: &'static str => Text, "Destination identity kind.";
        dst_namespace: Option<String> => Text, "Destination namespace.";
        dst_pod: Option<String> => Text, "Destination pod.";
        dst_workload: Option<String> => Text, "Destination workload name.";
        dst_workload_kind: Option<String> => Text, "Destination workload kind.";
        dst_node: Option<String> => Text, "Destination node.";
        dst_service: Option<String> => Text, "Service the destination is or was reached through.";
        dst_name: Option<String> => Text, "Other destination identity.";
        dst_identity_source: &'static str => Text, "Where the destination identity came from.";
        dst_port: Option<u16> => Int32, "Destination port.";
        protocol: String => Text, "Protocol.";
        verdict: &'static str => Text, "What the log says: denied (or dropped, when drops are counted as denials); unknown for a log without verdicts.";
        verdict_from: &'static str => Text, "Where the denial comes from: log (the log says so), snapshot (the log gives no verdict; the snapshot's policies deny it) or no_reply (the log gives no verdict; no reply was seen).";
        where_ as "where": &'static str => Text, "Enforcing side: egress, ingress or unknown (for verdict_from snapshot, the side whose policies deny it).";
        node: Option<String> => Text, "Node that enforced it.";
        reason: Option<String> => Text, "Drop reasons the log gives, joined with \", \".";
        policies: Vec<String> => TextList, "Policies the log names.";
        count: u64 => Int64, "Denied attempts (a packet reported twice counts once).";
        records: u64 => Int64, "Log records behind the row.";
        first_seen: Option<DateTime<Utc>> => Time, "First denial (RFC 3339 UTC).";
        last_seen: Option<DateTime<Utc>> => Time, "Last denial (RFC 3339 UTC).";
        counting: &'static str => Text, "exact, or inexact when a record's count was folded or sampled by the source.";
        other_reports: Vec<String> => TextList, "What the other end reported for this connection (egress allowed @ node-a).";
        policy_verdict: Option<&'static str> => Text, "What the snapshot's NetworkPolicies decide (allow or deny); null without a snapshot or when the connection could not be evaluated.";
        explanation: Option<String> => Text, "Why, from the snapshot: the denying rule and what it missed (or why not evaluated).";
        evaluation: Option<Arc<Evaluation>> => Json, "The explanation as data: the computed verdict, per side the selecting policies and, for each, the rule and the clause that failed (the object of flowq check -o json).";
        mismatch: Option<String> => Text, "How the log and the snapshot disagree, with the likely cause.";
        also_subject_to: Vec<String> => TextList, "Policies flowq does not evaluate (Cilium, Calico, AdminNetworkPolicy, …) that select or may select an end: \"also subject to <kind> <policy> (…), which flowq does not evaluate: the verdict may differ\".";
    }
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
            verdict_from: c.basis.as_str(),
            where_: c.direction.as_str(),
            node: c.node.clone(),
            reason: Some(c.drop_reasons.join(", ")).filter(|r| !r.is_empty()),
            policies: c.policies.iter().map(|p| p.to_string()).collect(),
            count: c.count,
            records: c.records,
            first_seen: c.first_seen,
            last_seen: c.last_seen,
            counting: if c.inexact { "inexact" } else { "exact" },
            other_reports: c.other_reports.iter().map(|r| r.to_string()).collect(),
            policy_verdict: c.why.as_ref().and_then(|w| w.verdict).map(|v| v.as_str()),
            explanation: c.why.as_ref().map(|w| w.summary.clone()),
            evaluation: c.why.as_ref().and_then(|w| w.evaluation.clone()),
            mismatch: c.why.as_ref().and_then(|w| w.mismatch.clone()),
            also_subject_to: c
                .why
                .as_ref()
                .and_then(|w| w.evaluation.as_ref())
                .map(|e| e.also_subject_to.iter().map(|a| a.note.clone()).collect())
                .unwrap_or_default(),
        }
    }
}

declare_row! {
    /// One replayed connection (`flowq replay`): how its computed verdict changes when the
    /// NetworkPolicies change, with the columns of a denied connection, explained under the
    /// changed policies.
    pub struct ReplayRow {
        before: Option<&'static str> => Text, "Computed verdict under the snapshot's own policies: allow or deny; null when not evaluated.";
        after: Option<&'static str> => Text, "Computed verdict under the changed policies: allow or deny; null when not evaluated.";
        change: &'static str => Text, "denied → allowed, allowed → denied, unchanged or not evaluated.";
        src_ip: Option<String> => Text, "Source address (the first seen).";
        src_kind: &'static str => Text, "Source identity kind.";
        src_namespace: Option<String> => Text, "Source namespace.";
        src_pod: Option<String> => Text, "Source pod.";
        src_workload: Option<String> => Text, "Source workload name.";
        src_workload_kind: Option<String> => Text, "Source workload kind.";
        src_node: Option<String> => Text, "Source node.";
        src_name: Option<String> => Text, "Other source identity.";
        src_identity_source: &'static str => Text, "Where the source identity came from.";
        dst_ip: Option<String> => Text, "Destination address.";
        dst_kind: &'static str => Text, "Destination identity kind.";
        dst_namespace: Option<String> => Text, "Destination namespace.";
        dst_pod: Option<String> => Text, "Destination pod.";
        dst_workload: Option<String> => Text, "Destination workload name.";
        dst_workload_kind: Option<String> => Text, "Destination workload kind.";
        dst_node: Option<String> => Text, "Destination node.";
        dst_service: Option<String> => Text, "Service the destination is or was reached through.";
        dst_name: Option<String> => Text, "Other destination identity.";
        dst_identity_source: &'static str => Text, "Where the destination identity came from.";
        dst_port: Option<u16> => Int32, "Destination port.";
        protocol: String => Text, "Protocol.";
        verdict: &'static str => Text, "What the log says at that end: allowed, denied, dropped or unknown.";
        where_ as "where": &'static str => Text, "The reporting side (the enforcing one when the log denies): egress, ingress or unknown.";
        node: Option<String> => Text, "Node that reported it.";
        reason: Option<String> => Text, "Drop reasons the log gives, joined with \", \".";
        policies: Vec<String> => TextList, "Policies the log names.";
        count: u64 => Int64, "Attempts that end reported (a packet reported twice counts once).";
        records: u64 => Int64, "Log records behind the row.";
        first_seen: Option<DateTime<Utc>> => Time, "First attempt (RFC 3339 UTC).";
        last_seen: Option<DateTime<Utc>> => Time, "Last attempt (RFC 3339 UTC).";
        counting: &'static str => Text, "exact, or inexact when a record's count was folded or sampled by the source.";
        other_reports: Vec<String> => TextList, "What the other end reported for this connection (egress allowed @ node-a).";
        policy_verdict: Option<&'static str> => Text, "What the changed NetworkPolicies decide (allow or deny), as after.";
        explanation: Option<String> => Text, "Why, under the changed policies: the denying rule and what it missed, or what allows it.";
        evaluation: Option<Arc<Evaluation>> => Json, "The explanation as data: the computed verdict, per side the selecting policies and, for each, the rule and the clause that failed (the object of flowq check -o json).";
        mismatch: Option<String> => Text, "How the log and the changed policies disagree.";
            explanation_before: Option<String> => Text, "Why, under the snapshot's own policies, in one line.";
    }
}

impl ReplayRow {
    /// The row of a replayed connection.
    pub fn of(r: &ReplayConnection) -> ReplayRow {
        let d = DeniedRow::of(&r.connection);
        ReplayRow {
            before: r.before.map(|v| v.as_str()),
            after: r.after.map(|v| v.as_str()),
            change: r.change().as_str(),
            src_ip: d.src_ip,
            src_kind: d.src_kind,
            src_namespace: d.src_namespace,
            src_pod: d.src_pod,
            src_workload: d.src_workload,
            src_workload_kind: d.src_workload_kind,
            src_node: d.src_node,
            src_name: d.src_name,
            src_identity_source: d.src_identity_source,
            dst_ip: d.dst_ip,
            dst_kind: d.dst_kind,
            dst_namespace: d.dst_namespace,
            dst_pod: d.dst_pod,
            dst_workload: d.dst_workload,
            dst_workload_kind: d.dst_workload_kind,
            dst_node: d.dst_node,
            dst_service: d.dst_service,
            dst_name: d.dst_name,
            dst_identity_source: d.dst_identity_source,
            dst_port: d.dst_port,
            protocol: d.protocol,
            verdict: d.verdict,
            where_: d.where_,
            node: d.node,
            reason: d.reason,
            policies: d.policies,
            count: d.count,
            records: d.records,
            first_seen: d.first_seen,
            last_seen: d.last_seen,
            counting: d.counting,
            other_reports: d.other_reports,
            policy_verdict: d.policy_verdict,
            explanation: d.explanation,
            evaluation: d.evaluation,
            mismatch: d.mismatch,
            explanation_before: r.explanation_before.clone(),
        }
    }
}

declare_row! {
    /// One connection checked against a snapshot's NetworkPolicies (`flowq check`).
    pub struct CheckRow {
        src: String => Text, "The source as evaluated (pod, address, node).";
        dst: String => Text, "The destination as given (pod, service, node, address).";
        port: Option<u16> => Int32, "Destination port as given (the service port for a service); null for a protocol without ports (ICMP).";
        protocol: String => Text, "Protocol.";
        policy_verdict: &'static str => Text, "What the NetworkPolicies decide: allow or deny.";
        egress: &'static str => Text, "The source's egress: allow, deny or not_applicable.";
        ingress: &'static str => Text, "The destination's ingress: allow, deny or not_applicable.";
        explanation: String => Text, "Why, in one line: the denying rule and what it missed, or what allowed it.";
        evaluation: Arc<Evaluation> => Json, "The evaluation as data (the object of flowq check -o json).";
        also_subject_to: Vec<String> => TextList, "Policies flowq does not evaluate that select or may select an end: the verdict may differ.";
    }
}

impl CheckRow {
    /// The row of an evaluation.
    pub fn of(evaluation: &Arc<Evaluation>) -> CheckRow {
        let side = |v: SideVerdict| match v {
            SideVerdict::Allow => "allow",
            SideVerdict::Deny => "deny",
            SideVerdict::NotApplicable => "not_applicable",
        };
        CheckRow {
            src: evaluation.src.to_string(),
            dst: evaluation.dst.to_string(),
            port: evaluation.port,
            protocol: evaluation.protocol.to_string(),
            policy_verdict: evaluation.verdict.as_str(),
            egress: side(evaluation.egress.verdict),
            ingress: side(evaluation.ingress.verdict),
            explanation: evaluation.summary(),
            evaluation: evaluation.clone(),
            also_subject_to: evaluation
                .also_subject_to
                .iter()
                .map(|a| a.note.clone())
                .collect(),
        }
    }
}

declare_row! {
    /// One pitfall `lint` found in a snapshot's NetworkPolicies, or in the flows.
    pub struct LintRow {
        severity: &'static str => Text, "error, warning or info.";
        rule: &'static str => Text, "The rule that found it (docs/lint.md lists them).";
        namespace: Option<String> => Text, "The namespace it is in.";
        objects: Vec<String> => TextList, "The objects involved (`Kind namespace/name`), the one to change first.";
        message: String => Text, "What is wrong, in one sentence.";
        fix: String => Text, "How to fix it, in one line.";
        attempts: Option<u64> => Int64, "For the rules that read flows: the denied attempts seen; null for the others.";
        first_seen: Option<DateTime<Utc>> => Time, "For the rules that read flows: the first one (RFC 3339 UTC).";
        last_seen: Option<DateTime<Utc>> => Time, "For the rules that read flows: the last one (RFC 3339 UTC).";
        snapshot: String => Text, "The snapshot (or snapshots, comma-separated) it was found in.";
    }
}

impl LintRow {
    /// The row of a finding.
    pub fn of(f: &Finding) -> LintRow {
        LintRow {
            severity: f.severity.as_str(),
            rule: f.rule.name(),
            namespace: f.namespace.clone(),
            objects: f.objects.iter().map(|o| o.to_string()).collect(),
            message: f.message.clone(),
            fix: f.fix.clone(),
            attempts: f.seen.as_ref().map(|s| s.attempts),
            first_seen: f.seen.as_ref().and_then(|s| s.first),
            last_seen: f.seen.as_ref().and_then(|s| s.last),
            snapshot: f.snapshot.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys_of(value: &serde_json::Value) -> Vec<String> {
        value.as_object().unwrap().keys().cloned().collect()
    }

    #[test]
    fn json_keys_are_the_declared_columns() {
        let mut flow = Flow::test_flow("10.0.0.1", "10.0.0.2", 9200);
        flow.time = "2026-11-20T19:05:02Z".parse().ok();
        let row = FlowRow::of(&flow);
        let value = serde_json::to_value(&row).unwrap();
        let mut names: Vec<String> = FlowRow::COLUMNS
            .iter()
            .map(|c| c.name.to_string())
            .collect();
        let mut keys = keys_of(&value);
        names.sort();
        keys.sort();
        assert_eq!(keys, names);
        assert_eq!(value["where"], "ingress");
        assert_eq!(value["time"], "2026-11-20T19:05:02Z");
        assert_eq!(row.cell(FlowRow::COLUMNS.len()), Cell::Null);
    }

    #[test]
    fn every_column_cell_matches_its_declared_type() {
        let row = FlowRow::of(&Flow::test_flow("10.0.0.1", "10.0.0.2", 9200));
        for (i, column) in FlowRow::COLUMNS.iter().enumerate() {
            let fits = matches!(
                (row.cell(i), column.kind),
                (Cell::Null, _)
                    | (Cell::Text(_), ColumnType::Text)
                    | (
                        Cell::UInt(_) | Cell::Int(_),
                        ColumnType::Int32 | ColumnType::Int64
                    )
                    | (Cell::Bool(_), ColumnType::Bool)
                    | (Cell::Time(_), ColumnType::Time)
                    | (Cell::TextList(_), ColumnType::TextList)
                    | (
                        Cell::Json(_) | Cell::Evaluation(_) | Cell::Details(_),
                        ColumnType::Json
                    )
            );
            assert!(fits, "{} holds {:?}", column.name, row.cell(i));
        }
    }

    #[test]
    fn cells_as_text_follow_the_csv_conventions() {
        let list = vec!["a/b".to_string(), "c".to_string()];
        assert_eq!(Cell::TextList(&list).to_text(), "a/b;c");
        assert_eq!(Cell::Null.to_text(), "");
        assert_eq!(Cell::UInt(u64::MAX).as_i64(), Some(i64::MAX));
        let json = serde_json::json!({"verdict": "deny"});
        assert_eq!(Cell::Json(&json).to_text(), r#"{"verdict":"deny"}"#);
    }
}
