//! The spanning-tree basis of the primal network simplex for an uncapacitated transportation
//! network, and its pivot, after the `NetworkSimplex` class of LEMON 1.3 (Kovács, "Minimum-cost
//! flow algorithms: an experimental evaluation", Optim. Methods Softw. 30, 2015) as used by
//! Bonneel et al., "Displacement interpolation using Lagrangian mass transport" (SIGGRAPH Asia 2011).
//!
//! Nodes `0..n` are the sources (supply `a_i`), `n..n+m` the sinks (demand `b_j`) and `n + m` an
//! artificial root. Arcs `0..n+m` are artificial arcs between each node and the root; the arcs
//! after them are real arcs `i → n + j` of cost `C_ij`, appended by the caller (column
//! generation) at zero flow. The basis is a strongly feasible spanning tree stored with the
//! parent / pred / thread / rev_thread / succ_num / last_succ arrays of LEMON, and the node
//! potentials `π` satisfy `c_e + π_source − π_target = 0` on every tree arc.

/// Marks "no node" (the parent of the root).
const NONE: u32 = u32::MAX;

/// The basis, the arcs and the potentials of the network simplex.
pub(super) struct SpanningTree {
    source: Vec<u32>,
    target: Vec<u32>,
    cost: Vec<f64>,
    flow: Vec<f64>,
    in_tree: Vec<bool>,
    pi: Vec<f64>,
    parent: Vec<u32>,
    pred: Vec<usize>,
    /// True when `pred[u]` is directed from `u` to its parent.
    pred_up: Vec<bool>,
    thread: Vec<u32>,
    rev_thread: Vec<u32>,
    succ_num: Vec<u32>,
    last_succ: Vec<u32>,
    dirty_revs: Vec<u32>,
    root: u32,
    next_arc: usize,
}

/// The entering arc, the cycle it closes and the leaving arc of one pivot.
struct Pivot {
    in_arc: usize,
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
            source: Vec::with_capacity(nodes),
            target: Vec::with_capacity(nodes),
            cost: Vec::with_capacity(nodes),
            flow: Vec::with_capacity(nodes),
            in_tree: vec![true; nodes],
            pi: vec![0.0; nodes + 1],
            parent: vec![root; nodes + 1],
            pred: (0..=nodes).collect(),
            pred_up: vec![true; nodes + 1],
            thread: (1..=nodes as u32 + 1).collect(),
            rev_thread: (0..=nodes as u32).map(|u| u.wrapping_sub(1)).collect(),
            succ_num: vec![1; nodes + 1],
            last_succ: (0..=nodes as u32).collect(),
            dirty_revs: Vec::new(),
            root,
            next_arc: nodes,
        };
        tree.parent[nodes] = NONE;
        tree.thread[nodes] = 0;
        tree.rev_thread[0] = root;
        tree.succ_num[nodes] = nodes as u32 + 1;
        tree.last_succ[nodes] = root - 1;
        let supply = a.iter().copied().chain(b.iter().map(|&w| -w));
        for (u, s) in supply.enumerate() {
            if s >= 0.0 {
                tree.push_arc(u as u32, root, 0.0, s.abs());
            } else {
                tree.push_arc(root, u as u32, big_m, s.abs());
                tree.pred_up[u] = false;
                tree.pi[u] = big_m;
            }
        }
        tree
    }

    fn push_arc(&mut self, source: u32, target: u32, cost: f64, flow: f64) {
        self.source.push(source);
        self.target.push(target);
        self.cost.push(cost);
        self.flow.push(flow);
    }

    /// Number of artificial arcs (they come first and are never priced).
    pub(super) fn artificial_arcs(&self) -> usize {
        self.root as usize
    }

    /// Appends a real nonbasic arc `source → target` at zero flow; the basis stays valid.
    pub(super) fn add_arc(&mut self, source: u32, target: u32, cost: f64) {
        self.push_arc(source, target, cost, 0.0);
        self.in_tree.push(false);
    }

    /// Node potentials `π` (`c_e + π_source − π_target = 0` on tree arcs).
    pub(super) fn potentials(&self) -> &[f64] {
        &self.pi
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

    /// Iterates over `(source, target, flow)` of the arcs after the artificial ones that carry
    /// positive flow.
    pub(super) fn real_flows(&self) -> impl Iterator<Item = (u32, u32, f64)> + '_ {
        let first = self.artificial_arcs();
        (first..self.flow.len())
            .filter(move |&e| self.flow[e] > 0.0)
            .map(move |e| (self.source[e], self.target[e], self.flow[e]))
    }

    /// Recomputes every potential from the root along the thread order, removing the round-off
    /// that the incremental subtree updates accumulate.
    pub(super) fn refresh_potentials(&mut self) {
        let root = self.root as usize;
        self.pi[root] = 0.0;
        let mut u = self.thread[root];
        while u != self.root {
            let (ui, e) = (u as usize, self.pred[u as usize]);
            let p = self.parent[ui] as usize;
            self.pi[ui] = if self.pred_up[ui] {
                self.pi[p] - self.cost[e]
            } else {
                self.pi[p] + self.cost[e]
            };
            u = self.thread[ui];
        }
    }

    /// Block search (Grigoriadis 1986; LEMON's default rule): scans the real arcs cyclically in
    /// blocks of about √(#arcs) and returns the arc of most negative reduced cost
    /// `c_e + π_source − π_target < −tol` in the first block that holds one.
    fn find_entering_arc(&mut self, tol: f64) -> Option<usize> {
        let first = self.artificial_arcs();
        let total = self.cost.len();
        if total == first {
            return None;
        }
        let block = (((total - first) as f64).sqrt() as usize).max(10);
        let mut best = None;
        let mut min = -tol;
        let mut count = block;
        let ranges = [(self.next_arc, total), (first, self.next_arc)];
        for (start, end) in ranges {
            for e in start..end {
                let c = self.cost[e] + self.pi[self.source[e] as usize]
                    - self.pi[self.target[e] as usize];
                if c < min && !self.in_tree[e] {
                    min = c;
                    best = Some(e);
                }
                count -= 1;
                if count == 0 {
                    if best.is_some() {
                        self.next_arc = e + 1;
                        return best;
                    }
                    count = block;
                }
            }
        }
        best
    }

    /// Runs pivots until no arc prices out below `−tol` (returns true) or `*pivots` reaches
    /// `max_pivots` (returns false).
    pub(super) fn optimize(&mut self, tol: f64, pivots: &mut usize, max_pivots: usize) -> bool {
        if self.next_arc >= self.cost.len() {
            self.next_arc = self.artificial_arcs();
        }
        loop {
            let Some(in_arc) = self.find_entering_arc(tol) else {
                return true;
            };
            if *pivots >= max_pivots {
                return false;
            }
            let pivot = self.find_cycle(in_arc);
            self.change_flow(&pivot);
            self.update_tree(&pivot);
            self.update_potentials(&pivot);
            *pivots += 1;
        }
    }

    /// Finds the join node of the cycle closed by `in_arc` and its leaving arc: the last blocking
    /// arc met when walking the cycle from the join in the direction of the flow change, which
    /// keeps the tree strongly feasible (Cunningham 1976) and rules out cycling.
    fn find_cycle(&self, in_arc: usize) -> Pivot {
        let first = self.source[in_arc];
        let second = self.target[in_arc];
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
                let d = self.flow[self.pred[ui]];
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
                let d = self.flow[self.pred[ui]];
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
            in_arc,
            join,
            u_in,
            v_in,
            u_out,
            delta,
        }
    }

    /// Pushes `delta` units around the cycle; the entering arc joins the tree, the leaving arc
    /// (now at zero flow) leaves it.
    fn change_flow(&mut self, p: &Pivot) {
        if p.delta > 0.0 {
            self.flow[p.in_arc] += p.delta;
            // Along the cycle, flow falls on the source side of arcs pointing up the tree and
            // rises on the target side (and the reverse for arcs pointing down).
            for (start, sign) in [(self.source[p.in_arc], -1.0), (self.target[p.in_arc], 1.0)] {
                let mut u = start;
                while u != p.join {
                    let ui = u as usize;
                    let step = if self.pred_up[ui] { sign } else { -sign } * p.delta;
                    self.flow[self.pred[ui]] += step;
                    u = self.parent[ui];
                }
            }
        }
        let out_arc = self.pred[p.u_out as usize];
        self.flow[out_arc] = 0.0;
        self.in_tree[p.in_arc] = true;
        self.in_tree[out_arc] = false;
    }

    /// Re-hangs the subtree cut off by the leaving arc below `v_in` (LEMON's
    /// `updateTreeStructure`): reverses the stem from `u_in` to `u_out` and updates the thread,
    /// subtree sizes and last successors in time proportional to the stem and the moved subtrees.
    fn update_tree(&mut self, p: &Pivot) {
        let (u_in, v_in, u_out, join) = (p.u_in, p.v_in, p.u_out, p.join);
        let (ui, vi, uo) = (u_in as usize, v_in as usize, u_out as usize);
        let old_rev_thread = self.rev_thread[uo];
        let old_succ_num = self.succ_num[uo];
        let old_last_succ = self.last_succ[uo];
        let v_out = self.parent[uo];
        let in_up = u_in == self.source[p.in_arc];

        if u_in == u_out {
            self.parent[ui] = v_in;
            self.pred[ui] = p.in_arc;
            self.pred_up[ui] = in_up;
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
                self.pred[ux] = self.pred[px];
                self.pred_up[ux] = !self.pred_up[px];
                tmp_sc += self.succ_num[ux] - self.succ_num[px];
                self.succ_num[ux] = tmp_sc;
                self.last_succ[px] = tmp_ls;
                u = px as u32;
            }
            self.pred[ui] = p.in_arc;
            self.pred_up[ui] = in_up;
            self.succ_num[ui] = old_succ_num;
        }

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
        let c = self.cost[p.in_arc];
        let sigma = self.pi[vi] - self.pi[ui] - if self.pred_up[ui] { c } else { -c };
        let end = self.thread[self.last_succ[ui] as usize];
        let mut u = p.u_in;
        while u != end {
            self.pi[u as usize] += sigma;
            u = self.thread[u as usize];
        }
    }
}
