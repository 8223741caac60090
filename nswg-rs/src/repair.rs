//! Orphan repair: after the diversity rule has dropped links, link back every base-graph node
//! that a search from the root can no longer reach, and the rule for when `add` runs the pass.

use crate::graph::{Cand, Layers};
use crate::index::Index;
use crate::scratch::BuildDist;
use crate::walk::{Start, Walk};

/// `add` runs the orphan pass once the nodes inserted since the last pass reach
/// `1/REPAIR_FRACTION` of the index: the pass reads every list once, so its cost stays a small
/// fraction of the insertion work it follows.
const REPAIR_FRACTION: usize = 64;

impl Index {
    /// Whether the nodes added since the last orphan pass reach 1/64 of the index, so that `add`
    /// runs a pass.
    pub(crate) fn repair_due(&self) -> bool {
        self.unlinked_since_repair > 0 && self.unlinked_since_repair * REPAIR_FRACTION >= self.len()
    }

    /// Links every node of the base graph that a search from the root cannot reach, and returns
    /// how many nodes it linked. The root is the hierarchy's entry node, or node 0 on a flat
    /// graph. A search that starts from the root (or descends to the base graph through the
    /// layers) never reaches such an orphan, so searching for its own vector would not find it.
    /// The diversity rule makes a few: when a full list is re-selected, a node whose only in-link
    /// it was can be dropped (about 1 node in 800 on 100,000 clustered 128-d vectors), and a few
    /// such nodes can link only among themselves.
    ///
    /// For each unreached node `u` (ascending), the link `v -> u` is offered to the nodes `v` that
    /// are reached, nearest to `u` first: those `u` links to, or when it links to none, the
    /// results of a base-graph search for `u`'s vector from the root (beam `ef_construction`).
    /// The link is appended if `v`'s list has room, else it replaces the link of `v` to its
    /// farthest neighbour that another reached node also links to, so no list exceeds
    /// `max_degree`. Everything `u` reaches is then reached. A replaced link can still cut a node
    /// off (when its other in-link was reached only through it), so the pass repeats, up to 4
    /// rounds, until everything is reached; a node no offer can take stays unlinked (not seen in
    /// the tests or benchmarks). `add` calls this by itself once the nodes inserted since the last
    /// pass reach 1/64 of the index; call it after a stream of small adds or an add stopped early.
    /// Each round reads every list once (O(n * max_degree)); each orphan costs a few list scorings
    /// (`max_degree` distance computations each) and, when it links to no reached node, one search.
    pub fn link_orphans(&mut self) -> usize {
        self.repair().0
    }

    /// [`Index::link_orphans`], also returning the distance computations it took.
    pub(crate) fn repair(&mut self) -> (usize, u64) {
        self.unlinked_since_repair = 0;
        let n = self.len();
        if n < 2 {
            return (0, 0);
        }
        let root = self
            .layers
            .as_ref()
            .and_then(Layers::entry)
            .map_or(0, |(e, _)| e);
        let g = &self.graph;
        let mut dtw = BuildDist::default();
        let mut s = self.take_scratch();
        let mut was_linked = vec![false; n];
        let (mut cands, mut list, mut queue) = (Vec::new(), Vec::new(), Vec::new());
        for _round in 0..4 {
            // In-links from reached nodes only: a link may be given up only by a node whose
            // target keeps another in-link from the reached part of the graph.
            let mut indeg = vec![0u32; n];
            let mut reached = vec![false; n];
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
            spread(root, &mut reached, &mut indeg);
            if reached.iter().all(|&r| r) {
                break;
            }
            for u in 0..n as u32 {
                if reached[u as usize] {
                    continue;
                }
                cands.clear();
                cands.extend(g.links(u).filter(|&v| reached[v as usize]).map(|v| Cand {
                    d: self.node_dist_sq(u, v, f32::INFINITY, &mut dtw),
                    node: v,
                }));
                if cands.is_empty() {
                    let q = self.store.row(u as usize);
                    s.prep.prepare(self.store.metric, q);
                    let d = self.eval_node(q, root, f32::INFINITY, &mut s);
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
                        limit: n,
                        seed: 0,
                    };
                    self.walk(&walk, &mut s);
                    cands.extend(s.top.drain().filter(|c| reached[c.node as usize]));
                }
                cands.sort_unstable();
                let mut done = false;
                for &Cand { node: v, .. } in &cands {
                    let _lock = g.lock(v);
                    if g.try_push(v, u) {
                        indeg[u as usize] += 1;
                        done = true;
                        break;
                    }
                    list.clear();
                    list.extend(g.links(v).map(|w| Cand {
                        d: self.node_dist_sq(v, w, f32::INFINITY, &mut dtw),
                        node: w,
                    }));
                    list.sort_unstable();
                    let Some(pos) = list.iter().rposition(|c| indeg[c.node as usize] >= 2) else {
                        continue;
                    };
                    indeg[list[pos].node as usize] -= 1;
                    indeg[u as usize] += 1;
                    let d = self.node_dist_sq(v, u, f32::INFINITY, &mut dtw);
                    list[pos] = Cand { d, node: u };
                    list.sort_unstable();
                    let nodes: Vec<u32> = list.iter().map(|c| c.node).collect();
                    // The list changed outside the diversity rule: no prefix is known diverse.
                    g.set_links(v, &nodes, 0);
                    done = true;
                    break;
                }
                if done {
                    was_linked[u as usize] = true;
                    spread(u, &mut reached, &mut indeg);
                }
            }
        }
        let calls = dtw.calls + std::mem::take(&mut s.stats).distance_calls;
        self.give_scratch(s);
        (was_linked.iter().filter(|&&l| l).count(), calls)
    }
}
