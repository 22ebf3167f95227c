//! The closed registry of input formats: every format flowq reads, its command-line name and
//! what it is. Decoding lives in `ingest`; this is the part every layer may name.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The input formats flowq reads. Adding one is a decoder file in `ingest`, a variant here and
/// an arm in each `match` of this file and of `ingest/mod.rs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Format {
    /// Cilium Hubble flows: `hubble observe -o json|jsonpb`, exporter files, bare legacy flows.
    Hubble,
    /// Calico Enterprise / Calico Cloud flow logs (Felix `flows.log`, Linseed, Elasticsearch).
    Calico,
    /// Calico Open Source 3.30+ Goldmane / Whisker flows (protojson, emitter NDJSON, REST, SSE).
    Goldmane,
    /// Google Cloud VPC Flow Logs with GKE metadata (sampled observations, no verdict).
    GkeVpc,
    /// GKE Dataplane V2 network policy logs (`policy-action`).
    GkePolicyAction,
    /// kube-network-policies packet logs (kind's NetworkPolicy enforcer): klog JSON or text.
    KubeNetworkPolicies,
    /// The Amazon EKS network policy agent's flow lines (`network-policy-agent.log`,
    /// CloudWatch).
    AwsNetworkPolicyAgent,
    /// OVN ACL audit lines (OVN-Kubernetes / OpenShift `acl-audit-log.log`, Kube-OVN).
    OvnKubernetesAcl,
    /// Antrea's NetworkPolicy audit log (`np.log`).
    AntreaNpLog,
    /// The text `calico-node -flows` prints (Calico OSS Goldmane flows, several lines each).
    CalicoNodeFlows,
}

impl Format {
    /// Every supported format, in the order detection tries them.
    pub const ALL: &'static [Format] = &[
        Format::Hubble,
        Format::Calico,
        Format::Goldmane,
        Format::GkeVpc,
        Format::GkePolicyAction,
        Format::KubeNetworkPolicies,
        Format::AwsNetworkPolicyAgent,
        Format::OvnKubernetesAcl,
        Format::AntreaNpLog,
        Format::CalicoNodeFlows,
    ];

    /// The format's name (`hubble`, `gke-vpc`, …), as accepted by [`FromStr`] and written in
    /// JSON output.
    pub fn name(self) -> &'static str {
        match self {
            Format::Hubble => "hubble",
            Format::Calico => "calico",
            Format::Goldmane => "goldmane",
            Format::GkeVpc => "gke-vpc",
            Format::GkePolicyAction => "gke-policy-action",
            Format::KubeNetworkPolicies => "kube-network-policies",
            Format::AwsNetworkPolicyAgent => "aws-network-policy-agent",
            Format::OvnKubernetesAcl => "ovn-kubernetes-acl",
            Format::AntreaNpLog => "antrea-np-log",
            Format::CalicoNodeFlows => "calico-node-flows",
        }
    }

    /// One line saying what the format is and where it comes from.
    pub fn description(self) -> &'static str {
        match self {
            Format::Hubble => {
                "Cilium Hubble flows: `hubble observe -o json/jsonpb` lines, exporter files \
                 (events.log), bare legacy-JSON flows"
            }
            Format::Calico => {
                "Calico Enterprise/Cloud flow logs: Felix flows.log lines, Linseed lists, \
                 Elasticsearch hits (aggregated)"
            }
            Format::Goldmane => {
                "Calico OSS Goldmane/Whisker flows: gRPC protojson, emitter NDJSON, Whisker \
                 REST lists and SSE streams (aggregated, no IPs)"
            }
            Format::GkeVpc => {
                "Google Cloud VPC Flow Logs with GKE metadata: LogEntry NDJSON or gcloud JSON \
                 arrays (sampled, no verdict)"
            }
            Format::GkePolicyAction => {
                "GKE Dataplane V2 network policy logs (policy-action): node files or Cloud \
                 Logging entries"
            }
            Format::KubeNetworkPolicies => {
                "kube-network-policies packet logs (kind's enforcer, -v=2): evaluation and \
                 verdict records joined by packet id, klog JSON or text"
            }
            Format::AwsNetworkPolicyAgent => {
                "Amazon EKS network policy agent flow lines: network-policy-agent.log (JSON or \
                 Flow Info messages) and CloudWatch messages or exports (addresses only)"
            }
            Format::OvnKubernetesAcl => {
                "OVN ACL audit lines (OVN-Kubernetes, OpenShift acl-audit-log.log, Kube-OVN): \
                 the ACL name says the policy, addresses only"
            }
            Format::AntreaNpLog => {
                "Antrea NetworkPolicy audit log (np.log), every layout v0.11 on: policy, rule, \
                 action, direction, the local pod"
            }
            Format::CalicoNodeFlows => {
                "calico-node -flows text (Calico OSS): one record per `- Time=` line and the \
                 indented lines after it, with Enforced/Pending policy hits (aggregated, no IPs)"
            }
        }
    }

    /// Looks a format up by its name, ignoring case.
    pub fn from_name(name: &str) -> Option<Format> {
        Format::ALL
            .iter()
            .copied()
            .find(|f| f.name().eq_ignore_ascii_case(name.trim()))
    }

    /// The names of every format, joined with `, ` (for messages listing the choices).
    pub fn names() -> String {
        Format::ALL
            .iter()
            .map(|f| f.name())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not one of [`Format::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown format {0:?}; known formats: {names}", names = Format::names())]
pub struct UnknownFormatName(pub String);

impl FromStr for Format {
    type Err = UnknownFormatName;

    fn from_str(s: &str) -> Result<Format, UnknownFormatName> {
        Format::from_name(s).ok_or_else(|| UnknownFormatName(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_format_parses_back_from_its_name() {
        for f in Format::ALL {
            assert_eq!(f.name().parse::<Format>(), Ok(*f));
            assert_eq!(f.name().to_uppercase().parse::<Format>(), Ok(*f));
        }
        let err = "netflow".parse::<Format>().unwrap_err().to_string();
        assert!(err.contains("gke-policy-action"), "{err}");
    }
}
