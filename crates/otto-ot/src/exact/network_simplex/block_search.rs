//! The entering-arc rule of the network simplex: block search (Grigoriadis 1986; LEMON's default
//! rule), over either of the two arc sets the solver uses: the growing list of active arcs of the
//! column generation, or all n·m arcs of the complete bipartite graph, read straight from the
//! row-major cost matrix.
//!
//! The arcs are scanned cyclically, from where the previous search stopped, in blocks of about
//! √(number of arcs); the search returns the arc of most negative reduced cost
//! `C_ij + π_i − π_{n+j} < −tol` in the first block that holds one.

use super::spanning_tree::{Arc, SpanningTree};

/// An arc set the simplex can search for an entering arc.
pub(super) trait EnteringArc {
    /// A nonbasic arc of reduced cost below `−tol` under the tree's potentials, or `None` when
    /// there is none (the basis is optimal on this arc set).
    fn find(&mut self, tree: &SpanningTree, tol: f64) -> Option<Arc>;
}

/// Runs pivots until no arc of `arcs` prices out below `−tol` (returns true) or `*pivots`
/// reaches `max_pivots` (returns false).
pub(super) fn optimize(
    tree: &mut SpanningTree,
    arcs: &mut impl EnteringArc,
    tol: f64,
    pivots: &mut usize,
    max_pivots: usize,
) -> bool {
    loop {
        let Some(arc) = arcs.find(tree, tol) else {
            return true;
        };
        if *pivots >= max_pivots {
            return false;
        }
        tree.pivot(arc);
        *pivots += 1;
    }
}

/// Block length for `arcs` arcs: √arcs, at least 10 (LEMON's block size factor 1).
fn block_len(arcs: usize) -> usize {
    ((arcs as f64).sqrt() as usize).max(10)
}

/// The active arcs of the column generation, in the order they were added.
#[derive(Default)]
pub(super) struct ActiveArcs {
    source: Vec<u32>,
    target: Vec<u32>,
    cost: Vec<f64>,
    next: usize,
}

impl ActiveArcs {
    /// Appends the arc `source → target` of cost `cost`.
    pub(super) fn push(&mut self, source: u32, target: u32, cost: f64) {
        self.source.push(source);
        self.target.push(target);
        self.cost.push(cost);
    }
}

impl EnteringArc for ActiveArcs {
    fn find(&mut self, tree: &SpanningTree, tol: f64) -> Option<Arc> {
        let total = self.cost.len();
        if total == 0 {
            return None;
        }
        let pi = tree.potentials();
        let block = block_len(total);
        let mut best = None;
        let mut min = -tol;
        let mut count = block;
        if self.next >= total {
            self.next = 0;
        }
        'search: for (start, end) in [(self.next, total), (0, self.next)] {
            for e in start..end {
                let (s, t) = (self.source[e], self.target[e]);
                let r = self.cost[e] + pi[s as usize] - pi[t as usize];
                if r < min && !tree.has_arc(s, t) {
                    min = r;
                    best = Some(e);
                }
                count -= 1;
                if count == 0 {
                    if best.is_some() {
                        self.next = e + 1;
                        break 'search;
                    }
                    count = block;
                }
            }
        }
        best.map(|e| Arc {
            source: self.source[e],
            target: self.target[e],
            cost: self.cost[e],
        })
    }
}

/// All n·m arcs `i → n + j` of the n×m row-major cost `c`, arc `(i, j)` at position `i·m + j`.
pub(super) struct AllArcs<'a> {
    c: &'a [f64],
    n: usize,
    m: usize,
    block: usize,
    next: usize,
}

impl<'a> AllArcs<'a> {
    pub(super) fn new(c: &'a [f64], n: usize, m: usize) -> Self {
        Self {
            c,
            n,
            m,
            block: block_len(n * m),
            next: 0,
        }
    }
}

impl EnteringArc for AllArcs<'_> {
    fn find(&mut self, tree: &SpanningTree, tol: f64) -> Option<Arc> {
        let (n, m) = (self.n, self.m);
        let total = n * m;
        let (pi_rows, pi_cols) = tree.potentials().split_at(n);
        let mut best = None;
        let mut min = -tol;
        let mut left = self.block;
        let mut scanned = 0;
        let mut p = self.next;
        while scanned < total {
            let i = p / m;
            let j0 = p - i * m;
            let len = (m - j0).min(left);
            let row = &self.c[p..p + len];
            let cols = &pi_cols[j0..j0 + len];
            let s = pi_rows[i];
            let (seg_min, k) = argmin_reduced(row, cols, s);
            if seg_min < min {
                if !tree.has_arc(i as u32, (n + j0 + k) as u32) {
                    min = seg_min;
                    best = Some(p + k);
                } else {
                    // Only round-off can put a tree arc below −tol: skip it.
                    for (k, (&cij, &t)) in row.iter().zip(cols).enumerate() {
                        let r = cij + s - t;
                        if r < min && !tree.has_arc(i as u32, (n + j0 + k) as u32) {
                            min = r;
                            best = Some(p + k);
                        }
                    }
                }
            }
            p += len;
            if p == total {
                p = 0;
            }
            scanned += len;
            left -= len;
            if left == 0 {
                if best.is_some() {
                    break;
                }
                left = self.block;
            }
        }
        self.next = p;
        best.map(|e| Arc {
            source: (e / m) as u32,
            target: (n + e % m) as u32,
            cost: self.c[e],
        })
    }
}

/// Lanes of the unrolled minimum.
const LANES: usize = 8;

/// `(min_j r_j, argmin_j r_j)` of `r_j = c_j + s − t_j` (the first index on ties; `(∞, 0)` for
/// empty slices), branch-free over `LANES` entries at a time.
#[inline]
fn argmin_reduced(c: &[f64], t: &[f64], s: f64) -> (f64, usize) {
    let mut lane_min = [f64::INFINITY; LANES];
    let mut lane_at = [0usize; LANES];
    let (c_blocks, t_blocks) = (c.chunks_exact(LANES), t.chunks_exact(LANES));
    let (c_tail, t_tail) = (c_blocks.remainder(), t_blocks.remainder());
    for (block, (cb, tb)) in c_blocks.zip(t_blocks).enumerate() {
        for l in 0..LANES {
            let r = cb[l] + s - tb[l];
            let less = r < lane_min[l];
            lane_min[l] = if less { r } else { lane_min[l] };
            lane_at[l] = if less { block } else { lane_at[l] };
        }
    }
    let (mut min, mut at) = (f64::INFINITY, 0);
    for l in 0..LANES {
        let j = lane_at[l] * LANES + l;
        if lane_min[l] < min || (lane_min[l] == min && j < at) {
            (min, at) = (lane_min[l], j);
        }
    }
    let tail = c.len() - c_tail.len();
    for (k, (&cj, &tj)) in c_tail.iter().zip(t_tail).enumerate() {
        let r = cj + s - tj;
        if r < min {
            (min, at) = (r, tail + k);
        }
    }
    (min, at)
}

/// `min_j (c_j + s − t_j)`, branch-free over `LANES` entries at a time.
#[inline]
pub(super) fn min_reduced(c: &[f64], t: &[f64], s: f64) -> f64 {
    let mut lane_min = [f64::INFINITY; LANES];
    let (c_blocks, t_blocks) = (c.chunks_exact(LANES), t.chunks_exact(LANES));
    let (c_tail, t_tail) = (c_blocks.remainder(), t_blocks.remainder());
    for (cb, tb) in c_blocks.zip(t_blocks) {
        for l in 0..LANES {
            let r = cb[l] + s - tb[l];
            lane_min[l] = if r < lane_min[l] { r } else { lane_min[l] };
        }
    }
    let mut min = lane_min.iter().fold(f64::INFINITY, |x, &y| x.min(y));
    for (&cj, &tj) in c_tail.iter().zip(t_tail) {
        min = min.min(cj + s - tj);
    }
    min
}
