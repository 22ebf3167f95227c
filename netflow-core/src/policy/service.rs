//! Service translation: a Service destination becomes its backends (pods its selector matches
//! or, without a selector, the endpoints of its EndpointSlices), each on the pod port the
//! service port's `targetPort` gives, with a [`ServiceTranslation`] saying how, which backends
//! were excluded and why, and what went wrong when there is no backend.

use std::collections::BTreeSet;

use super::eval::named_port;
use super::resolve::{describe, holds_ip, End};
use super::target::owned_by_another_workload;
use super::verdict::{ExcludedBackend, ServiceTranslation};
use super::Engine;
use crate::cluster::model::{IntOrString, Service};
use crate::flow::Protocol;

/// A backend of a service with the pod port the service port translates to.
pub(super) struct Backend<'a> {
    pub(super) end: End<'a>,
    pub(super) port: u16,
    pub(super) port_name: Option<String>,
}

impl<'s> Engine<'s> {
    /// A service's backends for `port/protocol`, each with its pod port.
    pub(super) fn translate<'a>(
        &'a self,
        service: &'a Service,
        port: u16,
        protocol: Protocol,
    ) -> (ServiceTranslation, Vec<Backend<'a>>) {
        let snapshot = self.snapshot();
        let id = format!("{}/{}", service.namespace, service.name);
        let service_port = service
            .ports
            .iter()
            .find(|p| p.port == i64::from(port) && protocol_of(p.protocol.as_deref()) == protocol);
        let mut translation = ServiceTranslation {
            service: id.clone(),
            port,
            protocol,
            port_name: service_port.and_then(|p| p.name.clone()),
            target_port: service_port.and_then(|p| p.target_port.clone()),
            backends_from: if service.selector.is_some() {
                "selector"
            } else {
                "endpoint_slices"
            }
            .to_string(),
            excluded: Vec::new(),
            problem: None,
        };
        if !protocol.has_ports() {
            translation.problem = Some(format!(
                "service {id} forwards only its ports (TCP, UDP or SCTP): {protocol} sent to it \
                 never reaches a backend"
            ));
            return (translation, Vec::new());
        }
        let Some(service_port) = service_port else {
            let declared: Vec<String> = service
                .ports
                .iter()
                .map(|p| {
                    format!(
                        "{}/{}",
                        p.port,
                        p.protocol.as_deref().unwrap_or("TCP").to_ascii_uppercase()
                    )
                })
                .collect();
            let declared = if declared.is_empty() {
                "none".to_string()
            } else {
                declared.join(", ")
            };
            // Port 0 is what "any port" asks of a service without a port of the protocol.
            translation.problem = Some(if port == 0 {
                format!("service {id} has no {protocol} port (its ports: {declared})")
            } else {
                format!("service {id} has no port {port}/{protocol} (its ports: {declared})")
            });
            return (translation, Vec::new());
        };
        let protocol_text = protocol.to_string();
        let mut ends: Vec<End<'a>> = Vec::new();
        match &service.selector {
            Some(selector) => {
                for pod in &snapshot.pods {
                    if pod.namespace == service.namespace
                        && holds_ip(pod)
                        && selector.iter().all(|(k, v)| pod.labels.get(k) == Some(v))
                    {
                        ends.push(End::Pod { pod, ip: None });
                    }
                }
                if ends.is_empty() {
                    // Manifests without Pod objects: the pod templates of the workloads the
                    // selector matches stand in for their pods.
                    for w in snapshot.workloads() {
                        if w.namespace == service.namespace
                            && !owned_by_another_workload(snapshot, w)
                            && selector
                                .iter()
                                .all(|(k, v)| w.template.labels.get(k) == Some(v))
                        {
                            ends.push(End::Pod {
                                pod: &w.template,
                                ip: None,
                            });
                        }
                    }
                }
            }
            None => {
                let mut seen = BTreeSet::new();
                for slice in &snapshot.endpoint_slices {
                    if slice.namespace != service.namespace
                        || slice.service_name.as_deref() != Some(service.name.as_str())
                    {
                        continue;
                    }
                    for endpoint in &slice.endpoints {
                        let pod = endpoint
                            .pod
                            .as_ref()
                            .and_then(|(ns, name)| snapshot.pod(ns, name));
                        if let Some(pod) = pod {
                            if seen.insert(format!("pod {}/{}", pod.namespace, pod.name)) {
                                ends.push(End::Pod { pod, ip: None });
                            }
                            continue;
                        }
                        for ip in &endpoint.addresses {
                            if seen.insert(format!("ip {ip}")) {
                                match self.resolve_ip(*ip) {
                                    Ok(end @ (End::Pod { .. } | End::External { .. })) => {
                                        ends.push(end)
                                    }
                                    _ => ends.push(End::External { ip: *ip }),
                                }
                            }
                        }
                    }
                }
            }
        }
        let mut backends = Vec::new();
        for end in ends {
            let target = service_port.target_port.as_ref();
            let number = match target {
                None => Some(i64::from(port)),
                Some(IntOrString::Int(n)) => Some(*n),
                Some(IntOrString::String(s)) => s.trim().parse().ok(),
            };
            let resolved = match (number, target, end) {
                (Some(n), _, _) => u16::try_from(n)
                    .ok()
                    .filter(|n| *n > 0)
                    .map(|n| (n, None))
                    .ok_or_else(|| format!("targetPort {n} is not a port number")),
                (None, Some(IntOrString::String(name)), End::Pod { pod, .. }) => {
                    named_port(pod, name, &protocol_text)
                        .map(|n| (n, Some(name.clone())))
                        .ok_or_else(|| {
                            format!(
                                "does not declare a {protocol_text} container port named {name:?}"
                            )
                        })
                }
                (None, Some(IntOrString::String(name)), _) => Err(format!(
                    "is not a pod, so the named targetPort {name:?} cannot be resolved"
                )),
                (None, _, _) => Err("has no usable targetPort".to_string()),
            };
            match resolved {
                Ok((port, port_name)) => backends.push(Backend {
                    end,
                    port,
                    port_name,
                }),
                Err(reason) => translation.excluded.push(ExcludedBackend {
                    pod: describe(end),
                    reason,
                }),
            }
        }
        backends.sort_by_key(|b| describe(b.end));
        if backends.is_empty() {
            translation.problem = Some(if translation.excluded.is_empty() {
                match &service.selector {
                    Some(selector) => format!(
                        "service {id} has no backend: its selector {} matches no pod with an IP \
                         in namespace {}",
                        selector
                            .iter()
                            .map(|(k, v)| format!("{k}={v}"))
                            .collect::<Vec<_>>()
                            .join(","),
                        service.namespace
                    ),
                    None => format!(
                        "service {id} has no selector and no EndpointSlice endpoint in the \
                         snapshot"
                    ),
                }
            } else {
                format!("service {id} has no backend that can receive port {port}/{protocol}")
            });
        }
        (translation, backends)
    }
}

/// The protocol of a service port (TCP when absent).
fn protocol_of(text: Option<&str>) -> Protocol {
    text.and_then(Protocol::parse).unwrap_or(Protocol::Tcp)
}

#[cfg(test)]
mod tests {
    use crate::policy::test_support::{eval, snapshot};
    use crate::policy::{Engine, Exemption, Party, PolicyVerdict};

    #[test]
    fn a_service_is_translated_to_every_backend_on_its_target_port() {
        let s = snapshot();
        let engine = Engine::new(&s);
        let e = eval(&engine, "vamp/kibana-0", "svc/vamp/es", 80);
        assert_eq!(e.verdict, PolicyVerdict::Allow);
        let ports: Vec<(String, u16)> = e
            .backends
            .iter()
            .map(|b| (b.backend.to_string(), b.port))
            .collect();
        assert_eq!(
            ports,
            [
                ("vamp/es-0".to_string(), 9200),
                ("vamp/es-1".to_string(), 9201)
            ]
        );
        let text = e.to_string();
        assert!(
            text.contains("service port 80 → pod port 9200 (named port \"http\") on es-0"),
            "{text}"
        );
        let by_ip = eval(&engine, "vamp/kibana-0", "10.96.0.20", 80);
        assert!(matches!(by_ip.dst, Party::Service { ip: Some(_), .. }));
        assert_eq!(by_ip.backends.len(), 2);
    }

    #[test]
    fn a_service_is_allowed_only_when_every_backend_allows() {
        let s = snapshot();
        let engine = Engine::new(&s);
        let e = eval(&engine, "203.0.113.5", "svc/vamp/es", 80);
        assert_eq!(e.verdict, PolicyVerdict::Deny);
        assert!(e.backends.iter().all(|b| b.verdict == PolicyVerdict::Deny));
        let e = eval(&engine, "192.168.0.10", "svc/vamp/es", 80);
        assert_eq!(
            e.verdict,
            PolicyVerdict::Deny,
            "host traffic only to es-0 on n1"
        );
        assert_eq!(e.backends[0].verdict, PolicyVerdict::Allow);
        assert_eq!(e.backends[1].verdict, PolicyVerdict::Deny);
        assert_eq!(
            e.ingress.subject, "vamp/es-1",
            "the denying backend is shown"
        );
    }

    #[test]
    fn a_service_without_selector_uses_its_endpoint_slices() {
        let s = snapshot();
        let engine = Engine::new(&s);
        let e = eval(&engine, "vamp/kibana-0", "svc/vamp/legacy", 9200);
        assert_eq!(e.verdict, PolicyVerdict::Allow);
        let t = e.service.as_ref().unwrap();
        assert_eq!(t.backends_from, "endpoint_slices");
        assert_eq!(e.backends.len(), 1);
        assert_eq!(e.backends[0].port, 9200);
    }

    #[test]
    fn a_service_port_that_does_not_exist_is_said() {
        let s = snapshot();
        let engine = Engine::new(&s);
        let e = eval(&engine, "vamp/kibana-0", "svc/vamp/es", 9200);
        assert_eq!(e.verdict, PolicyVerdict::Deny);
        let problem = e.service.as_ref().unwrap().problem.as_deref().unwrap();
        assert_eq!(
            problem,
            "service vamp/es has no port 9200/TCP (its ports: 80/TCP)"
        );
        assert!(e.to_string().contains(problem));
        assert!(matches!(
            e.ingress.exemption,
            Some(Exemption::NoDestination)
        ));
    }
}
