//! The sparse candidate graph of the assignment solver: for every row its cheapest columns, for
//! every column its cheapest rows, arcs that complete a perfect matching, and the arcs that dense
//! pricing finds violating the duals.

use rayon::prelude::*;

use super::{NONE, PRICED_ARCS_PER_ROW};

/// One arc of the candidate graph: a column and its cost.
#[derive(Debug, Clone, Copy)]
pub(super) struct Arc {
    pub(super) col: usize,
    pub(super) cost: f64,
}

/// The sparse candidate graph, one adjacency list per row.
pub(super) struct CandidateGraph {
    pub(super) adjacency: Vec<Vec<Arc>>,
    /// `min_i C_ij`, a feasible start for the column duals.
    pub(super) column_min: Vec<f64>,
}

impl CandidateGraph {
    /// The `kr` cheapest columns of every row and the `kc` cheapest rows of every column, and the
    /// column minima `min_i C_ij`. Rows are scanned in parallel; columns in parallel blocks of
    /// adjacent columns, so that each block reads short contiguous runs of every row. Scans start
    /// at the diagonal and wrap around, so that ties (the first offer wins) spread over the graph.
    pub(super) fn nearest(c: &[f64], n: usize, kr: usize, kc: usize) -> Self {
        let mut adjacency: Vec<Vec<Arc>> = c
            .par_chunks_exact(n)
            .enumerate()
            .map_init(
                || SmallestK::new(1, kr),
                |best, (i, row)| {
                    best.clear();
                    for (j, &x) in row.iter().enumerate().skip(i) {
                        best.offer(0, x, j);
                    }
                    for (j, &x) in row[..i].iter().enumerate() {
                        best.offer(0, x, j);
                    }
                    best.list(0)
                        .iter()
                        .map(|&(cost, col)| Arc { col, cost })
                        .collect()
                },
            )
            .collect();
        let width = 64.min(n.div_ceil(4 * rayon::current_num_threads())).max(1);
        let column_blocks: Vec<SmallestK> = (0..n.div_ceil(width))
            .into_par_iter()
            .map(|b| {
                let (lo, hi) = (b * width, ((b + 1) * width).min(n));
                let mut best = SmallestK::new(hi - lo, kc);
                for i in (lo..n).chain(0..lo) {
                    for (list, &x) in c[i * n + lo..i * n + hi].iter().enumerate() {
                        best.offer(list, x, i);
                    }
                }
                best
            })
            .collect();
        let mut column_min = vec![f64::INFINITY; n];
        for (b, mut best) in column_blocks.into_iter().enumerate() {
            for list in 0..best.len.len() {
                let j = b * width + list;
                for &(cost, i) in best.list(list) {
                    column_min[j] = column_min[j].min(cost);
                    if !adjacency[i].iter().any(|a| a.col == j) {
                        adjacency[i].push(Arc { col: j, cost });
                    }
                }
            }
        }
        Self {
            adjacency,
            column_min,
        }
    }

    /// `min_j (C_ij − v_j)` over the candidates of row i: the largest feasible `u_i`.
    pub(super) fn row_min_reduced(&self, i: usize, v: &[f64]) -> f64 {
        self.adjacency[i]
            .iter()
            .fold(f64::INFINITY, |s, a| s.min(a.cost - v[a.col]))
    }

    /// Adds the arcs `(i, j)` for the listed columns that row i does not have yet.
    pub(super) fn add_arcs(&mut self, i: usize, cols: &[usize], c: &[f64], n: usize) {
        for &j in cols {
            if !self.adjacency[i].iter().any(|a| a.col == j) {
                self.adjacency[i].push(Arc {
                    col: j,
                    cost: c[i * n + j],
                });
            }
        }
    }

    /// Adds the arcs `(i, j)` pairing the free rows with the free columns in order, so that the
    /// graph holds a perfect matching. Then every free row has an augmenting path (its component
    /// in the symmetric difference with that matching), and arcs are never removed, so the sparse
    /// problem stays feasible whatever arcs pricing adds later.
    pub(super) fn complete(&mut self, row_col: &[usize], col_row: &[usize], c: &[f64], n: usize) {
        let free_rows = (0..n).filter(|&i| row_col[i] == NONE);
        let free_cols = (0..n).filter(|&j| col_row[j] == NONE);
        for (i, j) in free_rows.zip(free_cols) {
            self.add_arcs(i, &[j], c, n);
        }
    }
}

/// For each of several lists, the k smallest keys offered so far with their ids. Keys at or above
/// a list's current k-th smallest are rejected by one comparison; accepted keys are appended to a
/// buffer of 2k that is cut back to its k smallest (a linear-time selection) when full.
struct SmallestK {
    k: usize,
    items: Vec<(f64, usize)>,
    len: Vec<usize>,
    threshold: Vec<f64>,
}

impl SmallestK {
    fn new(lists: usize, k: usize) -> Self {
        Self {
            k,
            items: vec![(f64::INFINITY, NONE); lists * 2 * k],
            len: vec![0; lists],
            threshold: vec![f64::INFINITY; lists],
        }
    }

    /// Empties every list.
    fn clear(&mut self) {
        self.len.fill(0);
        self.threshold.fill(f64::INFINITY);
    }

    #[inline]
    fn offer(&mut self, list: usize, key: f64, id: usize) {
        if key < self.threshold[list] {
            let len = self.len[list];
            self.items[list * 2 * self.k + len] = (key, id);
            self.len[list] = len + 1;
            if len + 1 == 2 * self.k {
                self.cut(list);
            }
        }
    }

    /// Keeps the k smallest of a list's buffer.
    fn cut(&mut self, list: usize) {
        let k = self.k;
        let buffer = &mut self.items[list * 2 * k..list * 2 * k + self.len[list]];
        buffer.select_nth_unstable_by(k - 1, |a, b| a.0.total_cmp(&b.0));
        self.threshold[list] = buffer[k - 1].0;
        self.len[list] = k;
    }

    /// The k smallest `(key, id)` pairs of one list (fewer if fewer were offered), unordered.
    fn list(&mut self, list: usize) -> &[(f64, usize)] {
        if self.len[list] > self.k {
            self.cut(list);
        }
        &self.items[list * 2 * self.k..list * 2 * self.k + self.len[list]]
    }
}

/// Result of a dense pricing pass.
pub(super) struct Pricing {
    /// Rows with arcs that price out, and those columns.
    pub(super) violations: Vec<(usize, Vec<usize>)>,
    /// The most negative reduced cost over all n² arcs.
    pub(super) most_negative: f64,
}

/// Prices all n² arcs against the duals in parallel: for each row, `min_j (C_ij − v_j) − u_i`,
/// and for the rows where it is below `−tol` the (at most [`PRICED_ARCS_PER_ROW`]) most negative
/// arcs.
pub(super) fn price(c: &[f64], n: usize, u: &[f64], v: &[f64], tol: f64) -> Pricing {
    let rows: Vec<(f64, Option<Vec<usize>>)> = c
        .par_chunks_exact(n)
        .zip(u.par_iter())
        .map(|(row, &ui)| {
            let mut lowest = f64::INFINITY;
            for (x, vj) in row.iter().zip(v) {
                let r = x - vj;
                if r < lowest {
                    lowest = r;
                }
            }
            let most_negative = lowest - ui;
            if most_negative >= -tol {
                return (most_negative, None);
            }
            let mut worst = SmallestK::new(1, PRICED_ARCS_PER_ROW);
            for (j, (x, vj)) in row.iter().zip(v).enumerate() {
                let r = x - vj - ui;
                if r < -tol {
                    worst.offer(0, r, j);
                }
            }
            let cols = worst.list(0).iter().map(|&(_, j)| j).collect();
            (most_negative, Some(cols))
        })
        .collect();
    let most_negative = rows.iter().fold(f64::INFINITY, |s, r| s.min(r.0));
    let violations = rows
        .into_iter()
        .enumerate()
        .filter_map(|(i, (_, cols))| cols.map(|c| (i, c)))
        .collect();
    Pricing {
        violations,
        most_negative,
    }
}
