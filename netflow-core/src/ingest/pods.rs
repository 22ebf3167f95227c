//! Pod identities shared between the records that name the same pod: a busy pod appears in
//! thousands of records, and building its identity for each (namespace, name, workload, node
//! and every label, a dozen strings) was most of a record's allocations. Each decoding thread
//! keeps the identities it built lately, keyed by the exact text of the endpoint object they
//! were built from (and the node that observed it), and hands out the same `Arc` when a record
//! holds that text again. An identity is a function of that text and node alone, so sharing
//! never changes what a record says; the key is compared in full, never trusted to its hash.

use std::cell::RefCell;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::Arc;

use hashbrown::HashTable;

use crate::flow::PodIdentity;

/// How many identities a thread keeps; past it, they are all let go and the cache fills anew
/// (memory stays bounded whatever the number of pods in the log: about 0.7 KB an identity).
const KEPT: usize = 16384;

/// One kept identity with the text and node it was built from.
struct Kept {
    hash: u64,
    text: Box<str>,
    node: Option<Box<str>>,
    pod: Arc<PodIdentity>,
}

/// The identities one thread built lately.
struct PodCache {
    kept: HashTable<Kept>,
    hasher: foldhash::fast::FixedState,
}

thread_local! {
    static PODS: RefCell<PodCache> = const {
        RefCell::new(PodCache {
            kept: HashTable::new(),
            hasher: foldhash::fast::FixedState::with_seed(0x0066_6c6f_7771),
        })
    };
}

/// The identity built from the endpoint object `text` as seen from `node`: one this thread
/// built from the same before, or `build()`, kept for the records after.
pub(super) fn shared_pod(
    text: &str,
    node: Option<&str>,
    build: impl FnOnce() -> PodIdentity,
) -> Arc<PodIdentity> {
    PODS.with(|cache| {
        let Ok(mut cache) = cache.try_borrow_mut() else {
            return Arc::new(build());
        };
        let hash = {
            let mut h = cache.hasher.build_hasher();
            text.hash(&mut h);
            node.hash(&mut h);
            h.finish()
        };
        let found = cache
            .kept
            .find(hash, |k| *k.text == *text && k.node.as_deref() == node);
        if let Some(kept) = found {
            return kept.pod.clone();
        }
        let pod = Arc::new(build());
        if cache.kept.len() >= KEPT {
            cache.kept.clear();
        }
        cache.kept.insert_unique(
            hash,
            Kept {
                hash,
                text: text.into(),
                node: node.map(Box::from),
                pod: pod.clone(),
            },
            |k| k.hash,
        );
        pod
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(text: &str, node: Option<&str>) -> Arc<PodIdentity> {
        shared_pod(text, node, || PodIdentity {
            name: text.to_string(),
            node: node.map(str::to_string),
            ..Default::default()
        })
    }

    #[test]
    fn equal_texts_and_nodes_share_one_identity_and_any_difference_builds_another() {
        let a = pod(r#"{"namespace":"shop","pod_name":"web-1"}"#, None);
        assert!(Arc::ptr_eq(
            &a,
            &pod(r#"{"namespace":"shop","pod_name":"web-1"}"#, None)
        ));
        for other in [
            pod(r#"{"namespace":"shop","pod_name":"web-2"}"#, None),
            pod(r#"{"namespace":"shop","pod_name":"web-1"} "#, None),
            pod(r#"{"namespace":"shop","pod_name":"web-1"}"#, Some("node-1")),
        ] {
            assert!(!Arc::ptr_eq(&a, &other));
        }
        let b = pod(r#"{"namespace":"shop","pod_name":"web-1"}"#, Some("node-1"));
        assert_eq!(b.node.as_deref(), Some("node-1"));
    }

    #[test]
    fn the_cache_stays_bounded() {
        let texts: Vec<String> = (0..KEPT + 10).map(|i| format!("p{i}")).collect();
        for text in &texts {
            pod(text, None);
        }
        PODS.with(|c| assert!(c.borrow().kept.len() <= KEPT));
        assert_eq!(pod(&texts[KEPT + 9], None).name, texts[KEPT + 9]);
    }
}
