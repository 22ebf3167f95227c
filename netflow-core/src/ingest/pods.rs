//! Pod identities shared between the records that name the same pod: a busy pod appears in
//! thousands of records, and building its identity for each (namespace, name, workload, node
//! and every label, a dozen strings) was most of a record's allocations. Each decoding thread
//! keeps the identities it built lately, keyed by exactly what they were built from, and hands
//! out the same `Arc` when a record names the same pod again.

use std::cell::RefCell;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::Arc;

use hashbrown::HashTable;

use crate::flow::PodIdentity;

/// How many identities a thread keeps; past it, they are all let go and the cache fills anew
/// (memory stays bounded whatever the number of pods in the log).
const KEPT: usize = 16384;

/// What a pod identity is built from, as the record gives it: the identity is a function of
/// these, so two records with equal sources share one identity.
#[derive(Clone, Copy)]
pub(super) struct PodSource<'a, L> {
    /// The pod's namespace.
    pub namespace: &'a str,
    /// The pod's name.
    pub name: &'a str,
    /// The owning workload as (kind, name).
    pub workload: Option<(&'a str, &'a str)>,
    /// The node the pod runs on.
    pub node: Option<&'a str>,
    /// The label texts the labels are built from, in the record's order.
    pub labels: L,
}

/// One kept identity with the label texts it was built from.
struct Kept {
    hash: u64,
    labels: Box<[Box<str>]>,
    pod: Arc<PodIdentity>,
}

/// The identities one thread built lately.
struct PodCache {
    kept: HashTable<Kept>,
    hasher: foldhash::fast::FixedState,
}

thread_local! {
    static PODS: RefCell<PodCache> = RefCell::new(PodCache {
        kept: HashTable::new(),
        hasher: foldhash::fast::FixedState::with_seed(0x666c_6f77_71),
    });
}

/// The identity `source` stands for: one this thread built from an equal source before, or
/// `build(source)`, kept for the records after.
pub(super) fn shared_pod<'a, L>(
    source: PodSource<'a, L>,
    build: impl FnOnce(&PodSource<'a, L>) -> PodIdentity,
) -> Arc<PodIdentity>
where
    L: Iterator<Item = &'a str> + Clone,
{
    PODS.with(|cache| {
        let Ok(mut cache) = cache.try_borrow_mut() else {
            return Arc::new(build(&source));
        };
        let hash = {
            let mut h = cache.hasher.build_hasher();
            source.namespace.hash(&mut h);
            source.name.hash(&mut h);
            source.workload.hash(&mut h);
            source.node.hash(&mut h);
            for label in source.labels.clone() {
                label.hash(&mut h);
            }
            h.finish()
        };
        let found = cache.kept.find(hash, |k| {
            k.hash == hash && same_source(&k.pod, &k.labels, &source)
        });
        if let Some(kept) = found {
            return kept.pod.clone();
        }
        let pod = Arc::new(build(&source));
        if cache.kept.len() >= KEPT {
            cache.kept.clear();
        }
        let labels = source.labels.map(Box::from).collect();
        cache.kept.insert_unique(
            hash,
            Kept {
                hash,
                labels,
                pod: pod.clone(),
            },
            |k| k.hash,
        );
        pod
    })
}

/// Whether `pod`, built from `labels` and its own fields, was built from `source`.
fn same_source<'a, L>(pod: &PodIdentity, labels: &[Box<str>], source: &PodSource<'a, L>) -> bool
where
    L: Iterator<Item = &'a str> + Clone,
{
    pod.namespace == source.namespace
        && pod.name == source.name
        && pod
            .workload
            .as_ref()
            .map(|w| (w.kind.as_str(), w.name.as_str()))
            == source.workload
        && pod.node.as_deref() == source.node
        && labels.iter().map(|l| &**l).eq(source.labels.clone())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::flow::Workload;

    type Labels<'a> = std::iter::Copied<std::slice::Iter<'a, &'a str>>;

    fn build(source: &PodSource<'_, Labels<'_>>) -> PodIdentity {
        PodIdentity {
            namespace: source.namespace.to_string(),
            name: source.name.to_string(),
            workload: source.workload.map(|(kind, name)| Workload {
                kind: kind.into(),
                name: name.into(),
            }),
            node: source.node.map(str::to_string),
            labels: Arc::new(
                source
                    .labels
                    .clone()
                    .map(|l| (l.to_string(), String::new()))
                    .collect::<BTreeMap<_, _>>(),
            ),
        }
    }

    fn pod<'a>(
        namespace: &'a str,
        name: &'a str,
        node: Option<&'a str>,
        labels: &'a [&'a str],
    ) -> Arc<PodIdentity> {
        let source = PodSource {
            namespace,
            name,
            workload: Some(("Deployment", "web")),
            node,
            labels: labels.iter().copied(),
        };
        shared_pod(source, |s| build(s))
    }

    #[test]
    fn equal_sources_share_one_identity_and_any_difference_builds_another() {
        let a = pod("shop", "web-1", None, &["app", "tier"]);
        assert!(Arc::ptr_eq(
            &a,
            &pod("shop", "web-1", None, &["app", "tier"])
        ));
        for other in [
            pod("shop2", "web-1", None, &["app", "tier"]),
            pod("shop", "web-2", None, &["app", "tier"]),
            pod("shop", "web-1", Some("node-1"), &["app", "tier"]),
            pod("shop", "web-1", None, &["app"]),
            pod("shop", "web-1", None, &["app", "tier", "x"]),
            pod("shop", "web-1", None, &["tier", "app"]),
        ] {
            assert!(!Arc::ptr_eq(&a, &other));
        }
        let other_workload = shared_pod(
            PodSource {
                namespace: "shop",
                name: "web-1",
                workload: None,
                node: None,
                labels: ["app", "tier"].iter().copied(),
            },
            |s| build(s),
        );
        assert!(other_workload.workload.is_none());
    }

    #[test]
    fn the_cache_stays_bounded() {
        let names: Vec<String> = (0..KEPT + 10).map(|i| format!("p{i}")).collect();
        for name in &names {
            pod("ns", name, None, &[]);
        }
        PODS.with(|c| assert!(c.borrow().kept.len() <= KEPT));
        let again = pod("ns", &names[KEPT + 9], None, &[]);
        assert_eq!(again.name, names[KEPT + 9]);
    }
}
