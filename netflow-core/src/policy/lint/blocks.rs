//! ipBlocks meant for the outside that cover the cluster: a block containing pod CIDRs, node
//! addresses or pod addresses also matches traffic of those pods and nodes wherever the plugin
//! matches ipBlocks against cluster addresses (`0.0.0.0/0` "for the internet" allows every pod
//! too). Parts removed by `except` do not count.

use std::net::IpAddr;

use ipnet::IpNet;

use super::{Cluster, Finding, ObjectRef, Rule, Severity};
use crate::cluster::model::NetworkPolicy;
use crate::policy::eval::rules_of;
use crate::policy::verdict::PolicyType;

pub(super) fn check(cluster: &Cluster<'_>, out: &mut Vec<Finding>) {
    for policy in &cluster.snapshot.policies {
        for direction in [PolicyType::Ingress, PolicyType::Egress] {
            for (r, rule) in rules_of(&policy.spec, direction)
                .into_iter()
                .flatten()
                .enumerate()
            {
                for (p, peer) in rule.peers.iter().flatten().enumerate() {
                    let Some(Ok((block, except))) = peer.ip_block.as_ref().map(|b| b.networks())
                    else {
                        continue;
                    };
                    let at = format!(
                        "{} rule {} {}[{p}]",
                        direction.field(),
                        r + 1,
                        direction.peers_field()
                    );
                    covered(cluster, policy, &at, block, &except, out);
                }
            }
        }
    }
}

fn overlaps(a: &IpNet, b: &IpNet) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

fn excepted(except: &[IpNet], net: &IpNet) -> bool {
    except.iter().any(|e| e.contains(net))
}

fn excepted_ip(except: &[IpNet], ip: &IpAddr) -> bool {
    except.iter().any(|e| e.contains(ip))
}

fn covered(
    cluster: &Cluster<'_>,
    policy: &NetworkPolicy,
    at: &str,
    block: IpNet,
    except: &[IpNet],
    out: &mut Vec<Finding>,
) {
    let snapshot = cluster.snapshot;
    let cidrs: Vec<IpNet> = snapshot
        .pod_cidrs
        .iter()
        .filter(|c| overlaps(&block, c) && !excepted(except, c))
        .copied()
        .collect();
    let nodes: Vec<String> = snapshot
        .nodes
        .iter()
        .filter(|n| {
            n.internal_ips
                .iter()
                .any(|ip| block.contains(ip) && !excepted_ip(except, ip))
        })
        .map(|n| n.name.clone())
        .collect();
    // Without podCIDRs on the nodes (cluster-pool IPAM, cloud VPC ranges), the pods' own
    // addresses say where the pod network is.
    let pods: Vec<String> = if snapshot.pod_cidrs.is_empty() {
        cluster
            .pods
            .iter()
            .filter(|p| !p.host_network)
            .filter(|p| {
                p.ips
                    .iter()
                    .any(|ip| block.contains(ip) && !excepted_ip(except, ip))
            })
            .map(|p| format!("{}/{}", p.namespace, p.name))
            .collect()
    } else {
        Vec::new()
    };
    if cidrs.is_empty() && nodes.is_empty() && pods.is_empty() {
        return;
    }
    let mut what = Vec::new();
    if !cidrs.is_empty() {
        what.push(format!(
            "pod CIDR{} {}",
            if cidrs.len() == 1 { "" } else { "s" },
            super::list(cidrs.iter().map(|c| c.to_string()), 3)
        ));
    }
    if !pods.is_empty() {
        what.push(format!(
            "the addresses of {} ({})",
            super::count(pods.len(), "pod"),
            super::list(pods.iter().cloned(), 3)
        ));
    }
    if !nodes.is_empty() {
        what.push(format!(
            "the address{} of node{} {}",
            if nodes.len() == 1 { "" } else { "es" },
            if nodes.len() == 1 { "" } else { "s" },
            super::list(nodes.iter().cloned(), 3)
        ));
    }
    let id = format!("{}/{}", policy.namespace, policy.name);
    let mut keep_out: Vec<String> = cidrs.iter().map(|c| c.to_string()).collect();
    keep_out.extend(
        snapshot
            .nodes
            .iter()
            .flat_map(|n| n.internal_ips.iter())
            .filter(|ip| block.contains(*ip) && !excepted_ip(except, ip))
            .map(|ip| IpNet::from(*ip).to_string()),
    );
    if !pods.is_empty() {
        keep_out.push("the pod network's range".to_string());
    }
    out.push(
        Finding::new(
            Rule::IpBlockCoversPods,
            Severity::Warning,
            Some(&policy.namespace),
        )
        .objects([ObjectRef::policy(policy)])
        .says(
            format!(
                "{id} {at}: ipBlock {block} covers {}: it also matches that pod and node \
                     traffic, not only outside addresses",
                what.join(" and ")
            ),
            format!(
                "add except: [{}] to the ipBlock in {at} of {id}, and allow pods with \
                     podSelector/namespaceSelector",
                keep_out.join(", ")
            ),
        ),
    );
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{findings, namespace, pod, policy, NODE};
    use super::*;

    fn with_block(block: &str) -> String {
        [
            namespace("shop", "{}"),
            NODE.to_string(),
            pod("shop", "web-0", r#"{"app":"web"}"#, "10.244.1.5", "[]"),
            policy(
                "shop",
                "out",
                &format!(
                    r#"{{"podSelector":{{}},"policyTypes":["Egress"],"egress":[{{"to":[{{"ipBlock":{block}}}]}}]}}"#
                ),
            ),
        ]
        .join(",")
    }

    #[test]
    fn a_block_covering_the_pod_cidr_and_a_node_is_a_warning() {
        let found = findings(
            &with_block(r#"{"cidr":"0.0.0.0/0"}"#),
            Rule::IpBlockCoversPods,
        );
        assert_eq!(found.len(), 1, "{found:?}");
        let f = &found[0];
        assert_eq!(f.severity, Severity::Warning);
        assert!(
            f.message.contains("pod CIDR 10.244.1.0/24"),
            "{}",
            f.message
        );
        assert!(f.message.contains("node n1"), "{}", f.message);
        assert!(
            f.fix.contains("except: [10.244.1.0/24, 10.0.0.11/32]"),
            "{}",
            f.fix
        );
    }

    #[test]
    fn a_block_excepting_the_cluster_or_outside_it_raises_nothing() {
        for block in [
            r#"{"cidr":"0.0.0.0/0","except":["10.244.0.0/16","10.0.0.0/24"]}"#,
            r#"{"cidr":"203.0.113.0/24"}"#,
        ] {
            let found = findings(&with_block(block), Rule::IpBlockCoversPods);
            assert!(found.is_empty(), "{block}: {found:?}");
        }
    }

    #[test]
    fn without_pod_cidrs_the_pod_addresses_count() {
        let items = with_block(r#"{"cidr":"10.244.0.0/16"}"#)
            .replace(r#""spec":{"podCIDR":"10.244.1.0/24"},"#, "");
        let found = findings(&items, Rule::IpBlockCoversPods);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].message.contains("1 pod (shop/web-0)"),
            "{}",
            found[0].message
        );
    }
}
