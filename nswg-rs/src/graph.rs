//! Adjacency lists of the navigable small world graph and the neighbor-selection rule.
//!
//! Each node owns one block of `1 + max_degree` `u32` words in a single flat array: the link count
//! first, then the link slots, so a search reads a node's count and links from the same cache
//! lines. Words are atomics so that parallel insertion can extend lists while other threads search
//! them (relaxed loads compile to plain loads). Writers of a list hold that node's lock; a reader
//! may see a list mid-rewrite, but every entry it can see is a valid node number, because a node is
//! linked only after its vector is stored.

use parking_lot::Mutex;
use std::sync::atomic::{AtomicU16, AtomicU32, Ordering};

/// Adjacency storage for `len()` nodes.
pub(crate) struct Graph {
    pub max_degree: usize,
    /// Words per node: `1 + max_degree` (count, then slots).
    stride: usize,
    words: Vec<AtomicU32>,
    /// Per node, how many of its first links are known to satisfy the diversity rule among
    /// themselves (see [`reselect_diverse`]); written and read under the node's lock, not saved.
    diverse: Vec<AtomicU16>,
    locks: Vec<Mutex<()>>,
}

impl Graph {
    pub fn new(max_degree: usize) -> Self {
        Graph {
            max_degree,
            stride: max_degree + 1,
            words: Vec::new(),
            diverse: Vec::new(),
            locks: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.locks.len()
    }

    /// Bytes allocated: link words, diversity prefixes and locks.
    pub fn memory_usage(&self) -> usize {
        4 * self.words.capacity()
            + 2 * self.diverse.capacity()
            + std::mem::size_of::<Mutex<()>>() * self.locks.capacity()
    }

    /// Reserves room for `additional` more nodes exactly (no doubling).
    pub fn reserve(&mut self, additional: usize) -> Result<(), std::collections::TryReserveError> {
        let total = self.words.len() + additional * self.stride;
        crate::pages::reserve_advised(&mut self.words, total)?;
        self.diverse.try_reserve_exact(additional)?;
        self.locks.try_reserve_exact(additional)
    }

    pub fn grow(&mut self, n: usize) {
        crate::pages::grow_advised(&mut self.words, n * self.stride);
        self.words
            .resize_with(n * self.stride, || AtomicU32::new(0));
        self.diverse.resize_with(n, || AtomicU16::new(0));
        self.locks.resize_with(n, || Mutex::new(()));
    }

    #[inline]
    pub fn degree(&self, node: u32) -> usize {
        (self.words[node as usize * self.stride].load(Ordering::Acquire) as usize)
            .min(self.max_degree)
    }

    /// The links of `node`, read in place (no copy).
    #[inline]
    pub fn links(&self, node: u32) -> impl Iterator<Item = u32> + '_ {
        let start = node as usize * self.stride + 1;
        let deg = self.degree(node);
        self.words[start..start + deg]
            .iter()
            .map(|a| a.load(Ordering::Relaxed))
    }

    /// Loads the first word of `node`'s block (count and the first links share its cache line) so
    /// that the line is on its way before the links are needed. A plain, safe load whose value is
    /// discarded: the core overlaps the miss with other work (a portable software prefetch).
    #[inline]
    pub fn touch(&self, node: u32) {
        if let Some(w) = self.words.get(node as usize * self.stride) {
            std::hint::black_box(w.load(Ordering::Relaxed));
        }
    }

    /// Copies the links of `node` into `out` (cleared first).
    #[inline]
    pub fn neighbors_into(&self, node: u32, out: &mut Vec<u32>) {
        out.clear();
        out.extend(self.links(node));
    }

    /// Replaces the links of `node`; the caller holds `lock(node)`. `new` has at most `max_degree`
    /// entries, of which the first `diverse` are known to be ascending by distance from `node` and
    /// to satisfy the diversity rule among themselves (as [`select_diverse`] leaves them).
    pub fn set_links(&self, node: u32, new: &[u32], diverse: usize) {
        debug_assert!(new.len() <= self.max_degree && diverse <= new.len());
        self.diverse[node as usize].store(diverse as u16, Ordering::Relaxed);
        let start = node as usize * self.stride;
        for (slot, &v) in self.words[start + 1..start + 1 + new.len()].iter().zip(new) {
            slot.store(v, Ordering::Relaxed);
        }
        self.words[start].store(new.len() as u32, Ordering::Release);
    }

    /// Appends one link if there is room; returns false when the list is full. Caller holds the lock.
    pub fn try_push(&self, node: u32, v: u32) -> bool {
        let deg = self.degree(node);
        if deg >= self.max_degree {
            return false;
        }
        let start = node as usize * self.stride;
        self.words[start + 1 + deg].store(v, Ordering::Relaxed);
        self.words[start].store(deg as u32 + 1, Ordering::Release);
        true
    }

    /// How many of `node`'s first links are known diverse (see [`Graph::set_links`]); the caller
    /// holds `lock(node)`.
    #[inline]
    pub fn diverse_prefix(&self, node: u32) -> usize {
        (self.diverse[node as usize].load(Ordering::Relaxed) as usize).min(self.degree(node))
    }

    pub fn lock(&self, node: u32) -> parking_lot::MutexGuard<'_, ()> {
        self.locks[node as usize].lock()
    }

    /// Every node's link count as stored, in node order (the file layout; unclamped).
    pub fn raw_counts(&self) -> impl Iterator<Item = u32> + '_ {
        self.words
            .iter()
            .step_by(self.stride)
            .map(|a| a.load(Ordering::Relaxed))
    }

    /// Every node's `max_degree` link slots in node order, unused slots included (the file layout).
    pub fn raw_slots(&self) -> impl Iterator<Item = u32> + '_ {
        self.words
            .chunks_exact(self.stride)
            .flat_map(|block| &block[1..])
            .map(|a| a.load(Ordering::Relaxed))
    }

    /// Overwrites the stored link counts of nodes `first..first + counts.len()` (loading a file;
    /// the caller validates them before any search).
    pub fn fill_counts(&mut self, first: usize, counts: &[u32]) {
        for (i, &c) in counts.iter().enumerate() {
            *self.words[(first + i) * self.stride].get_mut() = c;
        }
    }

    /// Overwrites link slots `first..first + slots.len()`, numbered node-major (`node * max_degree
    /// + position`) as [`Graph::raw_slots`] yields them.
    pub fn fill_slots(&mut self, first: usize, slots: &[u32]) {
        let m = self.max_degree;
        for (i, &v) in slots.iter().enumerate() {
            let s = first + i;
            *self.words[(s / m) * self.stride + 1 + s % m].get_mut() = v;
        }
    }
}

/// Highest level a node may draw (with `M >= 2` a level above 30 has probability below 1e-9).
pub(crate) const MAX_LEVEL: usize = 30;

/// Marks "no entry point yet" in [`Layers::entry`].
const NO_ENTRY: u64 = u64::MAX;

/// One upper layer: the nodes whose level is at least this layer's (ascending node numbers) and
/// their adjacency, indexed by slot (the node's position in `nodes`); links are node numbers.
pub(crate) struct Layer {
    pub nodes: Vec<u32>,
    pub graph: Graph,
}

impl Layer {
    /// The slot of `node` on this layer, if the node is on it.
    #[inline]
    pub fn slot(&self, node: u32) -> Option<u32> {
        self.nodes.binary_search(&node).ok().map(|s| s as u32)
    }
}

/// The HNSW-style hierarchy above the base graph: every node's level, the upper layers
/// (`upper[l - 1]` is level `l`) and the entry point (the node of the highest level), packed as
/// `level << 32 | node` in one atomic so searches read it without a lock. Nodes that raise the top
/// level are inserted one at a time under `top_lock`.
pub(crate) struct Layers {
    /// Degree cap of the upper layers.
    pub m: usize,
    pub levels: Vec<u8>,
    pub upper: Vec<Layer>,
    entry: std::sync::atomic::AtomicU64,
    pub top_lock: Mutex<()>,
}

impl Layers {
    pub fn new(m: usize) -> Self {
        Layers {
            m,
            levels: Vec::new(),
            upper: Vec::new(),
            entry: std::sync::atomic::AtomicU64::new(NO_ENTRY),
            top_lock: Mutex::new(()),
        }
    }

    /// Appends a node of level `level` (node numbers must arrive in ascending order).
    pub fn push(&mut self, node: u32, level: usize) {
        let level = level.min(MAX_LEVEL);
        self.levels.push(level as u8);
        while self.upper.len() < level {
            self.upper.push(Layer {
                nodes: Vec::new(),
                graph: Graph::new(self.m),
            });
        }
        for layer in &mut self.upper[..level] {
            layer.nodes.push(node);
            let n = layer.nodes.len();
            layer.graph.grow(n);
        }
    }

    /// The entry point `(node, level)`, or `None` before the first node is linked.
    #[inline]
    pub fn entry(&self) -> Option<(u32, usize)> {
        let e = self.entry.load(Ordering::Acquire);
        (e != NO_ENTRY).then_some((e as u32, (e >> 32) as usize))
    }

    /// Makes `node` the entry point if its level is above the current top (or there is none).
    pub fn offer_entry(&self, node: u32, level: usize) {
        let new = ((level as u64) << 32) | node as u64;
        let _ = self
            .entry
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |cur| {
                (cur == NO_ENTRY || ((cur >> 32) as usize) < level).then_some(new)
            });
    }

    /// Sets the entry point directly (loading a validated file).
    pub fn set_entry(&self, e: Option<(u32, usize)>) {
        let v = e.map_or(NO_ENTRY, |(node, level)| {
            ((level as u64) << 32) | node as u64
        });
        self.entry.store(v, Ordering::Release);
    }
}

/// A candidate: squared distance and node number, ordered by distance then node (total order).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Cand {
    pub d: f32,
    pub node: u32,
}

impl PartialEq for Cand {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == std::cmp::Ordering::Equal
    }
}
impl Eq for Cand {}
impl PartialOrd for Cand {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Cand {
    /// One integer that orders like `(d, node)`: the bits of a non-negative `f32`, `+inf`
    /// included, order like its value once the sign bit is set, and those of a negative one
    /// (inner-product distances can be negative) once all bits are flipped. One integer
    /// comparison instead of a total float order and a tie-break.
    #[inline(always)]
    fn key(&self) -> u64 {
        let b = self.d.to_bits();
        let flip = ((b as i32) >> 31) as u32 | 0x8000_0000;
        (u64::from(b ^ flip) << 32) | self.node as u64
    }
}

impl Ord for Cand {
    #[inline(always)]
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.key().cmp(&o.key())
    }
}

/// The bounded result set of a best-first search, kept sorted (nearest first), which is also its
/// candidate queue: each entry carries whether it has been expanded, and the search expands the
/// nearest unexpanded entry until none is left. This is the two-heap search (a min-heap of
/// candidates, a max-heap of results bounded to `cap`) in one array: a candidate that falls out
/// of the results is farther than all of them, so the two-heap search stops before expanding it
/// anyway (up to exact distance ties). One binary search and one short move per admitted entry
/// replace three heap operations, and the results come out sorted.
#[derive(Default)]
pub(crate) struct Beam {
    items: Vec<(Cand, bool)>,
    /// Every entry before this index is expanded.
    next: usize,
    cap: usize,
}

impl Beam {
    /// Empties the beam and bounds it to `cap` (at least 1) entries.
    pub fn reset(&mut self, cap: usize) {
        self.items.clear();
        self.next = 0;
        self.cap = cap.max(1);
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Entries allocated.
    pub fn capacity(&self) -> usize {
        self.items.capacity()
    }

    /// The farthest entry when the beam is full (what a newcomer must beat), else `None`.
    #[inline]
    pub fn worst_if_full(&self) -> Option<Cand> {
        if self.items.len() >= self.cap {
            self.items.last().map(|e| e.0)
        } else {
            None
        }
    }

    /// Adds `c` (unexpanded) if the beam is not full or `c` beats its farthest entry, which then
    /// drops out; returns whether `c` was added.
    #[inline]
    pub fn push(&mut self, c: Cand) -> bool {
        if let Some(w) = self.worst_if_full() {
            if c >= w {
                return false;
            }
            self.items.pop();
        }
        let p = self.items.partition_point(|e| e.0 < c);
        self.items.insert(p, (c, false));
        self.next = self.next.min(p);
        true
    }

    /// The nearest unexpanded entry, now marked expanded.
    #[inline]
    pub fn pop_next(&mut self) -> Option<Cand> {
        while let Some(e) = self.items.get_mut(self.next) {
            self.next += 1;
            if !e.1 {
                e.1 = true;
                return Some(e.0);
            }
        }
        None
    }

    /// The nearest unexpanded entry, left unexpanded.
    #[inline]
    pub fn peek_next(&self) -> Option<Cand> {
        self.items
            .get(self.next..)
            .and_then(|rest| rest.iter().find(|e| !e.1))
            .map(|e| e.0)
    }

    /// The entries, nearest first.
    pub fn iter(&self) -> impl Iterator<Item = Cand> + '_ {
        self.items.iter().map(|e| e.0)
    }
}

/// The diversity rule of HNSW (Malkov & Yashunin 2018, "heuristic" neighbor selection): walk the
/// candidates from nearest to farthest and keep `c` only if it is at least as close to the new node
/// as to every neighbor kept so far (`dist(c, s) >= dist(c, new)`), up to `m` neighbors. This keeps
/// links pointing in different directions, so greedy search can leave a cluster; plain "m nearest"
/// tends to link only inside it. `sorted` must be ascending; `beaten(c, kept)` says whether some
/// node `s` of `kept` has `dist(c.node, s) < c.d` (squared distances between stored nodes; see
/// [`crate::Index::beaten`]).
pub(crate) fn select_diverse(
    sorted: &[Cand],
    m: usize,
    mut beaten: impl FnMut(Cand, &[u32]) -> bool,
    out: &mut Vec<u32>,
) {
    out.clear();
    for &c in sorted {
        if out.len() >= m {
            break;
        }
        if !beaten(c, out) {
            out.push(c.node);
        }
    }
}

/// [`select_diverse`] over `sorted` (ascending by `.0`), skipping comparisons whose outcome is
/// already known: the candidates flagged `true` are known to satisfy the rule among themselves (they
/// are a list [`select_diverse`] kept earlier), so each of them is only compared with the kept
/// candidates not flagged. The result is exactly [`select_diverse`]'s: a flagged candidate passes
/// every flagged one kept before it, because it passed all of them when they were selected.
/// Re-pruning a full list this way costs about `2 m` distances instead of `m^2 / 2`. `fresh` is
/// scratch.
pub(crate) fn reselect_diverse(
    sorted: &[(Cand, bool)],
    m: usize,
    mut beaten: impl FnMut(Cand, &[u32]) -> bool,
    out: &mut Vec<u32>,
    fresh: &mut Vec<u32>,
) {
    out.clear();
    fresh.clear();
    for &(c, known) in sorted {
        if out.len() >= m {
            break;
        }
        let against = if known { &fresh[..] } else { &out[..] };
        if !beaten(c, against) {
            out.push(c.node);
            if !known {
                fresh.push(c.node);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_and_set() {
        let mut g = Graph::new(3);
        g.grow(4);
        assert!(g.try_push(0, 1));
        assert!(g.try_push(0, 2));
        assert!(g.try_push(0, 3));
        assert!(!g.try_push(0, 1));
        let mut v = Vec::new();
        g.neighbors_into(0, &mut v);
        assert_eq!(v, vec![1, 2, 3]);
        g.set_links(0, &[3], 0);
        g.neighbors_into(0, &mut v);
        assert_eq!(v, vec![3]);
        let (c, l): (Vec<u32>, Vec<u32>) = (g.raw_counts().collect(), g.raw_slots().collect());
        assert_eq!((c.len(), l.len()), (4, 12));
        let mut g2 = Graph::new(3);
        g2.grow(4);
        g2.fill_counts(0, &c);
        g2.fill_slots(0, &l);
        g2.neighbors_into(0, &mut v);
        assert_eq!(v, vec![3]);
        assert!(g2.raw_counts().eq(c.iter().copied()) && g2.raw_slots().eq(l.iter().copied()));
    }

    #[test]
    fn beam_is_sorted_bounded_and_expands_nearest_first() {
        let c = |d: f32, node: u32| Cand { d, node };
        let mut b = Beam::default();
        b.reset(3);
        assert!(b.push(c(5.0, 1)));
        assert!(b.push(c(2.0, 2)));
        assert_eq!(b.worst_if_full(), None);
        assert_eq!(b.pop_next(), Some(c(2.0, 2)));
        assert!(b.push(c(9.0, 3)));
        assert_eq!(b.worst_if_full(), Some(c(9.0, 3)));
        assert!(!b.push(c(9.0, 4)), "a tie loses to the lower node number");
        assert!(b.push(c(1.0, 5)), "beats the worst, which drops out");
        let all: Vec<Cand> = b.iter().collect();
        assert_eq!(all, vec![c(1.0, 5), c(2.0, 2), c(5.0, 1)]);
        // 5 was inserted before the expanded 2: it is next, then 1; 2 is not expanded twice.
        assert_eq!(b.peek_next(), Some(c(1.0, 5)));
        assert_eq!(b.pop_next(), Some(c(1.0, 5)));
        assert_eq!(b.pop_next(), Some(c(5.0, 1)));
        assert_eq!(b.pop_next(), None);
        assert_eq!(b.peek_next(), None);
        b.reset(1);
        assert_eq!(b.len(), 0);
        assert!(b.push(c(3.0, 7)));
        assert!(b.push(c(2.0, 8)));
        assert_eq!(b.iter().collect::<Vec<_>>(), vec![c(2.0, 8)]);
    }

    #[test]
    fn reselect_with_a_known_diverse_prefix_equals_the_full_rule() {
        // Random 2-d points around node 0; a list kept by the rule (the known prefix), plus
        // links appended later and one newcomer: skipping the known pairs changes nothing.
        let mut state = 7u64;
        let mut saved = 0;
        let mut unit = || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            (state >> 40) as f32 / (1u64 << 24) as f32
        };
        for trial in 0..200 {
            let n = 60;
            let pos: Vec<(f32, f32)> = (0..n).map(|_| (unit(), unit())).collect();
            let calls = std::cell::Cell::new(0usize);
            let d = |a: u32, b: u32, _: f32| {
                calls.set(calls.get() + 1);
                let (p, q) = (pos[a as usize], pos[b as usize]);
                (p.0 - q.0).powi(2) + (p.1 - q.1).powi(2)
            };
            let beaten = |c: Cand, kept: &[u32]| kept.iter().any(|&s| d(c.node, s, c.d) < c.d);
            let cand = |v: &[u32]| -> Vec<Cand> {
                let mut c: Vec<Cand> = v
                    .iter()
                    .map(|&x| Cand {
                        d: d(0, x, f32::INFINITY),
                        node: x,
                    })
                    .collect();
                c.sort();
                c
            };
            let m = 4 + trial % 8;
            let first: Vec<u32> = (1..30).collect();
            let mut list = Vec::new();
            select_diverse(&cand(&first), m, beaten, &mut list);
            let known = list.len();
            let extra = 1 + trial % 6;
            list.extend(30..30 + extra as u32);
            list.push(50);
            let sorted = cand(&list);
            let mut want = Vec::new();
            calls.set(0);
            select_diverse(&sorted, m, beaten, &mut want);
            let full_calls = calls.get();
            let flagged: Vec<(Cand, bool)> = sorted
                .iter()
                .map(|c| (*c, list[..known].contains(&c.node)))
                .collect();
            let (mut got, mut fresh) = (Vec::new(), Vec::new());
            calls.set(0);
            reselect_diverse(&flagged, m, beaten, &mut got, &mut fresh);
            assert_eq!(got, want, "trial {trial}");
            assert!(calls.get() <= full_calls);
            saved += full_calls - calls.get();
        }
        assert!(saved > 0, "the known pairs are skipped");
    }

    #[test]
    fn diversity_rule_drops_shadowed_candidates() {
        // Points on a line: new node at 0; candidates at 1, 2 (behind 1) and -1.
        let pos = [0.0f32, 1.0, 2.0, -1.0];
        let d = |a: u32, b: u32, _: f32| (pos[a as usize] - pos[b as usize]).powi(2);
        let mut cands: Vec<Cand> = [1u32, 2, 3]
            .iter()
            .map(|&n| Cand {
                d: d(0, n, f32::INFINITY),
                node: n,
            })
            .collect();
        cands.sort();
        let beaten = |c: Cand, kept: &[u32]| kept.iter().any(|&s| d(c.node, s, c.d) < c.d);
        let mut out = Vec::new();
        select_diverse(&cands, 3, beaten, &mut out);
        // 2 is closer to 1 (d=1) than to the new node (d=4): dropped. -1 points the other way: kept.
        assert_eq!(out, vec![1, 3]);
        select_diverse(&cands, 1, beaten, &mut out);
        assert_eq!(out, vec![1]);
    }
}
