//! The spanning-tree basis of the primal network simplex for an uncapacitated transportation
//! network, and its pivot, after the `NetworkSimplex` class of LEMON 1.3 (Kovács, "Minimum-cost
//! flow algorithms: an experimental evaluation", Optim. Methods Softw. 30, 2015) as used by
//! Bonneel et al., "Displacement interpolation using Lagrangian mass transport" (SIGGRAPH Asia 2011).
//!
//! Nodes `0..n` are the sources (supply `a_i`), `n..n+m` the sinks (demand `b_j`) and `n + m` an
//! artificial root. Every node is joined to the root by an artificial arc; the real arcs are
//! `i → n + j` of cost `C_ij`. The basis is a strongly feasible spanning tree stored with the
//! parent / thread / rev_thread / succ_num / last_succ arrays of LEMON, and the node potentials
//! `π` satisfy `c_e + π_source − π_target = 0` on every tree arc. The tree knows no arc set: a
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
    parent: Vec<u32>,
    /// True when the tree arc of `u` is directed from `u` to its parent.
    pred_up: Vec<bool>,
    /// Cost of the tree arc of `u`.
    pred_cost: Vec<f64>,
    /// Flow on the tree arc of `u`.
    pred_flow: Vec<f64>,
    thread: Vec<u32>,
    rev_thread: Vec<u32>,
    succ_num: Vec<u32>,
    last_succ: Vec<u32>,
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
            parent: vec![root; nodes + 1],
            pred_up: vec![true; nodes + 1],
            pred_cost: vec![0.0; nodes + 1],
            pred_flow: vec![0.0; nodes + 1],
            thread: (1..=nodes as u32 + 1).collect(),
            rev_thread: (0..=nodes as u32).map(|u| u.wrapping_sub(1)).collect(),
            succ_num: vec![1; nodes + 1],
            last_succ: (0..=nodes as u32).collect(),
            dirty_revs: Vec::new(),
            root,
        };
        tree.parent[nodes] = NONE;
        tree.thread[nodes] = 0;
        tree.rev_thread[0] = root;
        tree.succ_num[nodes] = nodes as u32 + 1;
        tree.last_succ[nodes] = root - 1;
        let supply = a.iter().copied().chain(b.iter().map(|&w| -w));
        for (u, s) in supply.enumerate() {
            tree.pred_flow[u] = s.abs();
            if s < 0.0 {
                tree.pred_up[u] = false;
                tree.pred_cost[u] = big_m;
                tree.pi[u] = big_m;
            }
        }
        tree
    }

    /// Node potentials `π` (`c_e + π_source − π_target = 0` on tree arcs).
    pub(super) fn potentials(&self) -> &[f64] {
        &self.pi
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
        let mut u = self.thread[root];
        while u != self.root {
            let ui = u as usize;
            let p = self.parent[ui] as usize;
            self.pi[ui] = if self.pred_up[ui] {
                self.pi[p] - self.pred_cost[ui]
            } else {
                self.pi[p] + self.pred_cost[ui]
            };
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
    /// keeps the tree strongly feasible (Cunningham 1976) and rules out cycling.
    fn find_cycle(&self, arc: Arc) -> Pivot {
        let (first, second) = (arc.source, arc.target);
        let (mut u, mut v) = (first, second);
        while u != v {
            if self.succ_num[u as usize] < self.succ_num[v as usize] {
                u = self.parent[u as usize];
            } else {
                v = self.parent[v as usize];
            }
        }
        let join = u;
        let mut delta = f64::INFINITY;
        let mut u_out = NONE;
        let mut on_first_side = true;
        let mut u = first;
        while u != join {
            let ui = u as usize;
            if self.pred_up[ui] {
                let d = self.pred_flow[ui];
                if d < delta {
                    delta = d;
                    u_out = u;
                }
            }
            u = self.parent[ui];
        }
        let mut u = second;
        while u != join {
            let ui = u as usize;
            if !self.pred_up[ui] {
                let d = self.pred_flow[ui];
                if d <= delta {
                    delta = d;
                    u_out = u;
                    on_first_side = false;
                }
            }
            u = self.parent[ui];
        }
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
    /// over the tree arc of the node above it) and updates the thread, subtree sizes and last
    /// successors in time proportional to the stem and the moved subtrees.
    fn update_tree(&mut self, p: &Pivot) {
        let (u_in, v_in, u_out, join) = (p.u_in, p.v_in, p.u_out, p.join);
        let (ui, vi, uo) = (u_in as usize, v_in as usize, u_out as usize);
        let old_rev_thread = self.rev_thread[uo];
        let old_succ_num = self.succ_num[uo];
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
            let mut tmp_sc = 0;
            let tmp_ls = self.last_succ[uo];
            let mut u = u_out;
            while u != u_in {
                let (ux, px) = (u as usize, self.parent[u as usize] as usize);
                self.pred_cost[ux] = self.pred_cost[px];
                self.pred_flow[ux] = self.pred_flow[px];
                self.pred_up[ux] = !self.pred_up[px];
                tmp_sc += self.succ_num[ux] - self.succ_num[px];
                self.succ_num[ux] = tmp_sc;
                self.last_succ[px] = tmp_ls;
                u = px as u32;
            }
            self.succ_num[ui] = old_succ_num;
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
        let mut u = v_in;
        while u != join {
            self.succ_num[u as usize] += old_succ_num;
            u = self.parent[u as usize];
        }
        let mut u = v_out;
        while u != join {
            self.succ_num[u as usize] -= old_succ_num;
            u = self.parent[u as usize];
        }
    }

    /// Shifts the potentials of the re-hung subtree so that the entering arc has zero reduced
    /// cost.
    fn update_potentials(&mut self, p: &Pivot) {
        let (ui, vi) = (p.u_in as usize, p.v_in as usize);
        let c = p.arc.cost;
        let sigma = self.pi[vi] - self.pi[ui] - if self.pred_up[ui] { c } else { -c };
        let end = self.thread[self.last_succ[ui] as usize];
        let mut u = p.u_in;
        while u != end {
            self.pi[u as usize] += sigma;
            u = self.thread[u as usize];
        }
    }
}
