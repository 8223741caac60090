//! Orphan repair: after the diversity rule has dropped links, link back every base-graph node
//! that a search from the root can no longer reach, and the rule for when a build runs the pass.

use crate::graph::Cand;
use crate::index::Index;
use crate::scratch::{BuildDist, Scratch};
use crate::walk::{Start, Walk};

/// A build ([`Index::build`]) runs the orphan pass once the nodes linked since the last pass reach
/// `1/REPAIR_FRACTION` of the index: the pass reads every list once, so its cost stays a small
/// fraction of the insertion work it follows.
const REPAIR_FRACTION: usize = 64;

impl Index {
    /// Whether the nodes added since the last orphan pass reach 1/64 of the graph, so that a build
    /// runs a pass.
    pub(crate) fn repair_due(&self) -> bool {
        self.unlinked_since_repair > 0
            && self.unlinked_since_repair * REPAIR_FRACTION >= self.graph.len()
    }

    /// Links every node of the base graph that a search from the root cannot reach, and returns
    /// how many nodes it linked. The root is the hierarchy's entry node, or node 0 on a flat
    /// graph. A search that starts from the root (or descends to the base graph through the
    /// layers) never reaches such an orphan, so searching for its own vector would not find it.
    /// The diversity rule makes a few: when a full list is re-selected, a node whose only in-link
    /// it was can be dropped (about 1 node in 800 on 100,000 clustered 128-d vectors), and a few
    /// such nodes can link only among themselves.
    ///
    /// For each unreached node `u` (ascending), the link `v -> u` is offered to reached nodes
    /// `v`, nearest to `u` first: those `u` links to, then the reached results of a base-graph
    /// search for `u`'s vector from the root (beam `ef_construction`). It is appended to the
    /// first of them whose list has room; if none has, it replaces the link of the first that
    /// links to a neighbour another reached node also links to (its farthest such), so no list
    /// exceeds `max_degree`; failing both (ties and exact duplicates can fill every list near `u`
    /// with links that are the sole in-link of their target), it is appended to any reached node
    /// with room. Everything `u` reaches is then reached. A replaced link can still cut a node
    /// off (when its other in-link was reached only through it), so the pass repeats, up to 4
    /// rounds, until everything is reached; a node no offer can take (every reached list full)
    /// stays unlinked. A build calls this by itself once the nodes linked since the last pass
    /// reach 1/64 of the index; call it after a stream of small adds or an add stopped early.
    /// Each round reads every list once (O(n * max_degree)); each orphan costs a few list
    /// scorings (`max_degree` distance computations each) and, unless a list it links to has
    /// room, one search.
    pub fn link_orphans(&mut self) -> usize {
        self.repair().0
    }

    /// The node the orphan pass makes every node reachable from: the hierarchy's entry node, or
    /// on a flat graph (or an empty index) the lowest linked slot in use (node 0 until a
    /// removal).
    pub(crate) fn root(&self) -> u32 {
        match &self.layers {
            Some(l) => l.entry().map_or(self.flat_root, |(e, _)| e),
            None => self.flat_root,
        }
    }

    /// [`Index::link_orphans`], also returning the distance computations it took.
    pub(crate) fn repair(&mut self) -> (usize, u64) {
        self.unlinked_since_repair = 0;
        let n = self.graph.len();
        if n < 2 {
            return (0, 0);
        }
        let root = self.root();
        let g = &self.graph;
        // Free slots and refilled ones awaiting links are not orphans: they have no links yet.
        let mut skip: Vec<bool> = (0..n as u32).map(|u| self.is_dead(u)).collect();
        for &r in &self.relink {
            skip[r as usize] = true;
        }
        let mut dtw = BuildDist::default();
        let mut s = self.take_scratch();
        // Unreached when the pass began: what it counts as linked if they are reached at the end.
        let mut orphan: Option<Vec<bool>> = None;
        let (mut cands, mut list, mut queue) = (Vec::new(), Vec::new(), Vec::new());
        let mut searched = Vec::new();
        let mut room_cursor = 0;
        let mut spread = |from: u32, reached: &mut Vec<bool>, indeg: &mut Vec<u32>| {
            reached[from as usize] = true;
            queue.clear();
            queue.push(from);
            while let Some(v) = queue.pop() {
                for w in g.links(v) {
                    indeg[w as usize] += 1;
                    if !std::mem::replace(&mut reached[w as usize], true) {
                        queue.push(w);
                    }
                }
            }
        };
        let mut reached = Vec::new();
        for round in 0..5 {
            // In-links from reached nodes only: a link may be given up only by a node whose
            // target keeps another in-link from the reached part of the graph.
            let mut indeg = vec![0u32; n];
            reached = vec![false; n];
            spread(root, &mut reached, &mut indeg);
            if reached.iter().zip(&skip).all(|(&r, &k)| r || k) {
                break;
            }
            orphan.get_or_insert_with(|| {
                reached.iter().zip(&skip).map(|(&r, &k)| !r && !k).collect()
            });
            if round == 4 {
                // A replacement can cut off what an earlier one linked (its target's other
                // in-link was reached only through it), and rounds of them can cycle: the last
                // round only appends, which cuts nothing off.
                for u in 0..n as u32 {
                    if reached[u as usize] || skip[u as usize] {
                        continue;
                    }
                    if !self.append_anywhere(u, &reached, &mut indeg, &mut room_cursor) {
                        break; // no reached list has room, and appends only fill lists
                    }
                    spread(u, &mut reached, &mut indeg);
                }
                break;
            }
            let mut room_left = true;
            for u in 0..n as u32 {
                if reached[u as usize] || skip[u as usize] {
                    continue;
                }
                // Offer the link `v -> u` to the reached nodes `u` links to, nearest first,
                // then to the reached results of a search for `u` from the root: first as an
                // append to a list with room, then in place of a link the list can spare; as a
                // last resort to any reached node with room (ties and exact duplicates can fill
                // every list near `u` with links nothing else replaces).
                cands.clear();
                cands.extend(g.links(u).filter(|&v| reached[v as usize]).map(|v| Cand {
                    d: self.node_dist_sq(u, v, f32::INFINITY, &mut dtw),
                    node: v,
                }));
                cands.sort_unstable();
                let own = cands.len();
                let mut done = cands
                    .iter()
                    .any(|c| self.append_link(c.node, u, &mut indeg));
                if !done {
                    self.search_reached(u, root, &reached, &mut s, &mut searched);
                    searched.retain(|c| !cands[..own].iter().any(|t| t.node == c.node));
                    searched.sort_unstable();
                    cands.append(&mut searched);
                    done = cands[own..]
                        .iter()
                        .any(|c| self.append_link(c.node, u, &mut indeg));
                }
                if !done {
                    done = cands
                        .iter()
                        .any(|c| self.replace_link(c.node, u, &mut indeg, &mut list, &mut dtw));
                }
                // Appends only fill lists, so once a scan finds no room none will this round
                // (unless a replacement reaches new nodes; the next round looks again).
                if !done && room_left {
                    room_left = self.append_anywhere(u, &reached, &mut indeg, &mut room_cursor);
                    done = room_left;
                }
                if done {
                    spread(u, &mut reached, &mut indeg);
                }
            }
        }
        let calls = dtw.calls + std::mem::take(&mut s.stats).distance_calls;
        self.give_scratch(s);
        // Linked = unreached at the start and reached at the end (the last round's `reached` is
        // exact: appends cut nothing off; after an earlier break everything is reached).
        let linked = orphan.map_or(0, |o| {
            o.iter()
                .zip(&reached)
                .filter(|&(&was, &now)| was && now)
                .count()
        });
        (linked, calls)
    }

    /// The reached nodes among the results of a base-graph search for node `u`'s vector from
    /// `root` (beam `ef_construction`), into `out`.
    fn search_reached(
        &self,
        u: u32,
        root: u32,
        reached: &[bool],
        s: &mut Scratch,
        out: &mut Vec<Cand>,
    ) {
        let q = self.store.row(u as usize);
        s.prep
            .prepare(self.store.metric, self.store.channels, self.store.window, q);
        let d = self.eval_node(q, root, f32::INFINITY, s);
        let ef = self.params.ef_construction;
        let root_seed = [Cand { d, node: root }];
        let walk = Walk {
            query: q,
            coded: None,
            exclude: Some(u),
            k: ef,
            ef,
            restarts: 1,
            start: Start::Seeds(&root_seed),
            root: None,
            limit: self.graph.len(),
            seed: 0,
        };
        self.walk(&walk, s);
        out.extend(s.top.drain().filter(|c| reached[c.node as usize]));
    }

    /// Appends the link `v -> u` if `v`'s list has room; returns whether it did. `indeg`
    /// follows.
    fn append_link(&self, v: u32, u: u32, indeg: &mut [u32]) -> bool {
        let _lock = self.graph.lock(v);
        let pushed = self.graph.try_push(v, u);
        if pushed {
            indeg[u as usize] += 1;
        }
        pushed
    }

    /// Puts the link `v -> u` in place of `v`'s link to its farthest neighbour that keeps another
    /// in-link from the reached part (`indeg >= 2`); returns whether `v` had one. `indeg` follows.
    fn replace_link(
        &self,
        v: u32,
        u: u32,
        indeg: &mut [u32],
        list: &mut Vec<Cand>,
        dtw: &mut BuildDist,
    ) -> bool {
        let g = &self.graph;
        let _lock = g.lock(v);
        list.clear();
        list.extend(g.links(v).map(|w| Cand {
            d: self.node_dist_sq(v, w, f32::INFINITY, dtw),
            node: w,
        }));
        list.sort_unstable();
        let Some(pos) = list.iter().rposition(|c| indeg[c.node as usize] >= 2) else {
            return false;
        };
        indeg[list[pos].node as usize] -= 1;
        indeg[u as usize] += 1;
        let d = self.node_dist_sq(v, u, f32::INFINITY, dtw);
        list[pos] = Cand { d, node: u };
        list.sort_unstable();
        let nodes: Vec<u32> = list.iter().map(|c| c.node).collect();
        // The list changed outside the diversity rule: no prefix is known diverse.
        g.set_links(v, &nodes, 0);
        true
    }

    /// Appends the link `v -> u` for the first reached node `v` from `*cursor` on (wrapping
    /// around once) whose list has room; returns whether one had. `indeg` follows. The cursor stays where the
    /// last link went, so a pass that links many orphans this way reads each list about once.
    fn append_anywhere(
        &self,
        u: u32,
        reached: &[bool],
        indeg: &mut [u32],
        cursor: &mut usize,
    ) -> bool {
        let g = &self.graph;
        let n = reached.len();
        for step in 0..n {
            let v = ((*cursor + step) % n) as u32;
            if v == u || !reached[v as usize] || g.degree(v) >= g.max_degree {
                continue;
            }
            if self.append_link(v, u, indeg) {
                *cursor = v as usize;
                return true;
            }
        }
        false
    }
}
