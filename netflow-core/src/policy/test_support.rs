//! The cluster fixture and helpers shared by the engine's unit tests (`mod.rs`, `service.rs`,
//! `subject.rs`).

use super::{Engine, Evaluation, Subject};
use crate::cluster::Snapshot;
use crate::flow::Protocol;

/// Namespace `vamp`: es-0 and es-1 (app=es, container port 9200 named http; es-1 on node
/// n2), a hostNetwork agent on n1, a deny-all ingress policy except from app=kibana; pod
/// vamp/kibana-0 (app=kibana) on n2; node n1 (192.168.0.10) and n2 (192.168.0.11);
/// service es (selector app=es, port 80 → http), service legacy (no selector, one
/// EndpointSlice pointing at es-0, port 9200).
const CLUSTER: &str = r#"{"kind":"List","items":[
  {"kind":"Namespace","metadata":{"name":"vamp"}},
  {"kind":"Node","metadata":{"name":"n1"},
   "status":{"addresses":[{"type":"InternalIP","address":"192.168.0.10"}]}},
  {"kind":"Node","metadata":{"name":"n2"},
   "status":{"addresses":[{"type":"InternalIP","address":"192.168.0.11"}]}},
  {"kind":"Pod","metadata":{"name":"es-0","namespace":"vamp","labels":{"app":"es"}},
   "spec":{"nodeName":"n1","containers":[{"ports":[{"containerPort":9200,"name":"http"}]}]},
   "status":{"phase":"Running","podIP":"10.1.0.5"}},
  {"kind":"Pod","metadata":{"name":"es-1","namespace":"vamp","labels":{"app":"es"}},
   "spec":{"nodeName":"n2","containers":[{"ports":[{"containerPort":9201,"name":"http"}]}]},
   "status":{"phase":"Running","podIP":"10.1.1.5"}},
  {"kind":"Pod","metadata":{"name":"kibana-0","namespace":"vamp","labels":{"app":"kibana"}},
   "spec":{"nodeName":"n2"},"status":{"phase":"Running","podIP":"10.1.1.9"}},
  {"kind":"Pod","metadata":{"name":"agent","namespace":"vamp","labels":{"app":"agent"}},
   "spec":{"nodeName":"n1","hostNetwork":true},
   "status":{"phase":"Running","podIP":"192.168.0.10"}},
  {"kind":"Service","metadata":{"name":"es","namespace":"vamp"},
   "spec":{"clusterIP":"10.96.0.20","selector":{"app":"es"},
           "ports":[{"name":"web","port":80,"targetPort":"http"}]}},
  {"kind":"Service","metadata":{"name":"legacy","namespace":"vamp"},
   "spec":{"clusterIP":"10.96.0.21","ports":[{"port":9200}]}},
  {"kind":"EndpointSlice","metadata":{"name":"legacy-x","namespace":"vamp",
     "labels":{"kubernetes.io/service-name":"legacy"}},
   "endpoints":[{"addresses":["10.1.0.5"],
                 "targetRef":{"kind":"Pod","name":"es-0","namespace":"vamp"}}]},
  {"kind":"NetworkPolicy","metadata":{"name":"es-in","namespace":"vamp"},
   "spec":{"podSelector":{"matchLabels":{"app":"es"}},
           "ingress":[{"from":[{"podSelector":{"matchLabels":{"app":"kibana"}}}]}]}}]}"#;

pub(super) fn snapshot() -> Snapshot {
    Snapshot::from_text(CLUSTER, "cluster.json", None).unwrap()
}

pub(super) fn subject(text: &str) -> Subject {
    Subject::parse(text).unwrap()
}

pub(super) fn eval(engine: &Engine<'_>, src: &str, dst: &str, port: u16) -> Evaluation {
    engine
        .evaluate(&subject(src), &subject(dst), port, Protocol::Tcp)
        .unwrap()
}
