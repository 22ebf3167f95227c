//! The running `top` result: every key value and every peer is interned once (dictionaries
//! of small numbers), a group is a row of those numbers with its sums, and ranking picks the
//! groups to show without sorting all of them when few are wanted.

use super::TopQuery;

type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
type FastSet<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;

/// The running result. Every key value and every peer is stored once and named by a small
/// number; a group is a row of those numbers, its sums, and its first source and
/// destination; only further distinct peers of a group take an entry in a set. A group costs
/// about 50 bytes (with five keys), whatever the length of its names.
pub(super) struct Groups {
    /// One dictionary per key column (`bucket` first when bucketed), in the query's order.
    pub(super) keys: Vec<KeyValues>,
    /// Key value numbers of every group, `keys.len()` per group, in group-number order.
    members: Blocks<u32>,
    /// Group numbers, found by hashing their key value numbers.
    pub(super) index: hashbrown::HashTable<u32>,
    hasher: foldhash::fast::FixedState,
    pub(super) sums: Sums,
    peers: FastMap<Box<str>, u32>,
    pub(super) sources: Peers,
    pub(super) destinations: Peers,
}

/// Distinct peers per group: the first one inline, the others as `group << 32 | peer`.
#[derive(Default)]
pub(super) struct Peers {
    first: Blocks<u32>,
    more: FastSet<u64>,
}

impl Peers {
    pub(super) fn add(&mut self, group: u32, peer: u32) {
        let first = &mut self.first[group as usize];
        if *first == NO_PEER {
            *first = peer;
        } else if *first != peer {
            self.more.insert(u64::from(group) << 32 | u64::from(peer));
        }
    }

    /// The distinct peers of each of `groups` (numbers as [`Groups::peer`] gives them).
    pub(super) fn of_groups(&self, groups: &[u32]) -> FastMap<u32, Vec<u32>> {
        let mut out: FastMap<u32, Vec<u32>> = FastMap::default();
        for &g in groups {
            let first = self.first[g as usize];
            out.insert(
                g,
                if first == NO_PEER {
                    Vec::new()
                } else {
                    vec![first]
                },
            );
        }
        for pair in &self.more {
            if let Some(peers) = out.get_mut(&((pair >> 32) as u32)) {
                peers.push(*pair as u32);
            }
        }
        for peers in out.values_mut() {
            peers[1..].sort_unstable();
        }
        out
    }

    /// How many distinct peers each group has (counted where the first peers were).
    pub(super) fn into_counts(self) -> Blocks<u32> {
        let mut counts = self.first;
        for g in 0..counts.len() {
            counts[g] = u32::from(counts[g] != NO_PEER);
        }
        for pair in &self.more {
            counts[(pair >> 32) as usize] += 1;
        }
        counts
    }
}

/// Up to this many groups are ranked as they are scanned, without a list of every group.
const SMALL_K: usize = 1000;

/// Groups per block of [`Blocks`].
pub(super) const BLOCK_ROWS: usize = 64 * 1024;

/// A growable array kept in blocks of a fixed size, so that growing it never copies what it
/// holds (nor needs room for two copies of it, as a doubling vector does).
pub(super) struct Blocks<T> {
    blocks: Vec<Vec<T>>,
    /// Values per block.
    block: usize,
    len: usize,
}

impl<T> Default for Blocks<T> {
    /// Blocks of [`BLOCK_ROWS`] values.
    fn default() -> Blocks<T> {
        Blocks::with_block(BLOCK_ROWS)
    }
}

impl<T> Blocks<T> {
    /// Blocks of `block` values each.
    fn with_block(block: usize) -> Blocks<T> {
        Blocks {
            blocks: Vec::new(),
            block: block.max(1),
            len: 0,
        }
    }
}

impl<T: Copy> Blocks<T> {
    pub(super) fn len(&self) -> usize {
        self.len
    }

    pub(super) fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub(super) fn push(&mut self, value: T) {
        match self.blocks.last_mut() {
            Some(last) if last.len() < self.block => last.push(value),
            _ => {
                let mut block = Vec::with_capacity(self.block);
                block.push(value);
                self.blocks.push(block);
            }
        }
        self.len += 1;
    }

    pub(super) fn get(&self, i: usize) -> Option<&T> {
        (i < self.len).then(|| &self[i])
    }

    pub(super) fn resize(&mut self, len: usize, value: T) {
        while self.len < len {
            self.push(value);
        }
    }

    /// `len` values from `start`, which must not cross a block boundary.
    fn run(&self, start: usize, len: usize) -> &[T] {
        let offset = start % self.block;
        &self.blocks[start / self.block][offset..offset + len]
    }
}

impl<T> std::ops::Index<usize> for Blocks<T> {
    type Output = T;
    fn index(&self, i: usize) -> &T {
        &self.blocks[i / self.block][i % self.block]
    }
}

impl<T> std::ops::IndexMut<usize> for Blocks<T> {
    fn index_mut(&mut self, i: usize) -> &mut T {
        &mut self.blocks[i / self.block][i % self.block]
    }
}

/// Marks a group with no peer yet (peer numbers start at 0, for none).
const NO_PEER: u32 = u32::MAX;

/// How a key column's values are interned: as text, or as whole numbers (numbers, booleans
/// and time buckets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum KeyKind {
    /// Text values.
    Text,
    /// Whole numbers.
    Number,
}

/// The distinct values of one key column; number 0 is null.
pub(super) enum KeyValues {
    Text(Dictionary<Box<str>>),
    Number(Dictionary<i64>),
}

/// Values and the numbers they are known by.
pub(super) struct Dictionary<T> {
    numbers: FastMap<T, u32>,
    pub(super) values: Vec<Option<T>>,
}

impl<T: std::hash::Hash + Eq + Clone> Dictionary<T> {
    pub(super) fn new() -> Dictionary<T> {
        Dictionary {
            numbers: FastMap::default(),
            values: vec![None],
        }
    }

    pub(super) fn number<Q>(&mut self, value: Option<&Q>) -> u32
    where
        T: std::borrow::Borrow<Q>,
        Q: std::hash::Hash + Eq + ?Sized + ToOwned,
        Q::Owned: Into<T>,
    {
        let Some(value) = value else { return 0 };
        if let Some(&n) = self.numbers.get(value) {
            return n;
        }
        let n = u32::try_from(self.values.len()).unwrap_or(u32::MAX);
        let owned: T = value.to_owned().into();
        self.values.push(Some(owned.clone()));
        self.numbers.insert(owned, n);
        n
    }
}

/// Sums per group, one vector per sum (in group-number order). Bytes and packets take room
/// only once some record has them (Hubble records never do).
#[derive(Default)]
pub(super) struct Sums {
    pub(super) count: Blocks<i64>,
    pub(super) records: Blocks<i64>,
    pub(super) bytes: Blocks<i64>,
    pub(super) packets: Blocks<i64>,
    /// [`BYTES_KNOWN`] and [`PACKETS_KNOWN`]: whether any record had them.
    pub(super) known: Blocks<u8>,
}

impl Sums {
    /// Makes room for bytes and packets up to group `g`.
    pub(super) fn volumes_from(&mut self, g: usize) {
        if self.known.len() <= g {
            let len = self.count.len();
            self.bytes.resize(len, 0);
            self.packets.resize(len, 0);
            self.known.resize(len, 0);
        }
    }

    /// Whether group `g` has a known byte (or packet, with [`PACKETS_KNOWN`]) sum.
    pub(super) fn has(&self, g: usize, flag: u8) -> bool {
        self.known.get(g).is_some_and(|k| k & flag != 0)
    }
}

pub(super) const BYTES_KNOWN: u8 = 1;
pub(super) const PACKETS_KNOWN: u8 = 2;

impl Groups {
    /// No groups yet, of the key columns `keys`.
    pub(super) fn new(keys: &[KeyKind]) -> Groups {
        Groups {
            keys: keys
                .iter()
                .map(|kind| match kind {
                    KeyKind::Text => KeyValues::Text(Dictionary::new()),
                    KeyKind::Number => KeyValues::Number(Dictionary::new()),
                })
                .collect(),
            // A group's numbers never straddle two blocks.
            members: Blocks::with_block(keys.len().max(1) * BLOCK_ROWS),
            index: hashbrown::HashTable::new(),
            hasher: foldhash::fast::FixedState::default(),
            sums: Sums::default(),
            peers: FastMap::default(),
            sources: Peers::default(),
            destinations: Peers::default(),
        }
    }

    /// The groups to show, in order.
    pub(super) fn ranked(&self, query: &TopQuery) -> Vec<u32> {
        let all = 0..self.len();
        let k = match query.k() {
            0 => usize::MAX,
            k => k,
        };
        // Orders key number rows `a` and `b` that start at key column `first`.
        let by_keys = |a: &[u32], b: &[u32], first: usize| {
            (0..a.len())
                .map(|i| self.keys[first + i].compare(a[i], b[i]))
                .find(|o| o.is_ne())
                .unwrap_or(std::cmp::Ordering::Equal)
        };
        if query.bucket().is_none() {
            let rank = |a: &u32, b: &u32| {
                let (a, b) = (*a as usize, *b as usize);
                self.sums.count[b]
                    .cmp(&self.sums.count[a])
                    .then_with(|| by_keys(self.member(a as u32), self.member(b as u32), 0))
            };
            if k <= SMALL_K {
                // The k best so far, in order: most groups are not better than the last.
                let mut best: Vec<u32> = Vec::with_capacity(k + 1);
                for g in all {
                    if best.len() == k && best.last().is_some_and(|w| rank(&g, w).is_ge()) {
                        continue;
                    }
                    let at = best.partition_point(|b| rank(b, &g).is_lt());
                    best.insert(at, g);
                    best.truncate(k);
                }
                return best;
            }
            let mut order: Vec<u32> = all.collect();
            if k < order.len() {
                order.select_nth_unstable_by(k, rank);
                order.truncate(k);
            }
            order.sort_unstable_by(rank);
            return order;
        }
        // Bucketed: the k largest groups over the whole input (keys without the bucket),
        // then every bucket they occur in.
        let mut totals: FastMap<&[u32], i64> = FastMap::default();
        for g in 0..self.len() {
            let total = totals.entry(&self.member(g)[1..]).or_default();
            *total = total.saturating_add(self.sums.count[g as usize]);
        }
        let mut largest: Vec<(&[u32], i64)> = totals.into_iter().collect();
        let rank =
            |a: &(&[u32], i64), b: &(&[u32], i64)| b.1.cmp(&a.1).then_with(|| by_keys(a.0, b.0, 1));
        if k < largest.len() {
            largest.select_nth_unstable_by(k, rank);
            largest.truncate(k);
        }
        let kept: FastMap<&[u32], i64> = largest.into_iter().collect();
        let mut order: Vec<(u32, i64)> = all
            .filter_map(|g| kept.get(&self.member(g)[1..]).map(|total| (g, *total)))
            .collect();
        order.sort_unstable_by(|(a, ta), (b, tb)| {
            let (ma, mb) = (self.member(*a), self.member(*b));
            self.keys[0]
                .compare(ma[0], mb[0])
                .then_with(|| tb.cmp(ta))
                .then_with(|| by_keys(&ma[1..], &mb[1..], 1))
        });
        order.into_iter().map(|(g, _)| g).collect()
    }

    /// How many groups there are.
    pub(super) fn len(&self) -> u32 {
        u32::try_from(self.sums.count.len()).unwrap_or(u32::MAX)
    }

    /// The key value numbers of group `g`.
    pub(super) fn member(&self, g: u32) -> &[u32] {
        let width = self.keys.len();
        self.members.run(g as usize * width, width)
    }

    /// The number of the group with these key value numbers (a new group if unseen).
    pub(super) fn group(&mut self, members: &[u32]) -> u32 {
        use std::hash::BuildHasher;
        let hash = self.hasher.hash_one(members);
        let width = self.keys.len();
        let all = &self.members;
        let same = |g: &u32| all.run(*g as usize * width, width) == members;
        if let Some(&g) = self.index.find(hash, same) {
            return g;
        }
        let g = self.len();
        members.iter().for_each(|m| self.members.push(*m));
        let (all, hasher) = (&self.members, &self.hasher);
        self.index.insert_unique(hash, g, |g| {
            hasher.hash_one(all.run(*g as usize * width, width))
        });
        let sums = &mut self.sums;
        sums.count.push(0);
        sums.records.push(0);
        if !sums.known.is_empty() {
            sums.bytes.push(0);
            sums.packets.push(0);
            sums.known.push(0);
        }
        self.sources.first.push(NO_PEER);
        self.destinations.first.push(NO_PEER);
        g
    }

    /// Every peer's name by its number (number 0, none, is `None`).
    pub(super) fn peer_names(&self) -> Vec<Option<&str>> {
        let mut names = vec![None; self.peers.len() + 1];
        for (name, &n) in &self.peers {
            names[n as usize] = Some(&**name);
        }
        names
    }

    /// The number of a peer (0 for none).
    pub(super) fn peer(&mut self, name: Option<&str>) -> u32 {
        let Some(name) = name else { return 0 };
        if let Some(&n) = self.peers.get(name) {
            return n;
        }
        let n = u32::try_from(self.peers.len() + 1).unwrap_or(u32::MAX);
        self.peers.insert(name.into(), n);
        n
    }
}

impl KeyValues {
    /// Orders two value numbers by their values, nulls last.
    pub(super) fn compare(&self, a: u32, b: u32) -> std::cmp::Ordering {
        fn by<T: Ord>(a: &Option<T>, b: &Option<T>) -> std::cmp::Ordering {
            match (a, b) {
                (Some(a), Some(b)) => a.cmp(b),
                (None, None) => std::cmp::Ordering::Equal,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (Some(_), None) => std::cmp::Ordering::Less,
            }
        }
        match self {
            KeyValues::Text(d) => by(&d.values[a as usize], &d.values[b as usize]),
            KeyValues::Number(d) => by(&d.values[a as usize], &d.values[b as usize]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_index_across_block_boundaries() {
        let mut b: Blocks<u32> = Blocks::default();
        for i in 0..(2 * BLOCK_ROWS as u32 + 5) {
            b.push(i);
        }
        assert_eq!(b.len(), 2 * BLOCK_ROWS + 5);
        assert_eq!(b[BLOCK_ROWS - 1], BLOCK_ROWS as u32 - 1);
        assert_eq!(b[BLOCK_ROWS], BLOCK_ROWS as u32);
        assert_eq!(
            b.run(BLOCK_ROWS, 3),
            [
                BLOCK_ROWS as u32,
                BLOCK_ROWS as u32 + 1,
                BLOCK_ROWS as u32 + 2
            ]
        );
        assert_eq!(b.get(2 * BLOCK_ROWS + 5), None);
        b[7] = 70;
        assert_eq!(b[7], 70);
    }
}
