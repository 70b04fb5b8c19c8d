//! The spanning-tree basis of the primal network simplex for an uncapacitated transportation
//! network, and its pivot, after the `NetworkSimplex` class of LEMON 1.3 (Kovács, "Minimum-cost
//! flow algorithms: an experimental evaluation", Optim. Methods Softw. 30, 2015) as used by
//! Bonneel et al., "Displacement interpolation using Lagrangian mass transport" (SIGGRAPH Asia 2011).
//!
//! Nodes `0..n` are the sources (supply `a_i`), `n..n+m` the sinks (demand `b_j`) and `n + m` an
//! artificial root. Every node is joined to the root by an artificial arc; the real arcs are
//! `i → n + j` of cost `C_ij`. The basis is a strongly feasible spanning tree stored with the
//! parent / thread / rev_thread / last_succ arrays of LEMON and node depths (in place of LEMON's
//! subtree sizes: they find the join of a cycle in one walk and need no update along it), and the
//! node potentials `π` satisfy `c_e + π_source − π_target = 0` on every tree arc. The tree knows no arc set: a
//! node's tree arc is the one to its parent, kept with the node (its direction, cost and flow),
//! and a nonbasic arc carries no flow (the network is uncapacitated). So the same tree serves a
//! growing list of active arcs and the implicit complete bipartite graph alike.

/// Marks "no node" (the parent of the root).
const NONE: u32 = u32::MAX;

/// A real arc `source → target` (a row node and a column node) and its cost.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Arc {
    pub source: u32,
    pub target: u32,
    pub cost: f64,
}

/// The basis and the potentials of the network simplex.
pub(super) struct SpanningTree {
    pi: Vec<f64>,
    /// `π` rounded to `f32`, for the single-precision block search.
    pi_single: Vec<f32>,
    /// A bound on `max |π|`: exact after a refresh, raised by every potential update since.
    pi_bound: f64,
    parent: Vec<u32>,
    /// True when the tree arc of `u` is directed from `u` to its parent.
    pred_up: Vec<bool>,
    /// Cost of the tree arc of `u`.
    pred_cost: Vec<f64>,
    /// Flow on the tree arc of `u`.
    pred_flow: Vec<f64>,
    thread: Vec<u32>,
    rev_thread: Vec<u32>,
    last_succ: Vec<u32>,
    /// Number of tree arcs between `u` and the root.
    depth: Vec<u32>,
    dirty_revs: Vec<u32>,
    root: u32,
}

/// The entering arc, the cycle it closes and the leaving arc of one pivot.
struct Pivot {
    arc: Arc,
    join: u32,
    u_in: u32,
    v_in: u32,
    u_out: u32,
    delta: f64,
}

impl SpanningTree {
    /// The initial basis: every node hangs from the root by an artificial arc carrying its
    /// supply. Sources and empty sinks point to the root at cost 0; sinks with positive demand
    /// are fed by the root at cost `big_m`, which must exceed `max(max C, max C − min C)` so that
    /// no artificial arc carries flow at an optimum of the full problem.
    pub(super) fn new(a: &[f64], b: &[f64], big_m: f64) -> Self {
        let (n, m) = (a.len(), b.len());
        let nodes = n + m;
        let root = nodes as u32;
        let mut tree = Self {
            pi: vec![0.0; nodes + 1],
            pi_single: Vec::new(),
            pi_bound: 0.0,
            parent: vec![root; nodes + 1],
            pred_up: vec![true; nodes + 1],
            pred_cost: vec![0.0; nodes + 1],
            pred_flow: vec![0.0; nodes + 1],
            thread: (1..=nodes as u32 + 1).collect(),
            rev_thread: (0..=nodes as u32).map(|u| u.wrapping_sub(1)).collect(),
            last_succ: (0..=nodes as u32).collect(),
            depth: vec![1; nodes + 1],
            dirty_revs: Vec::new(),
            root,
        };
        tree.parent[nodes] = NONE;
        tree.thread[nodes] = 0;
        tree.rev_thread[0] = root;
        tree.last_succ[nodes] = root - 1;
        tree.depth[nodes] = 0;
        let supply = a.iter().copied().chain(b.iter().map(|&w| -w));
        for (u, s) in supply.enumerate() {
            tree.pred_flow[u] = s.abs();
            if s < 0.0 {
                tree.pred_up[u] = false;
                tree.pred_cost[u] = big_m;
                tree.pi[u] = big_m;
            }
        }
        tree.pi_single = tree.pi.iter().map(|&x| x as f32).collect();
        tree.pi_bound = tree.pi.iter().fold(0.0, |x, y| x.max(y.abs()));
        tree
    }

    /// Node potentials `π` (`c_e + π_source − π_target = 0` on tree arcs).
    pub(super) fn potentials(&self) -> &[f64] {
        &self.pi
    }

    /// `π` rounded to `f32`, and a bound on `max |π|`.
    pub(super) fn potentials_single(&self) -> (&[f32], f64) {
        (&self.pi_single, self.pi_bound)
    }

    /// Whether the real arc between row node `source` and column node `target` is in the tree.
    #[inline]
    pub(super) fn has_arc(&self, source: u32, target: u32) -> bool {
        self.parent[source as usize] == target || self.parent[target as usize] == source
    }

    /// Marks the nodes whose tree path to the root ends in an artificial arc root → sink. Their
    /// potentials carry the artificial cost M, so their reduced costs say more about M than
    /// about the transport problem.
    pub(super) fn fed_by_root(&self) -> Vec<bool> {
        let mut fed = vec![false; self.pi.len()];
        let mut flag = false;
        let mut u = self.thread[self.root as usize];
        while u != self.root {
            let ui = u as usize;
            if self.parent[ui] == self.root {
                flag = !self.pred_up[ui];
            }
            fed[ui] = flag;
            u = self.thread[ui];
        }
        fed
    }

    /// Iterates over `(source, target, flow)` of the real tree arcs that carry positive flow
    /// (nonbasic arcs carry none).
    pub(super) fn real_flows(&self) -> impl Iterator<Item = (u32, u32, f64)> + '_ {
        (0..self.root).filter_map(move |u| {
            let (ui, p) = (u as usize, self.parent[u as usize]);
            (p != self.root && self.pred_flow[ui] > 0.0).then(|| {
                let f = self.pred_flow[ui];
                if self.pred_up[ui] {
                    (u, p, f)
                } else {
                    (p, u, f)
                }
            })
        })
    }

    /// Recomputes every potential from the root along the thread order, removing the round-off
    /// that the incremental subtree updates accumulate.
    pub(super) fn refresh_potentials(&mut self) {
        let root = self.root as usize;
        self.pi[root] = 0.0;
        self.pi_single[root] = 0.0;
        self.pi_bound = 0.0;
        let mut u = self.thread[root];
        while u != self.root {
            let ui = u as usize;
            let p = self.parent[ui] as usize;
            self.pi[ui] = if self.pred_up[ui] {
                self.pi[p] - self.pred_cost[ui]
            } else {
                self.pi[p] + self.pred_cost[ui]
            };
            self.pi_single[ui] = self.pi[ui] as f32;
            self.pi_bound = self.pi_bound.max(self.pi[ui].abs());
            u = self.thread[ui];
        }
    }

    /// Brings `arc` (nonbasic, of negative reduced cost) into the basis: pushes flow around the
    /// cycle it closes, drops the leaving arc and re-hangs the cut-off subtree.
    pub(super) fn pivot(&mut self, arc: Arc) {
        let pivot = self.find_cycle(arc);
        self.change_flow(&pivot);
        self.update_tree(&pivot);
        self.update_potentials(&pivot);
    }

    /// Finds the join node of the cycle closed by `arc` and its leaving arc: the last blocking
    /// arc met when walking the cycle from the join in the direction of the flow change, which
    /// keeps the tree strongly feasible (Cunningham 1976) and rules out cycling. One walk up both
    /// tree paths, the deeper end first and then both in step, finds the join and the blocking
    /// arcs of both sides.
    fn find_cycle(&self, arc: Arc) -> Pivot {
        let (first, second) = (arc.source, arc.target);
        // On the first side flow falls on arcs pointing up; walking up from `first` runs against
        // the cycle's direction, so the first minimum met is the last in cycle order (strict <).
        // On the second side (arcs pointing down) the walk follows the cycle: keep the last
        // minimum (≤). Ties between the sides go to the second, which comes later in the cycle.
        let mut first_side = (f64::INFINITY, NONE);
        let mut second_side = (f64::INFINITY, NONE);
        let up_first = |tree: &Self, u: u32, best: &mut (f64, u32)| {
            let ui = u as usize;
            if tree.pred_up[ui] && tree.pred_flow[ui] < best.0 {
                *best = (tree.pred_flow[ui], u);
            }
            tree.parent[ui]
        };
        let up_second = |tree: &Self, u: u32, best: &mut (f64, u32)| {
            let ui = u as usize;
            if !tree.pred_up[ui] && tree.pred_flow[ui] <= best.0 {
                *best = (tree.pred_flow[ui], u);
            }
            tree.parent[ui]
        };
        let (mut u, mut v) = (first, second);
        let (du, dv) = (self.depth[u as usize], self.depth[v as usize]);
        for _ in dv..du {
            u = up_first(self, u, &mut first_side);
        }
        for _ in du..dv {
            v = up_second(self, v, &mut second_side);
        }
        while u != v {
            u = up_first(self, u, &mut first_side);
            v = up_second(self, v, &mut second_side);
        }
        let join = u;
        let on_first_side = second_side.0 > first_side.0;
        let (delta, u_out) = if on_first_side {
            first_side
        } else {
            second_side
        };
        debug_assert!(
            u_out != NONE,
            "an uncapacitated transportation network has no negative cycle"
        );
        let (u_in, v_in) = if on_first_side {
            (first, second)
        } else {
            (second, first)
        };
        Pivot {
            arc,
            join,
            u_in,
            v_in,
            u_out,
            delta,
        }
    }

    /// Pushes `delta` units around the cycle (the entering arc's new flow is set when it joins
    /// the tree, in `update_tree`).
    fn change_flow(&mut self, p: &Pivot) {
        if p.delta > 0.0 {
            // Along the cycle, flow falls on the source side of arcs pointing up the tree and
            // rises on the target side (and the reverse for arcs pointing down).
            for (start, sign) in [(p.arc.source, -1.0), (p.arc.target, 1.0)] {
                let mut u = start;
                while u != p.join {
                    let ui = u as usize;
                    let step = if self.pred_up[ui] { sign } else { -sign } * p.delta;
                    self.pred_flow[ui] += step;
                    u = self.parent[ui];
                }
            }
        }
    }

    /// Re-hangs the subtree cut off by the leaving arc below `v_in` (LEMON's
    /// `updateTreeStructure`): reverses the stem from `u_in` to `u_out` (each node there takes
    /// over the tree arc of the node above it) and updates the thread and last successors in
    /// time proportional to the stem and the moved subtrees.
    fn update_tree(&mut self, p: &Pivot) {
        let (u_in, v_in, u_out, join) = (p.u_in, p.v_in, p.u_out, p.join);
        let (ui, vi, uo) = (u_in as usize, v_in as usize, u_out as usize);
        let old_rev_thread = self.rev_thread[uo];
        let old_last_succ = self.last_succ[uo];
        let v_out = self.parent[uo];
        let in_up = u_in == p.arc.source;

        if u_in == u_out {
            self.parent[ui] = v_in;
            if self.thread[vi] != u_out {
                let after = self.thread[old_last_succ as usize];
                self.thread[old_rev_thread as usize] = after;
                self.rev_thread[after as usize] = old_rev_thread;
                let after = self.thread[vi];
                self.thread[vi] = u_out;
                self.rev_thread[uo] = v_in;
                self.thread[old_last_succ as usize] = after;
                self.rev_thread[after as usize] = old_last_succ;
            }
        } else {
            let thread_continue = if old_rev_thread == v_in {
                self.thread[old_last_succ as usize]
            } else {
                self.thread[vi]
            };
            let mut stem = u_in;
            let mut par_stem = v_in;
            let mut last = self.last_succ[ui];
            let mut after = self.thread[last as usize];
            self.thread[vi] = u_in;
            self.dirty_revs.clear();
            self.dirty_revs.push(v_in);
            while stem != u_out {
                let next_stem = self.parent[stem as usize];
                self.thread[last as usize] = next_stem;
                self.dirty_revs.push(last);
                let before = self.rev_thread[stem as usize];
                self.thread[before as usize] = after;
                self.rev_thread[after as usize] = before;
                self.parent[stem as usize] = par_stem;
                par_stem = stem;
                stem = next_stem;
                last = if self.last_succ[stem as usize] == self.last_succ[par_stem as usize] {
                    self.rev_thread[par_stem as usize]
                } else {
                    self.last_succ[stem as usize]
                };
                after = self.thread[last as usize];
            }
            self.parent[uo] = par_stem;
            self.thread[last as usize] = thread_continue;
            self.rev_thread[thread_continue as usize] = last;
            self.last_succ[uo] = last;
            if old_rev_thread != v_in {
                self.thread[old_rev_thread as usize] = after;
                self.rev_thread[after as usize] = old_rev_thread;
            }
            for &u in &self.dirty_revs {
                self.rev_thread[self.thread[u as usize] as usize] = u;
            }
            let tmp_ls = self.last_succ[uo];
            let mut u = u_out;
            while u != u_in {
                let (ux, px) = (u as usize, self.parent[u as usize] as usize);
                self.pred_cost[ux] = self.pred_cost[px];
                self.pred_flow[ux] = self.pred_flow[px];
                self.pred_up[ux] = !self.pred_up[px];
                self.last_succ[px] = tmp_ls;
                u = px as u32;
            }
        }
        self.pred_up[ui] = in_up;
        self.pred_cost[ui] = p.arc.cost;
        self.pred_flow[ui] = p.delta;

        let up_limit_out = if self.last_succ[join as usize] == v_in {
            join
        } else {
            NONE
        };
        let last_succ_out = self.last_succ[uo];
        let mut u = v_in;
        while u != NONE && self.last_succ[u as usize] == v_in {
            self.last_succ[u as usize] = last_succ_out;
            u = self.parent[u as usize];
        }
        if join != old_rev_thread && v_in != old_rev_thread {
            let mut u = v_out;
            while u != up_limit_out && self.last_succ[u as usize] == old_last_succ {
                self.last_succ[u as usize] = old_rev_thread;
                u = self.parent[u as usize];
            }
        } else if last_succ_out != old_last_succ {
            let mut u = v_out;
            while u != up_limit_out && self.last_succ[u as usize] == old_last_succ {
                self.last_succ[u as usize] = last_succ_out;
                u = self.parent[u as usize];
            }
        }
    }

    /// Shifts the potentials of the re-hung subtree so that the entering arc has zero reduced
    /// cost (and their `f32` copies and bound), and recomputes its depths (in thread order,
    /// parents before children).
    fn update_potentials(&mut self, p: &Pivot) {
        let (ui, vi) = (p.u_in as usize, p.v_in as usize);
        let c = p.arc.cost;
        let sigma = self.pi[vi] - self.pi[ui] - if self.pred_up[ui] { c } else { -c };
        let end = self.thread[self.last_succ[ui] as usize];
        let mut u = p.u_in;
        let mut bound = self.pi_bound;
        while u != end {
            let ux = u as usize;
            let pi = self.pi[ux] + sigma;
            self.pi[ux] = pi;
            self.pi_single[ux] = pi as f32;
            bound = bound.max(pi.abs());
            self.depth[ux] = self.depth[self.parent[ux] as usize] + 1;
            u = self.thread[ux];
        }
        self.pi_bound = bound;
    }
}

#[cfg(test)]
mod tests {
    use super::super::block_search::{AllArcs, EnteringArc};
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    impl SpanningTree {
        /// Checks every stored quantity against its definition from the parent array alone:
        /// depth, the thread as a preorder with last successors, zero reduced
        /// cost on tree arcs, flow conservation (supplies `a`, demands `b`) and strong
        /// feasibility (an arc without flow points up).
        fn assert_consistent(&self, a: &[f64], b: &[f64]) {
            let nodes = self.parent.len();
            let root = self.root as usize;
            let children = |u: usize| (0..nodes).filter(move |&w| self.parent[w] as usize == u);
            let mut order = Vec::new();
            let mut stack = vec![root];
            while let Some(u) = stack.pop() {
                order.push(u);
                stack.extend(children(u));
            }
            assert_eq!(order.len(), nodes, "the parent array is a tree");
            let mut size = vec![1; nodes];
            for &u in order.iter().rev() {
                if u != root {
                    size[self.parent[u] as usize] += size[u];
                }
            }
            let mut u = root;
            for _ in 0..nodes {
                let size = size[u];
                let mut w = u;
                for _ in 1..size {
                    w = self.thread[w] as usize;
                    let mut x = w;
                    while x != u {
                        x = self.parent[x] as usize;
                        assert!(x != NONE as usize, "thread leaves the subtree of {u}");
                    }
                }
                assert_eq!(w, self.last_succ[u] as usize, "last successor of {u}");
                assert_eq!(self.rev_thread[self.thread[u] as usize] as usize, u);
                if u != root {
                    let p = self.parent[u] as usize;
                    assert_eq!(self.depth[u], self.depth[p] + 1, "depth of {u}");
                    let (s, t) = if self.pred_up[u] { (u, p) } else { (p, u) };
                    let r = self.pred_cost[u] + self.pi[s] - self.pi[t];
                    assert!(r.abs() <= 1e-9, "tree arc of {u}: reduced cost {r}");
                    assert!(self.pred_flow[u] >= 0.0);
                    assert!(
                        self.pred_flow[u] > 0.0 || self.pred_up[u],
                        "{u} is not strongly feasible"
                    );
                }
                u = self.thread[u] as usize;
            }
            assert_eq!(u, root, "the thread is one cycle through all nodes");
            let supply: Vec<f64> = a.iter().copied().chain(b.iter().map(|&w| -w)).collect();
            let mut net = vec![0.0; nodes];
            for u in 0..nodes {
                if u != root {
                    let p = self.parent[u] as usize;
                    let (s, t) = if self.pred_up[u] { (u, p) } else { (p, u) };
                    net[s] += self.pred_flow[u];
                    net[t] -= self.pred_flow[u];
                }
            }
            for (u, &want) in supply.iter().enumerate() {
                assert!((net[u] - want).abs() <= 1e-12, "conservation at {u}");
            }
        }
    }

    #[test]
    fn every_pivot_keeps_the_tree_consistent() {
        // Truth: the definitions in `assert_consistent`, recomputed from the parent array after
        // every pivot of block searches on random costs, with ties (integer costs) and uneven
        // weights, until optimal.
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        for (n, m, ties) in [
            (7, 5, false),
            (12, 12, true),
            (20, 9, true),
            (16, 16, false),
        ] {
            let c: Vec<f64> = (0..n * m)
                .map(|_| {
                    let x: f64 = rng.gen_range(0.0..5.0);
                    if ties {
                        x.round()
                    } else {
                        x
                    }
                })
                .collect();
            let a = vec![1.0 / n as f64; n];
            let mut b: Vec<f64> = (0..m).map(|_| rng.gen_range(0.5..1.5)).collect();
            let total: f64 = b.iter().sum();
            b.iter_mut().for_each(|w| *w /= total);
            let mut tree = SpanningTree::new(&a, &b, 20.0);
            let mut arcs = AllArcs::new(&c, n, m, 5.0);
            tree.assert_consistent(&a, &b);
            let mut pivots = 0;
            while let Some(arc) = arcs.find(&tree, 1e-12) {
                tree.pivot(arc);
                tree.assert_consistent(&a, &b);
                pivots += 1;
                assert!(pivots < 10_000, "the block search cycles");
            }
            assert!(pivots > 0);
        }
    }
}
