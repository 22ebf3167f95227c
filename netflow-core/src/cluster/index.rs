//! The IP index of a snapshot: which objects own an address, and which of them owned it at a
//! given time. Pod IPs are reused after pods die, so ownership is checked against the pod's
//! lifetime, and an address with several live owners is reported as ambiguous, never picked.

use std::collections::HashMap;
use std::net::IpAddr;

use chrono::{DateTime, Utc};

use super::model::{Node, Pod, Service};

/// An object that holds an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Owner {
    /// A pod (index into the snapshot's pods); never a `hostNetwork` pod.
    Pod(usize),
    /// A node (index into the snapshot's nodes).
    Node(usize),
    /// A Service ClusterIP (index into the snapshot's services).
    Service(usize),
}

/// Address → owners, built once per snapshot.
#[derive(Debug, Default, Clone)]
pub struct IpIndex {
    by_ip: HashMap<IpAddr, Vec<Owner>, foldhash::fast::FixedState>,
}

impl IpIndex {
    /// Indexes pod IPs (not of `hostNetwork` pods, which use their node's), node
    /// InternalIP/ExternalIP addresses and Service ClusterIPs.
    pub fn build(pods: &[Pod], nodes: &[Node], services: &[Service]) -> IpIndex {
        let mut by_ip: HashMap<IpAddr, Vec<Owner>, foldhash::fast::FixedState> = HashMap::default();
        let mut add = |ip: IpAddr, owner: Owner| {
            let owners = by_ip.entry(ip).or_default();
            if !owners.contains(&owner) {
                owners.push(owner);
            }
        };
        for (i, pod) in pods.iter().enumerate() {
            if !pod.host_network {
                pod.ips.iter().for_each(|ip| add(*ip, Owner::Pod(i)));
            }
        }
        for (i, node) in nodes.iter().enumerate() {
            node.internal_ips
                .iter()
                .chain(&node.external_ips)
                .for_each(|ip| add(*ip, Owner::Node(i)));
        }
        for (i, svc) in services.iter().enumerate() {
            svc.cluster_ips
                .iter()
                .for_each(|ip| add(*ip, Owner::Service(i)));
        }
        IpIndex { by_ip }
    }

    /// Every owner of `ip` the snapshot knows, whatever the time.
    pub fn owners(&self, ip: &IpAddr) -> &[Owner] {
        self.by_ip.get(ip).map_or(&[], Vec::as_slice)
    }

    /// Addresses held by more than one object.
    pub fn shared(&self) -> impl Iterator<Item = (&IpAddr, &[Owner])> {
        self.by_ip
            .iter()
            .filter(|(_, owners)| owners.len() > 1)
            .map(|(ip, owners)| (ip, owners.as_slice()))
    }

    /// The owners of `ip` at `time` (all of them when the time is unknown): a pod created after
    /// `time`, or that had stopped holding its IP before it, is not an owner.
    pub fn owners_at<'a>(
        &'a self,
        ip: &IpAddr,
        time: Option<DateTime<Utc>>,
        pods: &'a [Pod],
        nodes: &'a [Node],
        services: &'a [Service],
    ) -> impl Iterator<Item = Owner> + 'a {
        let existed = move |created: Option<DateTime<Utc>>| {
            created.is_none_or(|c| time.is_none_or(|t| c <= t))
        };
        self.owners(ip)
            .iter()
            .copied()
            .filter(move |owner| match *owner {
                Owner::Pod(i) => {
                    let pod = &pods[i];
                    existed(pod.created)
                        && pod.ended.is_none_or(|end| time.is_none_or(|t| t <= end))
                }
                Owner::Node(i) => existed(nodes[i].created),
                Owner::Service(i) => existed(services[i].created),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn a_reused_pod_ip_belongs_to_the_pod_alive_at_the_time() {
        let ip: IpAddr = "10.0.0.5".parse().unwrap();
        let old = Pod {
            name: "old".into(),
            ips: vec![ip],
            created: Some(at("2026-11-20T10:00:00Z")),
            ended: Some(at("2026-11-20T12:00:00Z")),
            ..Default::default()
        };
        let new = Pod {
            name: "new".into(),
            ips: vec![ip],
            created: Some(at("2026-11-20T13:00:00Z")),
            ..Default::default()
        };
        let pods = vec![old, new];
        let index = IpIndex::build(&pods, &[], &[]);
        let owners = |t: &str| {
            index
                .owners_at(&ip, Some(at(t)), &pods, &[], &[])
                .collect::<Vec<_>>()
        };
        assert_eq!(owners("2026-11-20T11:00:00Z"), vec![Owner::Pod(0)]);
        assert_eq!(owners("2026-11-20T12:30:00Z"), Vec::<Owner>::new());
        assert_eq!(owners("2026-11-20T14:00:00Z"), vec![Owner::Pod(1)]);
        assert_eq!(index.owners_at(&ip, None, &pods, &[], &[]).count(), 2);
    }

    #[test]
    fn host_network_pods_do_not_own_their_node_ip() {
        let ip: IpAddr = "192.168.1.10".parse().unwrap();
        let pods = vec![Pod {
            name: "kube-proxy".into(),
            host_network: true,
            ips: vec![ip],
            ..Default::default()
        }];
        let nodes = vec![Node {
            name: "n1".into(),
            internal_ips: vec![ip],
            ..Default::default()
        }];
        let index = IpIndex::build(&pods, &nodes, &[]);
        assert_eq!(index.owners(&ip), &[Owner::Node(0)]);
    }
}
