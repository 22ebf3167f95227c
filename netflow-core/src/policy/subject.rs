//! A connection end as a caller names it: [`Subject`] (`namespace/pod`, an IP address or
//! `svc/namespace/name`), parsed from and printed back to that text form. Who the subject is in
//! a snapshot is decided in `resolve.rs`.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use super::PolicyError;

/// One end of a connection as a caller names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Subject {
    /// A pod by namespace and name.
    Pod {
        /// Namespace.
        namespace: String,
        /// Pod name.
        name: String,
    },
    /// An address: a pod's, a node's, a Service ClusterIP or one outside the cluster.
    Ip(IpAddr),
    /// A Service by namespace and name.
    Service {
        /// Namespace.
        namespace: String,
        /// Service name.
        name: String,
    },
    /// The pod template of a workload (for manifests without Pod objects): a pod with the
    /// template's labels and ports, and no address.
    Template {
        /// Namespace.
        namespace: String,
        /// `Deployment`, `StatefulSet`, `DaemonSet`, `ReplicaSet` or `Job`.
        kind: String,
        /// Workload name.
        name: String,
    },
}

impl Subject {
    /// Parses `namespace/pod`, an IP address, or `svc/namespace/name` (also
    /// `service/namespace/name`).
    pub fn parse(text: &str) -> Result<Subject, PolicyError> {
        let bad = |detail: &str| PolicyError::BadSubject {
            text: text.to_string(),
            detail: detail.to_string(),
        };
        let trimmed = text.trim();
        if let Ok(ip) = trimmed.parse::<IpAddr>() {
            return Ok(Subject::Ip(ip));
        }
        let parts: Vec<&str> = trimmed.split('/').collect();
        let valid = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
        };
        match parts.as_slice() {
            [kind, namespace, name] if matches!(*kind, "svc" | "service") => {
                if valid(namespace) && valid(name) {
                    Ok(Subject::Service {
                        namespace: namespace.to_string(),
                        name: name.to_string(),
                    })
                } else {
                    Err(bad("expected svc/<namespace>/<name> with non-empty names"))
                }
            }
            [namespace, name] if valid(namespace) && valid(name) => Ok(Subject::Pod {
                namespace: namespace.to_string(),
                name: name.to_string(),
            }),
            _ => Err(bad(
                "expected <namespace>/<pod>, an IP address or svc/<namespace>/<name>",
            )),
        }
    }
}

impl FromStr for Subject {
    type Err = PolicyError;

    fn from_str(s: &str) -> Result<Subject, PolicyError> {
        Subject::parse(s)
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Subject::Pod { namespace, name } => write!(f, "{namespace}/{name}"),
            Subject::Ip(ip) => write!(f, "{ip}"),
            Subject::Service { namespace, name } => write!(f, "svc/{namespace}/{name}"),
            Subject::Template {
                namespace,
                kind,
                name,
            } => write!(
                f,
                "{}/{namespace}/{name} (pod template)",
                kind.to_ascii_lowercase()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::test_support::subject;

    #[test]
    fn subjects_parse_as_pods_addresses_and_services() {
        assert_eq!(
            subject("vamp/es-0"),
            Subject::Pod {
                namespace: "vamp".into(),
                name: "es-0".into()
            }
        );
        assert_eq!(
            subject(" 10.0.0.1 "),
            Subject::Ip("10.0.0.1".parse().unwrap())
        );
        assert_eq!(subject("fd00::1"), Subject::Ip("fd00::1".parse().unwrap()));
        assert_eq!(
            subject("svc/vamp/es"),
            Subject::Service {
                namespace: "vamp".into(),
                name: "es".into()
            }
        );
        assert_eq!(subject("svc/vamp/es").to_string(), "svc/vamp/es");
        for bad in [
            "",
            "es-0",
            "a/b/c",
            "svc/vamp/",
            "vamp/",
            "10.0.0.300",
            "a b/c",
        ] {
            assert!(
                matches!(Subject::parse(bad), Err(PolicyError::BadSubject { .. })),
                "{bad:?}"
            );
        }
    }
}
