//! The pipeline, once: inputs + snapshots + filter + read options → flows joined to their
//! identities and filtered, in input order; and on top of that the answers every front end
//! gives — denied connections with their WHY, `top` groups, flow rows, one connection checked.
//! The CLI, the examples and any embedding tool read through a [`Session`] and hold no
//! pipeline logic of their own.
//!
//! Snapshots may load on another thread while the logs are read: flows read before they are
//! loaded wait (up to [`MAX_WAITING_FLOWS`], in order) and are joined once they are.

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::thread::JoinHandle;

use chrono::{DateTime, Duration, Utc};

use crate::query::declare_row;

use crate::cluster::{PolicyEdit, Snapshot, SnapshotSet};
use crate::error::{Error, Result};
use crate::flow::{Action, Direction, Flow, Protocol};
use crate::format::Format;
use crate::ingest::{read_bytes, read_input, InputReport, Progress, ReadOptions};
use crate::input::InputBytes;
use crate::policy::lint::{self, Finding, LintObserver};
use crate::policy::suggest::{Suggester, Suggestion};
use crate::policy::{Checked, Evaluation, Subject, Target};
use crate::query::{
    connection_text, looks_like_request, needles_for, Change, ChangeCounts, DenialBasis,
    DeniedAggregator, DeniedConnection, Explainer, FlowFilter, FlowRow, LogEvidence, PartialDenied,
    PartialTopGroup, ReconciledConnection, ReplayAggregator, ReplayConnection, TopAggregator,
    TopGroups, TopQuery, UnansweredDetector, Why,
};

/// How many flows wait for the snapshots to finish loading before reading waits too.
pub const MAX_WAITING_FLOWS: usize = 16 * 1024;

/// A snapshot to load: a file or folder, and optionally when it was taken (`FILE@TIME`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotSpec {
    /// The file (JSON or YAML, gzip or not) or folder of manifests.
    pub path: PathBuf,
    /// When it was taken; without it, the newest timestamp of its objects.
    pub taken_at: Option<DateTime<Utc>>,
}

impl FromStr for SnapshotSpec {
    type Err = Error;

    /// `FILE` or `FILE@TIME` (RFC 3339); an `@` followed by something that is not a time is
    /// part of the name when a file of that whole name exists.
    fn from_str(spec: &str) -> Result<SnapshotSpec> {
        if let Some((path, time)) = spec.rsplit_once('@') {
            if let Ok(t) = DateTime::parse_from_rfc3339(time) {
                return Ok(SnapshotSpec {
                    path: PathBuf::from(path),
                    taken_at: Some(t.with_timezone(&Utc)),
                });
            }
            if !std::path::Path::new(spec).exists() {
                return Err(Error::Invalid {
                    what: "snapshot",
                    value: spec.to_string(),
                    detail: format!(
                        "{time:?} after '@' is not an RFC 3339 time (e.g. 2026-11-20T19:00:00Z)"
                    ),
                });
            }
        }
        Ok(SnapshotSpec {
            path: PathBuf::from(spec),
            taken_at: None,
        })
    }
}

/// The cluster snapshots a session joins flows to: none, already loaded, or loading on
/// another thread.
pub struct Snapshots(SnapshotState);

enum SnapshotState {
    Ready(SnapshotSet),
    Loading(JoinHandle<Result<SnapshotSet>>),
}

impl Snapshots {
    /// No snapshots: identities come from the log alone.
    pub fn none() -> Snapshots {
        Snapshots(SnapshotState::Ready(SnapshotSet::default()))
    }

    /// Snapshots already loaded.
    pub fn loaded(set: SnapshotSet) -> Snapshots {
        Snapshots(SnapshotState::Ready(set))
    }

    /// Starts loading `specs` on another thread, so that reading can begin at once. A path
    /// that does not exist fails here, before anything is read.
    pub fn load_in_background(specs: Vec<SnapshotSpec>) -> Result<Snapshots> {
        if specs.is_empty() {
            return Ok(Snapshots::none());
        }
        for spec in &specs {
            if std::fs::metadata(&spec.path).is_err() {
                Snapshot::load(&spec.path, spec.taken_at)?;
            }
        }
        Ok(Snapshots(SnapshotState::Loading(std::thread::spawn(
            move || {
                let loaded = specs
                    .into_iter()
                    .map(|s| Snapshot::load(&s.path, s.taken_at))
                    .collect::<Result<Vec<_>>>()?;
                Ok(SnapshotSet::new(loaded))
            },
        ))))
    }

    /// Loads `specs` now.
    pub fn load(specs: Vec<SnapshotSpec>) -> Result<SnapshotSet> {
        Snapshots::load_in_background(specs)?.wait()
    }

    /// Whether none were given.
    fn given(&self) -> bool {
        !matches!(&self.0, SnapshotState::Ready(set) if set.is_empty())
    }

    fn is_ready(&self) -> bool {
        match &self.0 {
            SnapshotState::Ready(_) => true,
            SnapshotState::Loading(handle) => handle.is_finished(),
        }
    }

    /// The snapshots, once loaded.
    pub fn wait(self) -> Result<SnapshotSet> {
        match self.0 {
            SnapshotState::Ready(set) => Ok(set),
            SnapshotState::Loading(handle) => handle
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
        }
    }
}

/// What reading every input gave besides the flows.
#[derive(Debug, Default)]
pub struct ReadSummary {
    /// One report per input that could be read (possibly only in part: see
    /// [`InputReport::failure`]).
    pub reports: Vec<InputReport>,
    /// Inputs that could not be read at all, with why.
    pub failed: Vec<(String, Error)>,
}

impl ReadSummary {
    /// Records read over all inputs.
    pub fn records(&self) -> u64 {
        self.reports.iter().map(|r| r.records).sum()
    }

    /// Records skipped over all inputs.
    pub fn skipped(&self) -> u64 {
        self.reports.iter().map(|r| r.skipped).sum()
    }

    /// Events the sources say they lost.
    pub fn lost(&self) -> u64 {
        self.reports
            .iter()
            .fold(0, |total, r| total.saturating_add(r.lost_count()))
    }

    /// Inputs named: read or not.
    pub fn inputs(&self) -> usize {
        self.reports.len() + self.failed.len()
    }

    /// Every error that stopped an input, whole or part-way, in input order of discovery.
    pub fn errors(&self) -> impl Iterator<Item = &Error> {
        self.failed
            .iter()
            .map(|(_, e)| e)
            .chain(self.reports.iter().filter_map(|r| r.failure.as_ref()))
    }
}

/// Which records count as denials, and whether to look for unanswered requests.
#[derive(Debug, Clone)]
pub struct DeniedQuery {
    /// Count datapath drops (not policy) as well.
    pub include_drops: bool,
    /// In logs without verdicts, a request with no reply within this window is "possibly
    /// denied" (default 60 seconds; only records without a verdict are looked at).
    pub unanswered_within: Option<Duration>,
    /// In logs without verdicts, with snapshots, list the requests the snapshot's policies
    /// deny, marked as computed ([`DenialBasis::Snapshot`]); on by default.
    pub policy_denials: bool,
}

impl Default for DeniedQuery {
    fn default() -> DeniedQuery {
        DeniedQuery {
            include_drops: false,
            unanswered_within: Some(Duration::seconds(DEFAULT_REPLY_WINDOW_SECONDS)),
            policy_denials: true,
        }
    }
}

/// How long a reply may come after its request, by default, before the request counts as
/// unanswered.
pub const DEFAULT_REPLY_WINDOW_SECONDS: i64 = 60;

impl DeniedQuery {
    /// Whether `flow` counts as a denial.
    pub fn counts(&self, flow: &Flow) -> bool {
        flow.action == Action::Denied || (self.include_drops && flow.action == Action::Dropped)
    }
}

/// Denied connections, grouped, with the other end's reports and the WHY.
#[derive(Debug)]
pub struct Denied {
    /// The connections, most attempts first.
    pub connections: Vec<DeniedConnection>,
    /// What reading gave.
    pub summary: ReadSummary,
    /// Flow records that carried no verdict (VPC Flow Logs observations): without snapshots
    /// only the unanswered ones among them can be listed.
    pub verdictless: u64,
}

impl Denied {
    /// Denied attempts over all connections.
    pub fn attempts(&self) -> u64 {
        self.connections
            .iter()
            .fold(0u64, |total, c| total.saturating_add(c.count))
    }
}

/// What `lint` found: the pitfalls of the snapshots' NetworkPolicies and what the flows saw.
#[derive(Debug)]
pub struct Lint {
    /// The findings, most severe first.
    pub findings: Vec<Finding>,
    /// What reading gave.
    pub summary: ReadSummary,
}

/// Every observed connection classified against the snapshot's policies.
#[derive(Debug)]
pub struct Reconciliation {
    /// The connections: disagreements first (by class), then most attempts first.
    pub connections: Vec<ReconciledConnection>,
    /// What the whole log shows about enforcement.
    pub evidence: LogEvidence,
    /// What reading gave.
    pub summary: ReadSummary,
}

/// Recorded connections replayed against changed NetworkPolicies.
#[derive(Debug)]
pub struct Replay {
    /// The connections whose computed verdict changes (all of them when asked), those that
    /// become allowed first.
    pub connections: Vec<ReplayConnection>,
    /// Connections and attempts per change.
    pub counts: ChangeCounts,
    /// What reading gave.
    pub summary: ReadSummary,
}

/// A suggested NetworkPolicy with the recorded connections it admits.
#[derive(Debug, Clone)]
pub struct SuggestedPolicy {
    /// The policy to apply (a patch of the snapshot's, or new) and what it was made for.
    pub suggestion: Suggestion,
    /// The recorded connections it admits (were denied, become allowed), with their attempts;
    /// those that were not selected end in `(not selected)`.
    pub admits: Vec<String>,
}

/// The smallest NetworkPolicy change admitting the selected denied connections, checked by
/// replaying every recorded connection against it.
#[derive(Debug)]
pub struct Suggest {
    /// The policies to apply, by namespace and name.
    pub policies: Vec<SuggestedPolicy>,
    /// The selected denied connections, explained against the snapshot.
    pub selected: Vec<DeniedConnection>,
    /// Selected connections no NetworkPolicy rule can admit, with why.
    pub unfixable: Vec<(String, String)>,
    /// Every recorded connection whose computed verdict the change flips: the selected ones
    /// and anything else it admits (or, never expected, denies).
    pub flips: Vec<ReplayConnection>,
    /// Recorded connections that were not selected but become allowed too.
    pub also_admitted: Vec<String>,
    /// What reading gave.
    pub summary: ReadSummary,
}

declare_row! {
    /// One rule a suggestion adds (`flowq suggest -o ndjson|csv`).
    pub struct SuggestRow {
        action: &'static str => Text, "patch (rules added to a policy of the snapshot) or create (a new policy).";
        namespace: String => Text, "Namespace of the policy.";
        policy: String => Text, "Name of the policy.";
        direction: &'static str => Text, "ingress or egress.";
        rule: u64 => Int64, "0-based index of the added rule in the policy's ingress or egress list.";
        peers: Vec<String> => TextList, "Who the rule admits, one entry per from/to peer.";
        ports: Vec<String> => TextList, "The pod ports it admits them on (port/PROTOCOL).";
        admits: Vec<String> => TextList, "The recorded connections the policy admits (were denied, become allowed).";
        notes: Vec<String> => TextList, "Caveats: a broader policy patched, a pod without stable labels.";
        manifest: serde_json::Value => Json, "The whole policy as applied.";
    }
}

impl SuggestRow {
    /// One row per rule a suggested policy adds.
    pub fn of(p: &SuggestedPolicy) -> Vec<SuggestRow> {
        let s = &p.suggestion;
        let manifest = crate::policy::suggest::manifest(&s.policy);
        s.added_rules
            .iter()
            .filter_map(|(direction, index)| {
                let rules = match direction {
                    crate::policy::PolicyType::Ingress => s.policy.spec.ingress.as_ref(),
                    crate::policy::PolicyType::Egress => s.policy.spec.egress.as_ref(),
                };
                let rule = rules?.get(*index)?;
                Some(SuggestRow {
                    action: if s.patched { "patch" } else { "create" },
                    namespace: s.policy.namespace.clone(),
                    policy: s.policy.name.clone(),
                    direction: match direction {
                        crate::policy::PolicyType::Ingress => "ingress",
                        crate::policy::PolicyType::Egress => "egress",
                    },
                    rule: *index as u64,
                    peers: rule
                        .peers
                        .iter()
                        .flatten()
                        .map(crate::policy::suggest::peer_text)
                        .collect(),
                    ports: rule
                        .ports
                        .iter()
                        .flatten()
                        .map(|port| {
                            let number = match &port.port {
                                Some(crate::cluster::model::IntOrString::Int(n)) => n.to_string(),
                                Some(crate::cluster::model::IntOrString::String(n)) => n.clone(),
                                None => "any".to_string(),
                            };
                            format!("{number}/{}", port.protocol.as_deref().unwrap_or("TCP"))
                        })
                        .collect(),
                    admits: p.admits.clone(),
                    notes: s.notes.clone(),
                    manifest: manifest.clone(),
                })
            })
            .collect()
    }
}

impl Suggest {
    /// The policies as one YAML stream for `kubectl apply -f`: each object after comment lines
    /// saying what it is (a patch of a snapshot policy, or new; the rules added, 1-based), the
    /// recorded connections it admits and any caveat.
    pub fn to_yaml(&self) -> Result<String> {
        let mut out = String::new();
        for p in &self.policies {
            let s = &p.suggestion;
            let rules: Vec<String> = s
                .added_rules
                .iter()
                .map(|(d, i)| format!("{} rule {}", d.as_str().to_ascii_lowercase(), i + 1))
                .collect();
            out.push_str(&format!(
                "# {} {}: {} added\n",
                if s.patched { "patch of" } else { "new policy" },
                s.id(),
                rules.join(", ")
            ));
            if p.admits.is_empty() {
                out.push_str("# admits no recorded connection\n");
            }
            for a in &p.admits {
                out.push_str(&format!("# admits {a}\n"));
            }
            for n in &s.notes {
                out.push_str(&format!("# note: {n}\n"));
            }
            let yaml = serde_yaml_ng::to_string(&crate::policy::suggest::manifest(&s.policy))
                .map_err(|e| Error::Invalid {
                    what: "suggestion",
                    value: s.id(),
                    detail: format!("cannot be written as YAML: {e}"),
                })?;
            out.push_str(&yaml);
            out.push_str("---\n");
        }
        Ok(out)
    }

    /// The policies as a `kubectl apply -f`-ready JSON `List`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "apiVersion": "v1",
            "kind": "List",
            "items": self
                .policies
                .iter()
                .map(|p| crate::policy::suggest::manifest(&p.suggestion.policy))
                .collect::<Vec<_>>(),
        })
    }
}

impl Reconciliation {
    /// Connections where the log and the policies disagree.
    pub fn mismatches(&self) -> usize {
        self.connections
            .iter()
            .filter(|c| c.agreement.is_mismatch())
            .count()
    }
}

/// The ranked groups of a `top` query.
#[derive(Debug)]
pub struct Top {
    /// The groups.
    pub groups: TopGroups,
    /// Flow records grouped.
    pub flows: u64,
    /// Replies left out (see [`TopQuery::include_replies`]).
    pub replies_left_out: u64,
    /// What reading gave.
    pub summary: ReadSummary,
}

declare_row! {
    /// One input's accounting (`flowq inspect`): what it is, and what became of its records.
    pub struct InputRow {
        input: String => Text, "Input name as given.";
        format: Option<&'static str> => Text, "Format it was read as; null for an empty input.";
        detected_because: String => Text, "Why that format: what detection saw, or that it was chosen.";
        framing: &'static str => Text, "How records are laid out: lines, sse, document, concatenated or none.";
        gzip: bool => Bool, "Whether it was gzip-compressed.";
        records: u64 => Int64, "Records read (flows + events + skipped + pre-filtered).";
        flows: u64 => Int64, "Records that were flows.";
        events: u64 => Int64, "Records that were other events (node status, lost events, ...).";
        skipped: u64 => Int64, "Records skipped as unusable.";
        lost_by_source: u64 => Int64, "Events the source itself says it lost.";
        duplicates: u64 => Int64, "Flows repeating a packet an earlier flow reported.";
        incomplete: u64 => Int64, "Flows read without all their records (a kube-network-policies evaluation without its verdict): verdict unknown.";
        orphans: u64 => Int64, "Records whose flow's other records are not in the input (a kube-network-policies verdict without its evaluation).";
        emitters: Vec<String> => TextList, "Programs that wrote the flows, when the records name them (Hubble emitter: name version, and how many flows).";
        first_time: Option<DateTime<Utc>> => Time, "Earliest flow time.";
        last_time: Option<DateTime<Utc>> => Time, "Latest flow time.";
        allowed: u64 => Int64, "Flows the log says were allowed.";
        denied: u64 => Int64, "Flows the log says were denied.";
        dropped: u64 => Int64, "Flows the log says were dropped (not by policy).";
        unknown: u64 => Int64, "Flows the log gives no verdict for.";
        error: Option<String> => Text, "What stopped reading part-way, if anything.";
    }
}

impl InputRow {
    /// The row of an input's report, with how many of its flows the log says were allowed,
    /// denied, dropped or gave no verdict for (`actions`, in that order).
    pub fn of(report: &InputReport, actions: [u64; 4]) -> InputRow {
        let [allowed, denied, dropped, unknown] = actions;
        InputRow {
            input: report.input.clone(),
            format: report.format.map(|f| f.name()),
            detected_because: report.detected_because.clone(),
            framing: report.framing_name(),
            gzip: report.gzip,
            records: report.records,
            flows: report.flows,
            events: report.event_count(),
            skipped: report.skipped,
            lost_by_source: report.lost_count(),
            duplicates: report.duplicates,
            incomplete: report.incomplete,
            orphans: report.orphans,
            emitters: report
                .emitters
                .iter()
                .map(|(emitter, flows)| format!("{emitter} ({flows} flows)"))
                .collect(),
            first_time: report.first_time,
            last_time: report.last_time,
            allowed,
            denied,
            dropped,
            unknown,
            error: report.failure.as_ref().map(|e| e.to_string()),
        }
    }
}

declare_row! {
    /// One cluster snapshot's contents (`flowq inspect --snapshot`): what it holds, which
    /// policies it holds that flowq does not evaluate, and what it lacked.
    pub struct SnapshotRow {
        snapshot: String => Text, "Where it was loaded from.";
        taken_at: Option<DateTime<Utc>> => Time, "When it was taken (given, or its newest timestamp).";
        namespaces: u64 => Int64, "Namespaces (with those only referenced by pods or policies).";
        pods: u64 => Int64, "Pods.";
        services: u64 => Int64, "Services.";
        endpoint_slices: u64 => Int64, "EndpointSlices.";
        nodes: u64 => Int64, "Nodes.";
        network_policies: u64 => Int64, "networking.k8s.io/v1 NetworkPolicies (evaluated).";
        not_evaluated: u64 => Int64, "Policies of kinds flowq recognises but does not evaluate.";
        not_evaluated_policies: Vec<String> => TextList, "Each of them as \"<kind> <namespace/name>\" (cluster-wide ones by name).";
        ignored: Vec<String> => TextList, "Objects of kinds flowq does not use, as \"<kind>: <count>\".";
        warnings: Vec<String> => TextList, "What the snapshot lacked or held wrong (objects skipped, bad addresses, missing namespaces).";
    }
}

impl SnapshotRow {
    /// The row of a loaded snapshot.
    pub fn of(snapshot: &Snapshot) -> SnapshotRow {
        let count = |n: usize| n as u64;
        SnapshotRow {
            snapshot: snapshot.source.clone(),
            taken_at: snapshot.taken_at,
            namespaces: count(snapshot.namespaces().len()),
            pods: count(snapshot.pods().len()),
            services: count(snapshot.services().len()),
            endpoint_slices: count(snapshot.endpoint_slices().len()),
            nodes: count(snapshot.nodes().len()),
            network_policies: count(snapshot.policies().len()),
            not_evaluated: count(snapshot.unevaluated_policies().len()),
            not_evaluated_policies: snapshot
                .unevaluated_policies()
                .iter()
                .map(|p| format!("{} {}", p.kind, p.id()))
                .collect(),
            ignored: snapshot
                .ignored
                .iter()
                .map(|(kind, n)| format!("{kind}: {n}"))
                .collect(),
            warnings: snapshot.warnings.clone(),
        }
    }
}

/// One pipeline over a set of inputs: read, join to the snapshots, filter, and answer.
///
/// ```
/// use netflow_core::{Session, Snapshots, SnapshotSet, Snapshot, DeniedQuery};
///
/// let dir = tempfile::tempdir()?;
/// let log = dir.path().join("flows.json");
/// std::fs::write(&log, r#"{"flow":{"time":"2026-11-20T19:05:02Z","verdict":"DROPPED","IP":{"source":"10.244.1.15","destination":"10.244.2.10"},"l4":{"TCP":{"source_port":41234,"destination_port":9200}},"traffic_direction":"INGRESS","drop_reason_desc":"POLICY_DENIED","is_reply":false},"node_name":"node-b"}"#)?;
/// let cluster = r#"{"kind":"List","items":[
///   {"kind":"Pod","metadata":{"name":"es-0","namespace":"vamp"},"status":{"podIP":"10.244.2.10"}}]}"#;
/// let snapshots = SnapshotSet::new(vec![Snapshot::from_text(cluster, "cluster.json", None)?]);
///
/// let session = Session::new([log.display().to_string()]).with_snapshots(Snapshots::loaded(snapshots));
/// let denied = session.denied(&DeniedQuery::default())?;
/// assert_eq!(denied.connections.len(), 1);
/// assert_eq!(denied.connections[0].dst.identity.to_string(), "vamp/es-0");
/// assert_eq!(denied.summary.records(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Session {
    inputs: Vec<String>,
    /// The inputs' bytes, for a session over bytes in memory ([`Session::from_bytes`]); empty
    /// when the inputs are paths.
    in_memory: Vec<InputBytes>,
    options: ReadOptions,
    filter: FlowFilter,
    read_every_record: bool,
    names_from_log: bool,
    loading: Mutex<Option<Snapshots>>,
    /// The loaded snapshots; `None` when loading failed (the error is in `load_error` until
    /// it is returned once).
    snapshots: OnceLock<Option<SnapshotSet>>,
    load_error: Mutex<Option<Error>>,
    explainer: OnceLock<Option<Explainer>>,
}

impl Session {
    /// A session over `inputs` (paths, or `-` for standard input; none means standard input),
    /// with no snapshots and no filter.
    pub fn new<I, S>(inputs: I) -> Session
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut inputs: Vec<String> = inputs.into_iter().map(Into::into).collect();
        if inputs.is_empty() {
            inputs.push("-".to_string());
        }
        Session {
            inputs,
            in_memory: Vec::new(),
            options: ReadOptions::default(),
            filter: FlowFilter::default(),
            read_every_record: false,
            names_from_log: true,
            loading: Mutex::new(Some(Snapshots::none())),
            snapshots: OnceLock::new(),
            load_error: Mutex::new(None),
            explainer: OnceLock::new(),
        }
    }

    /// A session over inputs already read into memory (by an object-store client, a Spark
    /// task): each is read as the file it names would be, parts of files numbered from their
    /// own first line ([`InputBytes::starting_at_line`]); reports and messages name them by
    /// [`InputBytes::name`]. No inputs means nothing to read (not standard input).
    ///
    /// ```
    /// use netflow_core::input::InputBytes;
    /// use netflow_core::{DeniedQuery, Session};
    ///
    /// let line = br#"{"flow":{"verdict":"DROPPED","IP":{"source":"10.0.0.1","destination":"10.0.0.2"},"l4":{"TCP":{"source_port":41234,"destination_port":9200}},"drop_reason_desc":"POLICY_DENIED"}}"#;
    /// let mut bytes = b"not a record\n".to_vec();
    /// bytes.extend_from_slice(line);
    /// // The last two lines of a file, from its line 41.
    /// let session = Session::from_bytes([InputBytes::new("s3a://logs/node-a.json", bytes).starting_at_line(41)]);
    /// let denied = session.denied(&DeniedQuery::default())?;
    /// assert_eq!(denied.connections.len(), 1);
    /// let report = &denied.summary.reports[0];
    /// assert_eq!((report.input.as_str(), report.skips[0].line), ("s3a://logs/node-a.json", 41));
    /// # Ok::<(), netflow_core::Error>(())
    /// ```
    pub fn from_bytes(inputs: impl IntoIterator<Item = InputBytes>) -> Session {
        let in_memory: Vec<InputBytes> = inputs.into_iter().collect();
        let mut session = Session::new(["-"]);
        session.inputs = in_memory.iter().map(|i| i.name().to_string()).collect();
        session.in_memory = in_memory;
        session
    }

    /// Joins flows to these snapshots.
    pub fn with_snapshots(mut self, snapshots: Snapshots) -> Session {
        self.names_from_log = !snapshots.given();
        self.loading = Mutex::new(Some(snapshots));
        self
    }

    /// Hands on only the flows that pass `filter`.
    pub fn with_filter(mut self, filter: FlowFilter) -> Session {
        self.filter = filter;
        self
    }

    /// Reads every input as `format` instead of detecting it.
    pub fn with_format(mut self, format: Option<Format>) -> Session {
        self.options.format = format;
        self
    }

    /// Tells `progress` how many input bytes were read.
    pub fn with_progress(mut self, progress: Progress) -> Session {
        self.options.progress = Some(progress);
        self
    }

    /// Decodes every record in full (no byte pre-filter), so that every malformed record is
    /// found and reported — what a caller that fails on any skip needs.
    pub fn read_every_record(mut self, yes: bool) -> Session {
        self.read_every_record = yes;
        self
    }

    /// The inputs, as given.
    pub fn inputs(&self) -> &[String] {
        &self.inputs
    }

    /// The filter.
    pub fn filter(&self) -> &FlowFilter {
        &self.filter
    }

    /// The snapshots, waiting for them to finish loading. Why they could not be loaded is
    /// returned once; later calls say only that they could not.
    pub fn snapshots(&self) -> Result<&SnapshotSet> {
        let loaded = self.snapshots.get_or_init(|| {
            let load = self
                .loading
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            match load.map(Snapshots::wait) {
                Some(Ok(set)) => Some(set),
                Some(Err(e)) => {
                    *self
                        .load_error
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner) = Some(e);
                    None
                }
                None => None,
            }
        });
        loaded.as_ref().ok_or_else(|| {
            self.load_error
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take()
                .unwrap_or_else(|| Error::Snapshot {
                    path: PathBuf::new(),
                    detail: "the snapshots could not be loaded".into(),
                })
        })
    }

    fn snapshots_pending(&self) -> bool {
        self.snapshots.get().is_none()
            && self
                .loading
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .as_ref()
                .is_some_and(|load| !load.is_ready())
    }

    /// The explainer over the snapshots; `None` without snapshots (or before they loaded).
    pub fn explainer(&self) -> Option<&Explainer> {
        let set = self.snapshots.get()?.as_ref()?;
        self.explainer
            .get_or_init(|| (!set.is_empty()).then(|| Explainer::new(set)))
            .as_ref()
    }

    /// Reads every input and hands each flow, joined to the snapshot in force at its time and
    /// passing the filter, to `sink`, in input order. `sink` may stop the reading by returning
    /// an error, which is returned. An input that cannot be read is noted in the summary and
    /// the others are read; failing to load the snapshots is an error.
    pub fn for_each_flow<E: From<Error>>(
        &self,
        mut sink: impl FnMut(Flow) -> std::result::Result<(), E>,
    ) -> std::result::Result<ReadSummary, E> {
        let mut options = self.options.clone();
        if !self.read_every_record {
            options.needles = needles_for(&self.filter, self.names_from_log).map(Arc::new);
        }
        let mut summary = ReadSummary::default();
        let mut waiting: Vec<Flow> = Vec::new();
        let mut failure: Option<E> = None;
        let mut pass_on = |set: &SnapshotSet, mut flow: Flow, failure: &mut Option<E>| {
            set.enrich(&mut flow);
            if self.filter.matches(&flow) {
                if let Err(e) = sink(flow) {
                    *failure = Some(e);
                }
            }
        };
        for (i, name) in self.inputs.iter().enumerate() {
            let mut deliver = |flow: Flow| {
                if self.snapshots.get().is_none() {
                    if waiting.len() < MAX_WAITING_FLOWS && self.snapshots_pending() {
                        waiting.push(flow);
                        return ControlFlow::Continue(());
                    }
                    match self.snapshots() {
                        Ok(set) => {
                            for f in waiting.drain(..) {
                                pass_on(set, f, &mut failure);
                                if failure.is_some() {
                                    return ControlFlow::Break(());
                                }
                            }
                        }
                        Err(e) => {
                            failure = Some(e.into());
                            return ControlFlow::Break(());
                        }
                    }
                }
                if let Some(Some(set)) = self.snapshots.get() {
                    pass_on(set, flow, &mut failure);
                }
                if failure.is_some() {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            };
            let read = match self.in_memory.get(i) {
                Some(bytes) => read_bytes(bytes, &options, &mut deliver),
                None => read_input(name, &options, &mut deliver),
            };
            match read {
                Ok(report) => summary.reports.push(report),
                Err(e) => summary.failed.push((name.clone(), e)),
            }
            if failure.is_some() {
                break;
            }
        }
        if let Some(e) = failure {
            return Err(e);
        }
        let set = self.snapshots()?;
        for f in waiting.drain(..) {
            pass_on(set, f, &mut failure);
            if let Some(e) = failure.take() {
                return Err(e);
            }
        }
        Ok(summary)
    }

    /// The row of a flow read by this session, with what the snapshot says about its
    /// connection (`policy_verdict`, `mismatch`) when there are snapshots.
    pub fn row_of(&self, flow: &Flow) -> FlowRow {
        FlowRow::of(flow).with_why(self.why_of(flow).as_ref())
    }

    /// What the snapshot says about a flow's connection; `None` without snapshots. With
    /// [`crate::query::FlowCells::view`], the row of a flow without building a [`FlowRow`].
    pub fn why_of(&self, flow: &Flow) -> Option<Why> {
        self.explainer().and_then(|e| e.explain_flow(flow))
    }

    /// The denied connections: records that `query` counts as denials grouped by connection,
    /// with what the other end reported and, with snapshots, the WHY.
    pub fn denied(&self, query: &DeniedQuery) -> Result<Denied> {
        self.denied_with(query, |_| {})
    }

    /// Like [`Session::denied`], also calling `each` with every record counted as a denial
    /// (for a timeline, say).
    ///
    /// Records without a verdict (VPC Flow Logs) are no denials by themselves: with snapshots,
    /// the requests among them that the policies deny are listed as computed
    /// ([`DeniedQuery::policy_denials`]), and requests nobody answered as possibly denied
    /// ([`DeniedQuery::unanswered_within`]); a request both denied by the policies and
    /// unanswered is listed once, as computed.
    pub fn denied_with(&self, query: &DeniedQuery, each: impl FnMut(&Flow)) -> Result<Denied> {
        let (aggregator, summary, verdictless) = self.aggregate_denied(query, each)?;
        let mut connections = aggregator.finish();
        if let Some(explainer) = self.explainer() {
            for c in &mut connections {
                c.explain(explainer);
            }
        }
        Ok(Denied {
            connections,
            summary,
            verdictless,
        })
    }

    /// The denied connections of these inputs as one share of a larger reading (`order` is
    /// the share's place in input order), unexplained: what a worker of a distributed
    /// reading returns, to be merged with the other shares by [`crate::query::merge_partials`]
    /// and explained once per connection ([`DeniedConnection::explain`]). Merging every
    /// share gives what [`Session::denied`] gives over all the inputs, when no packet's
    /// reports are split between shares (Hubble pairs the reports of one packet within one
    /// input).
    ///
    /// With snapshots and [`DeniedQuery::policy_denials`], the requests without a verdict that
    /// the policies deny are groups of the share (computed here, as one reader does). With
    /// [`DeniedQuery::unanswered_within`], the share does not decide which requests went
    /// unanswered (the reply may be in another share): it returns what it saw of each
    /// 5-tuple in [`PartialDenied::unanswered`], for [`crate::query::unanswered_denials`].
    pub fn denied_partial(
        &self,
        query: &DeniedQuery,
        order: u64,
    ) -> Result<(PartialDenied, ReadSummary)> {
        let (aggregator, summary, _, detector) = self.read_denied(query, |_| {})?;
        let mut share = aggregator.finish_partial(order);
        if let Some(detector) = detector {
            share.unanswered = detector.into_parts(order);
        }
        Ok((share, summary))
    }

    /// Reads every input into a denied-connection aggregator; also says how many records
    /// carried no verdict.
    fn aggregate_denied(
        &self,
        query: &DeniedQuery,
        mut each: impl FnMut(&Flow),
    ) -> Result<(DeniedAggregator, ReadSummary, u64)> {
        let (mut aggregator, summary, verdictless, detector) =
            self.read_denied(query, &mut each)?;
        for flow in detector.map(UnansweredDetector::finish).unwrap_or_default() {
            let computed = query.policy_denials
                && self
                    .explainer()
                    .is_some_and(|e| e.policy_denial(&flow).is_some());
            if !computed {
                each(&flow);
                aggregator.add_as(&flow, DenialBasis::NoReply, None);
            }
        }
        Ok((aggregator, summary, verdictless))
    }

    /// Reads every input into a denied-connection aggregator, with the unanswered-request
    /// detector still to finish; also says how many records carried no verdict.
    #[allow(clippy::type_complexity)]
    fn read_denied(
        &self,
        query: &DeniedQuery,
        mut each: impl FnMut(&Flow),
    ) -> Result<(
        DeniedAggregator,
        ReadSummary,
        u64,
        Option<UnansweredDetector>,
    )> {
        let mut aggregator = DeniedAggregator::default();
        let mut unanswered = query.unanswered_within.map(UnansweredDetector::new);
        let mut verdictless = 0u64;
        let summary = self.for_each_flow(|flow| -> Result<()> {
            if query.counts(&flow) {
                each(&flow);
                aggregator.add(&flow);
                return Ok(());
            }
            if flow.action == Action::Unknown {
                verdictless += 1;
                let denial = self
                    .explainer()
                    // A record that proves a reply was not denied, whatever the policies say.
                    .filter(|_| {
                        query.policy_denials && !flow.reply_seen && looks_like_request(&flow)
                    })
                    .and_then(|e| e.policy_denial(&flow));
                if let Some((side, node)) = denial {
                    each(&flow);
                    aggregator.add_as(&flow, DenialBasis::Snapshot, Some((side, node.as_deref())));
                    return Ok(());
                }
            }
            aggregator.observe(&flow);
            if let Some(detector) = unanswered.as_mut() {
                detector.observe(&flow);
            }
            Ok(())
        })?;
        Ok((aggregator, summary, verdictless, unanswered))
    }

    /// Every observed connection — allowed, denied, dropped, and for records without a verdict
    /// answered or not — grouped like [`Session::denied`] (per reporting side and node; both
    /// ends' reports of a record without a verdict fold into one row) and classified against
    /// the snapshot in force at its last record ([`ReconciledConnection::classify`]). Replies
    /// are left out: conntrack passes them whatever the policies say. A request without a
    /// verdict counts as unanswered when no reply came within `reply_window`.
    ///
    /// Needs snapshots: without them every connection is `not_evaluated`.
    ///
    /// ```
    /// use netflow_core::query::{Agreement, CauseKind};
    /// use netflow_core::{Session, Snapshot, SnapshotSet, Snapshots};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let log = dir.path().join("flows.json");
    /// // Forwarded at the ingress of a pod a policy isolates, and the log denies nothing.
    /// std::fs::write(&log, r#"{"flow":{"time":"2026-11-20T19:05:02Z","verdict":"FORWARDED","IP":{"source":"10.244.1.15","destination":"10.244.2.10"},"l4":{"TCP":{"source_port":41234,"destination_port":9200}},"traffic_direction":"INGRESS","is_reply":false},"node_name":"node-b"}"#)?;
    /// let cluster = r#"{"kind":"List","items":[
    ///   {"kind":"Pod","metadata":{"name":"es-0","namespace":"vamp","labels":{"app":"es"}},"status":{"podIP":"10.244.2.10"}},
    ///   {"kind":"NetworkPolicy","metadata":{"name":"es-ingress","namespace":"vamp"},
    ///    "spec":{"podSelector":{"matchLabels":{"app":"es"}},"policyTypes":["Ingress"]}}]}"#;
    /// let snapshots = SnapshotSet::new(vec![Snapshot::from_text(cluster, "cluster.json", None)?]);
    ///
    /// let session = Session::new([log.display().to_string()])
    ///     .with_snapshots(Snapshots::loaded(snapshots));
    /// let result = session.reconcile(chrono::Duration::seconds(60))?;
    /// let c = &result.connections[0];
    /// assert_eq!(c.agreement, Agreement::LogAllowsPoliciesDeny);
    /// assert_eq!(c.causes[0].kind, CauseKind::NotEnforced);
    /// assert_eq!(result.mismatches(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn reconcile(&self, reply_window: Duration) -> Result<Reconciliation> {
        let mut aggregator = DeniedAggregator::default();
        let mut verdictless = UnansweredDetector::new(reply_window);
        let mut evidence = LogEvidence::default();
        let summary = self.for_each_flow(|flow| -> Result<()> {
            match flow.action {
                Action::Unknown => verdictless.observe(&flow),
                action => {
                    evidence.with_verdict += 1;
                    if action == Action::Denied {
                        evidence.denials += 1;
                    }
                    // A denied or dropped packet never opened anything to reply to; an allowed
                    // one counts only when it opens the connection.
                    if action != Action::Allowed || flow.is_request() {
                        aggregator.add(&flow);
                    } else {
                        aggregator.observe(&flow);
                    }
                }
            }
            Ok(())
        })?;
        verdictless.finish_each(|flow, answered| {
            let basis = if answered {
                DenialBasis::Log
            } else {
                DenialBasis::NoReply
            };
            aggregator.add_as(flow, basis, Some((Direction::Unknown, None)));
        });
        let explainer = self.explainer();
        let mut connections: Vec<ReconciledConnection> = aggregator
            .finish()
            .into_iter()
            .map(|mut c| {
                let snapshot = explainer.and_then(|e| {
                    c.explain(e);
                    e.engine_at(c.last_seen).map(|engine| engine.snapshot())
                });
                ReconciledConnection::classify(c, snapshot, evidence)
            })
            .collect();
        // Stable: within a class the aggregator's order (most attempts first) stays.
        connections.sort_by_key(|c| c.agreement);
        Ok(Reconciliation {
            connections,
            evidence,
            summary,
        })
    }

    /// Replays every recorded request against the snapshots with their NetworkPolicies
    /// changed by `edit`: the connections whose computed verdict changes (with `all`, every
    /// connection), each explained under the changed policies. Each record is evaluated
    /// against the snapshot in force at its time, before and after the change.
    ///
    /// ```
    /// use netflow_core::{DeniedQuery, FlowFilter, PolicyEdit, PolicyManifests, Session};
    /// use netflow_core::{Snapshot, SnapshotSet, Snapshots};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let log = dir.path().join("flows.json");
    /// std::fs::write(&log, r#"{"flow":{"time":"2026-11-20T19:05:02Z","verdict":"DROPPED","IP":{"source":"10.244.1.15","destination":"10.244.2.10"},"l4":{"TCP":{"source_port":41234,"destination_port":9200}},"traffic_direction":"INGRESS","drop_reason_desc":"POLICY_DENIED","is_reply":false},"node_name":"node-b"}"#)?;
    /// let cluster = r#"{"kind":"List","items":[
    ///   {"kind":"Pod","metadata":{"name":"agent","namespace":"ci","labels":{"app":"agent"}},"status":{"podIP":"10.244.1.15"}},
    ///   {"kind":"Pod","metadata":{"name":"es-0","namespace":"vamp","labels":{"app":"es"}},"status":{"podIP":"10.244.2.10"}},
    ///   {"kind":"NetworkPolicy","metadata":{"name":"es-in","namespace":"vamp"},
    ///    "spec":{"podSelector":{"matchLabels":{"app":"es"}},"policyTypes":["Ingress"]}}]}"#;
    /// let snapshots = || -> netflow_core::Result<Snapshots> {
    ///     Ok(Snapshots::loaded(SnapshotSet::new(vec![Snapshot::from_text(cluster, "c.json", None)?])))
    /// };
    /// let name = log.display().to_string();
    ///
    /// // The smallest change that admits the denied connection…
    /// let suggest = Session::new([name.clone()])
    ///     .with_snapshots(snapshots()?)
    ///     .suggest(&FlowFilter::default(), &DeniedQuery::default())?;
    /// let yaml = suggest.to_yaml()?;
    /// assert!(yaml.contains("# admits ci/agent → vamp/es-0:9200/TCP (1 attempt)"), "{yaml}");
    ///
    /// // …read back as manifests and replayed: exactly that connection flips.
    /// let mut fix = PolicyManifests::default();
    /// fix.add_text(&yaml, "fix.yaml".as_ref());
    /// let edit = PolicyEdit { replace: None, add: fix.policies };
    /// let replay = Session::new([name]).with_snapshots(snapshots()?).replay(&edit, false)?;
    /// assert_eq!((replay.counts.to_allow, replay.counts.to_deny), (1, 0));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn replay(&self, edit: &PolicyEdit, all: bool) -> Result<Replay> {
        let set = self.snapshots()?;
        let Some(before) = self.explainer() else {
            return Err(Error::Invalid {
                what: "replay",
                value: self.inputs.join(" "),
                detail: "recorded connections are replayed against a snapshot, and none was given"
                    .into(),
            });
        };
        let after = Explainer::new(&edit.apply(set));
        let mut aggregator = ReplayAggregator::new(before, &after, all);
        let summary = self.for_each_flow(|flow| -> Result<()> {
            aggregator.add(&flow);
            Ok(())
        })?;
        let (connections, counts) = aggregator.finish();
        Ok(Replay {
            connections,
            counts,
            summary,
        })
    }

    /// The smallest NetworkPolicy change that admits the denied connections `select` picks
    /// (those that `query` counts as denials) and, as far as selectors allow, nothing else
    /// recorded: every recorded request is replayed against the change to say what it admits.
    /// The session's own filter bounds what is recorded; `select` picks among it. With several
    /// snapshots, the change is made against the newest (the cluster it will be applied to)
    /// and every connection is evaluated against it.
    pub fn suggest(&self, select: &FlowFilter, query: &DeniedQuery) -> Result<Suggest> {
        let set = self.snapshots()?.clone();
        if set.is_empty() {
            return Err(Error::Invalid {
                what: "suggest",
                value: self.inputs.join(" "),
                detail: "a change is suggested from a snapshot's policies, and none was given"
                    .into(),
            });
        }
        let mut selected = DeniedAggregator::default();
        // One record per reporter of each distinct connection, counts summed: what the replay
        // after the suggestion needs, in the memory of the connections.
        let mut recorded: HashMap<(String, &'static str, &'static str, Option<String>), Flow> =
            HashMap::new();
        let summary = self.for_each_flow(|flow| -> Result<()> {
            if query.counts(&flow) {
                if select.matches(&flow) {
                    selected.add(&flow);
                }
            } else {
                selected.observe(&flow);
            }
            if ReplayAggregator::replays(&flow) {
                let key = (
                    crate::query::flow_pair_key(&flow),
                    flow.action.as_str(),
                    flow.direction.as_str(),
                    flow.node.clone(),
                );
                match recorded.get_mut(&key) {
                    Some(kept) => {
                        kept.count = kept.count.saturating_add(flow.count);
                        kept.time = kept.time.max(flow.time);
                    }
                    None => {
                        recorded.insert(key, flow);
                    }
                }
            }
            Ok(())
        })?;
        // A change is applied to the cluster as it is now: the newest snapshot is what it is
        // made against and checked on, for every recorded connection whatever its time.
        let current = set.newest_only();
        let before = Explainer::new(&current);
        let mut selected = selected.finish();
        let mut suggester = Suggester::new(&current.snapshots()[0]);
        let mut unfixable = Vec::new();
        let mut selected_texts = Vec::new();
        for c in &mut selected {
            c.explain(&before);
            let text = connection_text(c);
            selected_texts.push(text.clone());
            match c.why.as_ref().map(|w| (w.evaluation.as_ref(), &w.summary)) {
                Some((Some(evaluation), _)) => {
                    if let Err(reason) = suggester.admit(evaluation, &text) {
                        unfixable.push((text, reason));
                    }
                }
                Some((None, summary)) => unfixable.push((text, summary.clone())),
                None => unfixable.push((text, "not evaluated".to_string())),
            }
        }
        let mut suggestions = suggester.finish();
        suggestions.sort_by_key(Suggestion::id);
        let edit = PolicyEdit {
            replace: None,
            add: suggestions.iter().map(|s| s.policy.clone()).collect(),
        };
        let after = Explainer::new(&edit.apply(&current));
        let mut replay = ReplayAggregator::new(&before, &after, false);
        let mut kept: Vec<Flow> = recorded.into_values().collect();
        kept.sort_by_key(|f| f.time);
        for flow in &kept {
            replay.add(flow);
        }
        drop(kept);
        let (flips, _) = replay.finish();
        let mut policies: Vec<SuggestedPolicy> = suggestions
            .into_iter()
            .map(|suggestion| SuggestedPolicy {
                suggestion,
                admits: Vec::new(),
            })
            .collect();
        let mut also_admitted = Vec::new();
        for flip in flips.iter().filter(|f| f.change() == Change::ToAllow) {
            let text = connection_text(&flip.connection);
            let picked = selected_texts.contains(&text);
            if !picked && !also_admitted.contains(&text) {
                also_admitted.push(text.clone());
            }
            let attempts = flip.connection.count;
            let line = format!(
                "{text} ({attempts} attempt{}){}",
                if attempts == 1 { "" } else { "s" },
                if picked { "" } else { " (not selected)" }
            );
            let Some(evaluation) = flip
                .connection
                .why
                .as_ref()
                .and_then(|w| w.evaluation.as_ref())
            else {
                continue;
            };
            let mut sides = vec![&evaluation.egress, &evaluation.ingress];
            sides.extend(
                evaluation
                    .backends
                    .iter()
                    .flat_map(|b| [&b.egress, &b.ingress]),
            );
            for side in sides {
                let Some(rule) = &side.matched_rule else {
                    continue;
                };
                for p in &mut policies {
                    let added = p
                        .suggestion
                        .added_rules
                        .contains(&(side.direction, rule.rule));
                    if added && p.suggestion.id() == rule.policy && !p.admits.contains(&line) {
                        p.admits.push(line.clone());
                    }
                }
            }
        }
        Ok(Suggest {
            policies,
            selected,
            unfixable,
            flips,
            also_admitted,
            summary,
        })
    }

    /// The groups of a `top` query over the flows.
    pub fn top(&self, query: &TopQuery) -> Result<Top> {
        let (aggregator, flows, replies, summary) = self.count_top(query)?;
        Ok(Top {
            groups: aggregator.finish(),
            flows,
            replies_left_out: replies,
            summary,
        })
    }

    /// The `top` groups of these inputs as one share of a larger reading: every group
    /// (unranked), to be merged with the other shares' by [`TopAggregator::absorb`] (route
    /// the parts of a group to one place with [`PartialTopGroup::route`]) and ranked there.
    pub fn top_partial(&self, query: &TopQuery) -> Result<(Vec<PartialTopGroup>, ReadSummary)> {
        let (aggregator, _, _, summary) = self.count_top(query)?;
        Ok((aggregator.finish_partial(false), summary))
    }

    /// Counts every flow into a `top` aggregator; also says how many flows were counted and
    /// how many replies were left out.
    fn count_top(&self, query: &TopQuery) -> Result<(TopAggregator, u64, u64, ReadSummary)> {
        let mut aggregator = TopAggregator::new(query.clone());
        let (mut flows, mut replies) = (0u64, 0u64);
        let with_why = query.needs_policy_verdict();
        let summary = self.for_each_flow(|flow| -> Result<()> {
            if !query.includes_replies() && flow.is_reply == Some(true) {
                replies += 1;
                return Ok(());
            }
            flows += 1;
            let why = if with_why { self.why_of(&flow) } else { None };
            aggregator.push_flow(&flow, why.as_ref());
            Ok(())
        })?;
        Ok((aggregator, flows, replies, summary))
    }

    /// What each input is: its accounting ([`InputRow`]), with how many of its flows the log
    /// says were allowed, denied, dropped or gave no verdict for. Reads every flow; the filter
    /// still applies to what is counted in the verdict mix.
    pub fn inspect(&self) -> Result<(Vec<InputRow>, ReadSummary)> {
        let mut mix: HashMap<Arc<str>, [u64; 4]> = HashMap::new();
        let summary = self.for_each_flow(|flow| -> Result<()> {
            let slot = match flow.action {
                Action::Allowed => 0,
                Action::Denied => 1,
                Action::Dropped => 2,
                Action::Unknown => 3,
            };
            mix.entry(flow.origin.input.clone()).or_default()[slot] += 1;
            Ok(())
        })?;
        let rows = summary
            .reports
            .iter()
            .map(|r| InputRow::of(r, mix.get(r.input.as_str()).copied().unwrap_or_default()))
            .collect();
        Ok((rows, summary))
    }

    /// What each snapshot holds ([`SnapshotRow`]), oldest first; waits for them to load.
    pub fn describe_snapshots(&self) -> Result<Vec<SnapshotRow>> {
        Ok(self
            .snapshots()?
            .snapshots()
            .iter()
            .map(|s| SnapshotRow::of(s))
            .collect())
    }

    /// Checks every pair of the ends two [`Target`]s stand for (pods, a workload's pods or
    /// its pod template, a selector's pods, a Service, an address, a node) against the
    /// snapshot in force at `at` (the latest without it). Without `port`, a protocol with
    /// ports asks whether any port is allowed; ICMP and other protocols need none.
    pub fn check_targets(
        &self,
        from: &Target,
        to: &Target,
        port: Option<u16>,
        protocol: Protocol,
        at: Option<DateTime<Utc>>,
    ) -> Result<Checked> {
        self.snapshots()?;
        let Some(engine) = self.explainer().and_then(|e| e.engine_at(at)) else {
            return Err(Error::Invalid {
                what: "check",
                value: format!("{from} -> {to}"),
                detail: "a connection is checked against a snapshot, and none was given".into(),
            });
        };
        Ok(engine.check(from, to, port, protocol)?)
    }

    /// The pitfalls of the snapshots' NetworkPolicies, most severe first; a finding of
    /// several snapshots is given once, naming them. Reads no flow.
    pub fn lint_snapshots(&self) -> Result<Vec<Finding>> {
        let set = self.snapshots()?;
        if set.is_empty() {
            return Err(Error::Invalid {
                what: "lint",
                value: String::new(),
                detail: "pitfalls are found in a cluster snapshot, and none was given".into(),
            });
        }
        Ok(lint::merge(
            set.snapshots().iter().flat_map(|s| lint::lint(s)).collect(),
        ))
    }

    /// [`Session::lint_snapshots`], and what the flows of the inputs saw: denied DNS, denied
    /// connections to the API server, denied kubelet probes from the pod's node. The flows
    /// stream through; memory holds one group per rule and workload.
    pub fn lint(&self) -> Result<Lint> {
        let mut findings = self.lint_snapshots()?;
        let set = self.snapshots()?;
        let sources: Vec<&str> = set.snapshots().iter().map(|s| s.source.as_str()).collect();
        let mut observer = LintObserver::new(set);
        let summary = self.for_each_flow(|flow| -> Result<()> {
            observer.observe(&flow);
            Ok(())
        })?;
        for mut f in observer.finish() {
            f.snapshot = sources.join(", ");
            findings.push(f);
        }
        lint::sort(&mut findings);
        Ok(Lint { findings, summary })
    }

    /// Evaluates one connection, `from` → `to` on `port` over `protocol`, against the
    /// snapshot in force at `at` (the latest without it).
    pub fn check(
        &self,
        from: &Subject,
        to: &Subject,
        port: u16,
        protocol: Protocol,
        at: Option<DateTime<Utc>>,
    ) -> Result<Arc<Evaluation>> {
        self.snapshots()?;
        let Some(engine) = self.explainer().and_then(|e| e.engine_at(at)) else {
            return Err(Error::Invalid {
                what: "check",
                value: format!("{from} -> {to}"),
                detail: "a connection is checked against a snapshot, and none was given".into(),
            });
        };
        Ok(engine.evaluate_cached(from, to, port, protocol)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DENIED: &str = r#"{"flow":{"time":"2026-11-20T19:05:02Z","verdict":"DROPPED","IP":{"source":"10.244.1.15","destination":"10.244.2.10"},"l4":{"TCP":{"source_port":41234,"destination_port":9200}},"traffic_direction":"INGRESS","drop_reason_desc":"POLICY_DENIED","is_reply":false},"node_name":"node-b"}"#;

    fn log(lines: usize) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), format!("{DENIED}\n").repeat(lines)).unwrap();
        file
    }

    #[test]
    fn a_sink_error_stops_reading_and_is_returned() {
        let file = log(100);
        let session = Session::new([file.path().display().to_string()]);
        let mut seen = 0;
        let result = session.for_each_flow(|_| {
            seen += 1;
            if seen == 5 {
                Err(Error::Invalid {
                    what: "test",
                    value: String::new(),
                    detail: "enough".into(),
                })
            } else {
                Ok(())
            }
        });
        assert!(matches!(result, Err(Error::Invalid { what: "test", .. })));
        assert_eq!(seen, 5);
    }

    #[test]
    fn unreadable_inputs_are_noted_and_the_others_read() {
        let file = log(2);
        let session = Session::new([
            "/no/such/flows.json".to_string(),
            file.path().display().to_string(),
        ]);
        let denied = session.denied(&DeniedQuery::default()).unwrap();
        assert_eq!(denied.summary.failed.len(), 1);
        assert_eq!(denied.summary.records(), 2);
        assert_eq!(denied.attempts(), 2);
        assert_eq!(denied.summary.errors().count(), 1);
    }

    /// An input's accounting: records, flows, skipped, and the skipped records' lines.
    type Accounting = (u64, u64, u64, Vec<u64>);

    /// Every flow (debug text, origin included) and the reports' accounting of a session.
    fn read_all(session: &Session) -> (Vec<String>, Vec<Accounting>) {
        let mut flows = Vec::new();
        let summary = session
            .for_each_flow(|flow| -> Result<()> {
                flows.push(format!("{flow:?}"));
                Ok(())
            })
            .unwrap();
        let reports = summary
            .reports
            .iter()
            .map(|r| {
                let lines = r.skips.iter().map(|s| s.line).collect();
                (r.records, r.flows, r.skipped, lines)
            })
            .collect();
        (flows, reports)
    }

    #[test]
    fn inputs_in_memory_read_as_their_files_do() {
        let testdata = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/flows");
        let gzip = tempfile::NamedTempFile::new().unwrap();
        let incident = std::fs::read(testdata.join("hubble/incident.ndjson")).unwrap();
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut enc, &incident).unwrap();
        std::fs::write(gzip.path(), enc.finish().unwrap()).unwrap();
        let files = [
            testdata.join("hubble/incident.ndjson"),
            testdata.join("hubble/jq-pretty.json"),
            testdata.join("gke-vpc/gcloud-logging-read.json"),
            testdata.join("calico-node-flows/flows.txt"),
            gzip.path().to_path_buf(),
        ];
        for file in files {
            let name = file.display().to_string();
            let from_file = read_all(&Session::new([name.clone()]));
            let bytes = InputBytes::new(name.clone(), std::fs::read(&file).unwrap());
            let from_memory = read_all(&Session::from_bytes([bytes]));
            assert!(!from_file.0.is_empty(), "{name}");
            assert_eq!(from_file, from_memory, "{name}");
        }
    }

    #[test]
    fn a_file_read_in_parts_cut_at_line_starts_reads_as_the_whole() {
        let bad = "{\"flow\":{\"verdict\":\"DROPPED\",\"IP\":{\"source\":\"999.0.0.1\"}}}";
        let text: String = (0..40)
            .map(|i| {
                if i % 7 == 3 {
                    format!("{bad}\n")
                } else {
                    format!("{DENIED}\n")
                }
            })
            .collect();
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), &text).unwrap();
        let name = file.path().display().to_string();
        let (whole_flows, whole) = read_all(&Session::new([name.clone()]));
        for parts in [2, 3, 7, 40] {
            let lines: Vec<&str> = text.split_inclusive('\n').collect();
            let per = lines.len().div_ceil(parts);
            let inputs = lines.chunks(per).enumerate().map(|(i, chunk)| {
                InputBytes::new(name.clone(), chunk.concat().into_bytes())
                    .starting_at_line((i * per + 1) as u64)
            });
            let (flows, reports) = read_all(&Session::from_bytes(inputs));
            assert_eq!(flows, whole_flows, "{parts} parts");
            let skipped: Vec<u64> = reports.iter().flat_map(|r| r.3.clone()).collect();
            assert_eq!(skipped, whole[0].3, "{parts} parts");
            let records: u64 = reports.iter().map(|r| r.0).sum();
            assert_eq!(records, whole[0].0, "{parts} parts");
        }
    }

    #[test]
    fn a_part_of_a_file_is_read_as_lines_and_never_as_gzip() {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut enc, format!("{DENIED}\n").as_bytes()).unwrap();
        let gzip = enc.finish().unwrap();
        let part = InputBytes::new("gs://b/x.json", gzip.clone()).starting_at_line(10);
        let summary = Session::from_bytes([part])
            .for_each_flow(|_| Ok::<(), Error>(()))
            .unwrap();
        let (name, e) = &summary.failed[0];
        assert_eq!(name, "gs://b/x.json");
        assert!(e.to_string().contains("gzip"), "{e}");
        // As a whole file, the same bytes read.
        let whole = InputBytes::new("gs://b/x.json", gzip);
        let summary = Session::from_bytes([whole])
            .for_each_flow(|_| Ok::<(), Error>(()))
            .unwrap();
        assert_eq!((summary.failed.len(), summary.records()), (0, 1));
        // A part that opens with a broken record is still one record per line (as a whole
        // file, those lines would read as JSON values spanning lines).
        let text = format!("{{\"broken\": \n{DENIED}\n{DENIED}\n").into_bytes();
        let part = InputBytes::new("x", text).part_of_file();
        let mut lines = Vec::new();
        let summary = Session::from_bytes([part])
            .for_each_flow(|f| {
                lines.push(f.origin.line);
                Ok::<(), Error>(())
            })
            .unwrap();
        assert_eq!((summary.records(), summary.skipped()), (3, 1));
        assert_eq!(lines, [2, 3]);
    }

    #[test]
    fn snapshot_specs_take_an_optional_time() {
        let spec: SnapshotSpec = "c.json@2026-11-20T19:00:00Z".parse().unwrap();
        assert_eq!(spec.path, PathBuf::from("c.json"));
        assert_eq!(spec.taken_at, "2026-11-20T19:00:00Z".parse().ok());
        assert!("c.json@noon".parse::<SnapshotSpec>().is_err());
        assert_eq!("c.json".parse::<SnapshotSpec>().unwrap().taken_at, None);
    }

    #[test]
    fn flows_wait_for_snapshots_loading_in_the_background() {
        let dir = tempfile::tempdir().unwrap();
        let cluster = dir.path().join("cluster.json");
        std::fs::write(
            &cluster,
            r#"{"kind":"List","items":[{"kind":"Pod","metadata":{"name":"es-0","namespace":"vamp"},"status":{"podIP":"10.244.2.10"}}]}"#,
        )
        .unwrap();
        let file = log(3);
        let snapshots = Snapshots::load_in_background(vec![SnapshotSpec {
            path: cluster,
            taken_at: None,
        }])
        .unwrap();
        let session = Session::new([file.path().display().to_string()]).with_snapshots(snapshots);
        let mut names = Vec::new();
        session
            .for_each_flow(|flow| -> Result<()> {
                names.push(flow.dst.identity.to_string());
                Ok(())
            })
            .unwrap();
        assert_eq!(names, ["vamp/es-0"; 3]);
        assert!(Snapshots::load_in_background(vec![SnapshotSpec {
            path: dir.path().join("missing.json"),
            taken_at: None,
        }])
        .is_err());
    }
}
