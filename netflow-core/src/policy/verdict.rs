//! What a NetworkPolicy evaluation found, as plain data: the verdict of a connection, the
//! verdict of each direction (the source's egress, the destination's ingress), the policies that
//! select each end, the rule that allowed it or, for a denial, every rule of every isolating
//! policy with the peer clause or port that missed.
//!
//! Everything here is `Serialize` (the JSON contract: rule indices and peer indices are 0-based,
//! snake_case tags); the text rendering lives in `explain.rs`, the logic in `eval.rs`, `resolve.rs`,
//! `service.rs` and `mod.rs`. Nothing here computes a verdict.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::Serialize;

use crate::cluster::model::IntOrString;
use crate::flow::Protocol;

/// The verdict for a whole connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyVerdict {
    /// Both the source's egress and the destination's ingress allow it (or do not apply).
    Allow,
    /// One direction denies it, or it has nowhere to go (a service without a matching port or
    /// backend).
    Deny,
}

impl PolicyVerdict {
    /// The JSON spelling: `allow` or `deny`.
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyVerdict::Allow => "allow",
            PolicyVerdict::Deny => "deny",
        }
    }
}

/// The verdict of one direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SideVerdict {
    /// The end is not isolated in this direction, or a rule allows the connection.
    Allow,
    /// The end is isolated and no rule of any isolating policy allows the connection.
    Deny,
    /// NetworkPolicy does not govern this end in this direction (an address outside the
    /// snapshot's pods, a node, host traffic).
    NotApplicable,
}

/// A NetworkPolicy type, which is also the direction it governs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum PolicyType {
    /// Traffic into the selected pods (`from` rules).
    Ingress,
    /// Traffic out of the selected pods (`to` rules).
    Egress,
}

impl PolicyType {
    /// `Ingress` or `Egress`, as Kubernetes spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyType::Ingress => "Ingress",
            PolicyType::Egress => "Egress",
        }
    }

    /// The lowercase field name of the policy spec (`ingress` or `egress`).
    pub fn field(self) -> &'static str {
        match self {
            PolicyType::Ingress => "ingress",
            PolicyType::Egress => "egress",
        }
    }

    /// The field holding a rule's peers (`from` or `to`).
    pub fn peers_field(self) -> &'static str {
        match self {
            PolicyType::Ingress => "from",
            PolicyType::Egress => "to",
        }
    }
}

/// One end of the connection, as the engine understood it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Party {
    /// A pod of the snapshot.
    Pod {
        /// Namespace.
        namespace: String,
        /// Pod name.
        name: String,
        /// The address used (the one given, else the pod's first IP).
        ip: Option<IpAddr>,
        /// Whether the pod uses its node's network (then NetworkPolicy does not select it).
        host_network: bool,
    },
    /// A Service, translated to its backends.
    Service {
        /// Namespace.
        namespace: String,
        /// Service name.
        name: String,
        /// The ClusterIP used, when the destination was given as an address.
        ip: Option<IpAddr>,
    },
    /// A node's own address.
    Node {
        /// Node name.
        name: String,
        /// The address used.
        ip: IpAddr,
    },
    /// An address that is not a pod, node or service of the snapshot.
    External {
        /// The address.
        ip: IpAddr,
    },
}

/// The evaluation of one connection `src → dst:port/protocol`.
///
/// When the destination is a Service, `egress` and `ingress` are those of one backend (the
/// first that denies, else the first) and `backends` holds every backend's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evaluation {
    /// Overall verdict.
    pub verdict: PolicyVerdict,
    /// The source.
    pub src: Party,
    /// The destination as given (a pod, service, node or address).
    pub dst: Party,
    /// Destination port as given (the service port for a service); `None` for a protocol
    /// without ports (ICMP, ICMPv6, any other protocol number).
    pub port: Option<u16>,
    /// Protocol.
    pub protocol: Protocol,
    /// The source's egress.
    pub egress: SideResult,
    /// The destination's ingress.
    pub ingress: SideResult,
    /// How a Service destination was translated to pods, when it was one.
    pub service: Option<ServiceTranslation>,
    /// Set when the connection is host traffic, which NetworkPolicy does not govern.
    pub host_traffic: Option<HostTraffic>,
    /// Every backend's result when the destination is a Service (empty otherwise).
    pub backends: Vec<BackendEvaluation>,
    /// Policies of kinds flowq does not evaluate (Cilium, Calico, AdminNetworkPolicy, …) that
    /// select or may select an end in the direction they govern: the verdict may differ.
    pub also_subject_to: Vec<AlsoSubjectTo>,
}

/// A policy flowq does not evaluate that applies, or may apply, to one end of a connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlsoSubjectTo {
    /// Its kind, as messages name it (`CiliumNetworkPolicy`, `Calico GlobalNetworkPolicy`).
    pub kind: String,
    /// `namespace/name`, or the name of a cluster-wide policy.
    pub policy: String,
    /// `namespace/name` of the pod it applies to.
    pub pod: String,
    /// The direction of that pod it governs (egress of the source, ingress of the
    /// destination).
    pub direction: PolicyType,
    /// `true` when its subject selects the pod; `false` when it may (see `because`).
    pub selects: bool,
    /// Why it may select the pod, when that cannot be decided from the snapshot.
    pub because: Option<String>,
    /// The sentence shown to users: "also subject to <kind> <policy> (…), which flowq does
    /// not evaluate: the verdict may differ".
    pub note: String,
}

/// Host traffic: from the node a destination pod runs on (kubelet probes, hostNetwork pods).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostTraffic {
    /// The node.
    pub node: String,
    /// Always "host traffic, not subject to NetworkPolicy".
    pub reason: String,
}

/// Why a direction is exempt from NetworkPolicy, or not isolated whatever the policies say.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Exemption {
    /// The end is an address outside the snapshot's pods.
    External {
        /// The address.
        ip: IpAddr,
    },
    /// The end is a node's own address.
    Node {
        /// Node name.
        name: String,
    },
    /// The end is a `hostNetwork` pod, which NetworkPolicy does not select.
    HostNetwork {
        /// `namespace/name` of the pod.
        pod: String,
    },
    /// The connection comes from the destination pod's own node.
    HostTraffic {
        /// Node name.
        node: String,
    },
    /// There was no backend to evaluate (see the service translation).
    NoDestination,
}

/// The verdict of one direction with its explanation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SideResult {
    /// Which direction.
    pub direction: PolicyType,
    /// The end whose policies were consulted (the source for egress, the destination for
    /// ingress), as text.
    pub subject: String,
    /// The verdict.
    pub verdict: SideVerdict,
    /// Whether some policy isolates the end in this direction.
    pub isolated: bool,
    /// Why NetworkPolicy does not govern this end, when it does not.
    pub exemption: Option<Exemption>,
    /// Every policy selecting the end (whatever its types), sorted by name.
    pub policies: Vec<SelectingPolicy>,
    /// The rule that allowed the connection, when one did.
    pub matched_rule: Option<RuleRef>,
    /// For a denial: every isolating policy, with each rule and why it did not match.
    pub reasons: Vec<PolicyMiss>,
    /// Remarks that do not change the verdict but qualify it (an ipBlock matching a pod IP, a
    /// namespace whose labels are unknown, a hostNetwork peer).
    pub notes: Vec<String>,
}

/// A policy that selects the end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SelectingPolicy {
    /// `namespace/name`.
    pub policy: String,
    /// Its effective policy types.
    pub types: Vec<PolicyType>,
    /// Whether the types were defaulted (no `policyTypes` field).
    pub types_defaulted: bool,
}

/// A rule of a policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleRef {
    /// `namespace/name` of the policy.
    pub policy: String,
    /// 0-based index of the rule in the policy's `ingress` or `egress` list.
    pub rule: usize,
    /// 0-based index of the peer (`from`/`to` entry) that matched; `None` when the rule has no
    /// peers (it allows every peer).
    pub peer: Option<usize>,
}

/// Why an isolating policy allowed nothing for the connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyMiss {
    /// `namespace/name` of the policy.
    pub policy: String,
    /// Set when the policy has no rule for this direction at all.
    pub no_rules: Option<NoRules>,
    /// Each rule, in order, with what missed.
    pub rules: Vec<RuleMiss>,
}

/// How a policy has no rules for a direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NoRules {
    /// The `ingress`/`egress` field is absent.
    Absent,
    /// The field is an empty list.
    Empty,
}

/// Why one rule did not match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleMiss {
    /// 0-based rule index.
    pub rule: usize,
    /// Every peer of the rule that missed, with why (empty when the peers matched).
    pub peers: Vec<PeerMiss>,
    /// Why the ports missed (`None` when they matched).
    pub ports: Option<PortMiss>,
}

/// Why one peer (`from`/`to` entry) of a rule did not match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PeerMiss {
    /// 0-based index of the peer in the rule.
    pub peer: usize,
    /// Each clause of the peer that failed.
    pub reasons: Vec<PeerReason>,
}

/// A clause of a peer that failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PeerReason {
    /// The pod's labels fail the peer's podSelector.
    PodLabels {
        /// `namespace/name` of the pod.
        pod: String,
        /// The pod's labels.
        labels: BTreeMap<String, String>,
        /// The parts of the selector that failed.
        unmet: Vec<String>,
    },
    /// A podSelector without namespaceSelector only selects pods of the policy's namespace.
    PodNamespace {
        /// `namespace/name` of the pod.
        pod: String,
        /// The policy's namespace.
        policy_namespace: String,
    },
    /// The pod's namespace fails the peer's namespaceSelector.
    NamespaceLabels {
        /// The namespace.
        namespace: String,
        /// The parts of the selector that failed.
        unmet: Vec<String>,
        /// `false` when the snapshot lacks the Namespace object and the selector uses labels
        /// other than `kubernetes.io/metadata.name` (the only one known then): the decision
        /// rests on labels nobody knows.
        labels_known: bool,
    },
    /// Pod and namespace selectors only match pods; the peer is not one.
    NotAPod {
        /// What the peer is, as text.
        peer: String,
    },
    /// The peer's address is outside the ipBlock.
    IpBlockOutside {
        /// The block (host bits cleared).
        cidr: String,
        /// The peer's addresses (empty when it has none).
        ips: Vec<IpAddr>,
    },
    /// The peer's address is in an `except` of the ipBlock.
    IpBlockExcept {
        /// The block (host bits cleared).
        cidr: String,
        /// The exception that holds the address.
        except: String,
        /// The address.
        ip: IpAddr,
    },
    /// The peer is not valid (the API server would have rejected it).
    Invalid {
        /// What is wrong with it.
        detail: String,
    },
}

/// Why the ports of a rule missed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PortMiss {
    /// Destination port of the connection (the pod port); `None` for a protocol without ports,
    /// which a rule with ports never matches.
    pub port: Option<u16>,
    /// Protocol of the connection.
    pub protocol: Protocol,
    /// The rule's port entries, as text (`TCP/80`, `TCP/8000-8080`, `UDP/any`, `TCP/http`).
    pub allowed: Vec<String>,
    /// How each named port of the rule resolved.
    pub named: Vec<NamedPortMiss>,
}

/// A named port of a rule that did not give the connection's port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NamedPortMiss {
    /// The port name.
    pub name: String,
    /// The protocol of the entry.
    pub protocol: String,
    /// `namespace/name` of the destination pod it was resolved against (`None`: the
    /// destination is not a pod).
    pub pod: Option<String>,
    /// The port number it names there, when declared.
    pub resolved: Option<u16>,
}

/// How a Service destination was translated to pods.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceTranslation {
    /// `namespace/name` of the service.
    pub service: String,
    /// The service port.
    pub port: u16,
    /// The protocol.
    pub protocol: Protocol,
    /// Name of the service port, when it has one.
    pub port_name: Option<String>,
    /// `targetPort` as written (absent: same as `port`).
    pub target_port: Option<IntOrString>,
    /// Where the backends came from: `selector` or `endpoint_slices`.
    pub backends_from: String,
    /// Backends that cannot receive the connection, with why.
    pub excluded: Vec<ExcludedBackend>,
    /// Why nothing could be evaluated (no such service port, no backend).
    pub problem: Option<String>,
}

/// A backend that cannot receive the connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExcludedBackend {
    /// `namespace/name` of the pod.
    pub pod: String,
    /// Why.
    pub reason: String,
}

/// The result for one backend of a Service.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BackendEvaluation {
    /// The backend.
    pub backend: Party,
    /// The pod port the service port translates to.
    pub port: u16,
    /// The container port name `targetPort` named, when it named one.
    pub port_name: Option<String>,
    /// PolicyVerdict for this backend.
    pub verdict: PolicyVerdict,
    /// The source's egress towards this backend.
    pub egress: SideResult,
    /// This backend's ingress.
    pub ingress: SideResult,
    /// Set when the connection to this backend is host traffic.
    pub host_traffic: Option<HostTraffic>,
}
