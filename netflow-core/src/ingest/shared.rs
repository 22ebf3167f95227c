//! Values shared between the records that hold the same text: a busy pod appears in
//! thousands of records, and building its identity for each (namespace, name, workload, node
//! and every label, a dozen strings) was most of a record's allocations; every entry of a
//! Cloud Logging export repeats the same log name and resource. Each decoding thread keeps the
//! values it built lately, keyed by exactly what they were built from (Hubble pods: the text
//! of the endpoint object and the node that observed it; Calico pods: the namespace, the name
//! and the text of the labels; Cloud Logging entries: the log name and the texts of the
//! resource and labels), and hands out the same `Arc` when a record holds the same again. A
//! value is a function of its key alone, so sharing never changes what a record says; the key
//! is compared in full, never trusted to its hash.

use std::cell::RefCell;
use std::hash::BuildHasher;
use std::sync::Arc;
use std::thread::LocalKey;

use hashbrown::HashTable;

use crate::flow::PodIdentity;

/// How many values of one kind the decoding threads keep in all (a pod identity is about
/// 0.7 KB), shared out among them: 16,384 a thread on two cores. Past its share, a thread
/// lets them all go and fills its cache anew, so memory stays bounded whatever the number of
/// pods in the log.
const KEPT_IN_ALL: usize = 32768;

/// The fewest values of one kind a thread keeps, however many threads decode.
const KEPT_AT_LEAST: usize = 2048;

/// How many values of one kind this thread keeps: its share of [`KEPT_IN_ALL`] among the
/// threads of its pool.
fn kept_here() -> usize {
    (KEPT_IN_ALL / rayon::current_num_threads().max(1)).max(KEPT_AT_LEAST)
}

/// When fewer than one lookup in this many found its value while the cache filled, the log
/// holds more distinct ones than it keeps and a miss costs more than building alone (hashing
/// and copying the text): the cache is then left aside for [`RESTING_FILLS`] times as many
/// values as it holds before it is tried again.
const WORTH_ONE_HIT_IN: u64 = 4;

/// How many values are built without the cache after it did not pay, in fills of it.
const RESTING_FILLS: u64 = 4;

/// One kept value with the key it was built from, written as [`flatten`] writes it.
struct Kept<T> {
    hash: u64,
    key: Box<[u8]>,
    value: Arc<T>,
}

/// Writes a key's parts and node into the cleared `out` as one byte string, so that it is
/// hashed and compared in one go: each part followed by 0xFF, then 0xFE and the node when
/// there is one. Neither byte occurs in UTF-8 text, so two keys are equal exactly when their
/// byte strings are.
fn flatten(key: &[&str], node: Option<&str>, out: &mut Vec<u8>) {
    out.clear();
    for part in key {
        out.extend_from_slice(part.as_bytes());
        out.push(0xFF);
    }
    if let Some(node) = node {
        out.push(0xFE);
        out.extend_from_slice(node.as_bytes());
    }
}

/// The values of one kind one thread built lately.
pub(super) struct SharedCache<T> {
    kept: HashTable<Kept<T>>,
    /// How many it keeps ([`kept_here`]; 0 until first used).
    capacity: usize,
    hasher: foldhash::fast::FixedState,
    /// Lookups and hits since the cache was last emptied.
    lookups: u64,
    hits: u64,
    /// Values still to build without the cache.
    resting: u64,
    /// The key of the lookup under way, flattened (reused between lookups).
    flat: Vec<u8>,
}

impl<T> SharedCache<T> {
    /// An empty cache, for a `thread_local!`.
    pub(super) const fn new() -> SharedCache<T> {
        SharedCache {
            kept: HashTable::new(),
            capacity: 0,
            hasher: foldhash::fast::FixedState::with_seed(0x0066_6c6f_7771),
            lookups: 0,
            hits: 0,
            resting: 0,
            flat: Vec::new(),
        }
    }

    /// The value built from `key` and `node`: one built from the same before, or `build()`,
    /// kept for the records after.
    fn get(&mut self, key: &[&str], node: Option<&str>, build: impl FnOnce() -> T) -> Arc<T> {
        if self.resting > 0 {
            self.resting -= 1;
            return Arc::new(build());
        }
        self.lookups += 1;
        let mut flat = std::mem::take(&mut self.flat);
        flatten(key, node, &mut flat);
        let hash = self.hasher.hash_one(flat.as_slice());
        let found = self
            .kept
            .find(hash, |k| k.hash == hash && *k.key == *flat)
            .map(|kept| kept.value.clone());
        if let Some(value) = found {
            self.hits += 1;
            self.flat = flat;
            return value;
        }
        let value = Arc::new(build());
        if self.capacity == 0 {
            self.capacity = kept_here();
        }
        if self.kept.len() >= self.capacity {
            if self.hits * WORTH_ONE_HIT_IN < self.lookups {
                self.resting = RESTING_FILLS * self.capacity as u64;
            }
            self.kept.clear();
            (self.lookups, self.hits) = (0, 0);
        }
        if self.resting == 0 {
            self.kept.insert_unique(
                hash,
                Kept {
                    hash,
                    key: flat.as_slice().into(),
                    value: value.clone(),
                },
                |k| k.hash,
            );
        }
        self.flat = flat;
        value
    }
}

/// The value `cache` of this thread holds for `key` and `node`, or `build()` kept there. A
/// cache already in use further up the stack (never, as the decoders are written) is passed
/// by: the value is built alone.
pub(super) fn shared<T: 'static>(
    cache: &'static LocalKey<RefCell<SharedCache<T>>>,
    key: &[&str],
    node: Option<&str>,
    build: impl FnOnce() -> T,
) -> Arc<T> {
    cache.with(|cache| match cache.try_borrow_mut() {
        Ok(mut cache) => cache.get(key, node, build),
        Err(_) => Arc::new(build()),
    })
}

thread_local! {
    static PODS: RefCell<SharedCache<PodIdentity>> = const { RefCell::new(SharedCache::new()) };
}

/// The pod identity built from the texts of `key` (everything the identity is made of but
/// the node) and `node`: one this thread built from the same before, or `build()`, kept for
/// the records after.
pub(super) fn shared_pod(
    key: &[&str],
    node: Option<&str>,
    build: impl FnOnce() -> PodIdentity,
) -> Arc<PodIdentity> {
    shared(&PODS, key, node, build)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(text: &str, node: Option<&str>) -> Arc<PodIdentity> {
        shared_pod(&[text], node, || PodIdentity {
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
    fn flattened_keys_are_equal_exactly_when_their_parts_and_nodes_are() {
        let flat = |key: &[&str], node: Option<&str>| {
            let mut out = Vec::new();
            flatten(key, node, &mut out);
            out
        };
        let keys: [(&[&str], Option<&str>); 9] = [
            (&[], None),
            (&[""], None),
            (&["", ""], None),
            (&["ab"], None),
            (&["a", "b"], None),
            (&["ab"], Some("")),
            (&["ab"], Some("n")),
            (&["ab", "n"], None),
            (&["a", "b"], Some("n")),
        ];
        for (i, (key, node)) in keys.iter().enumerate() {
            for (j, (other, other_node)) in keys.iter().enumerate() {
                assert_eq!(
                    flat(key, *node) == flat(other, *other_node),
                    i == j,
                    "{key:?} {other:?}"
                );
            }
        }
    }

    #[test]
    fn keys_of_several_parts_are_told_apart_part_by_part() {
        let of = |key: &[&str]| shared_pod(key, None, PodIdentity::default);
        let a = of(&["ns", "web", ""]);
        assert!(Arc::ptr_eq(&a, &of(&["ns", "web", ""])));
        assert!(!Arc::ptr_eq(&a, &of(&["nsweb", "", ""])));
        assert!(!Arc::ptr_eq(&a, &of(&["ns", "web"])));
    }

    #[test]
    fn the_cache_stays_bounded_and_rests_when_it_does_not_pay() {
        let kept = kept_here();
        let texts: Vec<String> = (0..kept + 10).map(|i| format!("p{i}")).collect();
        for text in &texts {
            pod(text, None);
        }
        PODS.with(|c| assert!(c.borrow().kept.len() <= kept));
        // Every lookup missed: the identities after are built without it, and still right.
        PODS.with(|c| assert!(c.borrow().resting > 0));
        let a = pod(&texts[kept + 9], None);
        assert_eq!(a.name, texts[kept + 9]);
        assert!(!Arc::ptr_eq(&a, &pod(&texts[kept + 9], None)));
        PODS.with(|c| c.borrow_mut().resting = 0);
        let b = pod(&texts[kept + 9], None);
        assert!(Arc::ptr_eq(&b, &pod(&texts[kept + 9], None)));
    }

    #[test]
    fn a_full_cache_that_pays_is_emptied_and_used_on() {
        let kept = kept_here();
        for round in 0..2 {
            for i in 0..kept {
                pod(&format!("p{}", i % 1000), None);
                if round == 0 && i == kept - 1 {
                    PODS.with(|c| assert_eq!(c.borrow().kept.len(), 1000));
                }
            }
        }
        let many: Vec<String> = (0..kept).map(|i| format!("q{i}")).collect();
        for (i, text) in many.iter().enumerate() {
            pod(text, None);
            // Half the lookups hit: the cache is emptied when full, never left aside.
            pod(&format!("p{}", i % 1000), None);
        }
        PODS.with(|c| assert_eq!(c.borrow().resting, 0));
    }
}
