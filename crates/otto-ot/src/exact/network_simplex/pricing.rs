//! Pricing of all n·m arcs against node potentials: the outer level of the two-level pricing
//! rule, and the selection of the initial active arcs. Rows are priced in parallel blocks by a
//! branch-free loop; only entries below a running bound reach the bookkeeping.

use rayon::prelude::*;

/// One pricing pass over all n·m entries of `r_ij = C_ij + s_i − t_j` (the reduced cost for
/// node potentials `s` of the rows and `t` of the columns), in parallel row blocks.
///
/// Returns the arcs to add — for every row the (at most k) columns of smallest
/// `C_ij + s_i − t'_j < threshold`, then, when `t_rows = Some(t')`, for every column its row of
/// smallest `r_ij < threshold` — and the smallest `r_ij` of all (of `C_ij + s_i − t'_j` when
/// `t_rows` is `None`, where `t' = t`). `t'` is `t` except on columns left out of the row lists
/// (`t'_j = −∞`). The result does not depend on the number of threads.
pub(super) fn price(
    c: &[f64],
    m: usize,
    s: &[f64],
    t: &[f64],
    t_rows: Option<&[f64]>,
    k: usize,
    threshold: f64,
) -> (Vec<(u32, u32)>, f64) {
    let with_columns = t_rows.is_some();
    let t_rows = t_rows.unwrap_or(t);
    let (mut arcs, columns, row_min) = c
        .par_chunks(m)
        .enumerate()
        .with_min_len(TASK_ENTRIES.div_ceil(m))
        .fold(
            || {
                let columns = ColumnMin::new(if with_columns { m } else { 0 });
                (
                    Vec::new(),
                    columns,
                    f64::INFINITY,
                    Vec::with_capacity(4 * k),
                )
            },
            |(mut arcs, mut columns, min, mut best), (i, row)| {
                let (si, i) = (s[i], i as u32);
                let row_min = if with_columns {
                    price_row::<true>(row, si, t, t_rows, i, k, threshold, &mut best, &mut columns)
                } else {
                    price_row::<false>(row, si, t, t_rows, i, k, threshold, &mut best, &mut columns)
                };
                arcs.extend(best.iter().map(|&(_, j)| (i, j)));
                (arcs, columns, min.min(row_min), best)
            },
        )
        .map(|(arcs, columns, min, _)| (arcs, columns, min))
        .reduce(
            || {
                (
                    Vec::new(),
                    ColumnMin::new(if with_columns { m } else { 0 }),
                    f64::INFINITY,
                )
            },
            |(mut left, mut lcol, lmin), (right, rcol, rmin)| {
                left.extend(right);
                lcol.merge(&rcol);
                (left, lcol, lmin.min(rmin))
            },
        );
    if !with_columns {
        return (arcs, row_min);
    }
    let min = columns.value.iter().fold(f64::INFINITY, |x, &y| x.min(y));
    arcs.extend(
        (columns.value.iter().zip(&columns.row).enumerate())
            .filter(|(_, (&r, _))| r < threshold)
            .map(|(j, (_, &i))| (i, j as u32)),
    );
    (arcs, min)
}

/// The smallest value of every column seen so far and the row where it was met.
struct ColumnMin {
    value: Vec<f64>,
    row: Vec<u32>,
}

impl ColumnMin {
    fn new(m: usize) -> Self {
        Self {
            value: vec![f64::INFINITY; m],
            row: vec![0; m],
        }
    }

    /// Keeps the smaller entry of every column (the earlier row on ties).
    fn merge(&mut self, later: &ColumnMin) {
        for j in 0..self.value.len() {
            if later.value[j] < self.value[j] {
                self.value[j] = later.value[j];
                self.row[j] = later.row[j];
            }
        }
    }
}

/// Fewest cost entries a parallel task handles, so that small problems run on one thread.
pub(super) const TASK_ENTRIES: usize = 1 << 17;

/// Lanes of the unrolled pricing loop.
const LANES: usize = 8;

/// Prices row i: updates the column minima and leaves in `best` the (at most k) columns of
/// smallest `r_ij < threshold`, sorted. The common case — no entry below the running bound —
/// is a branch-free loop over `LANES` entries at a time.
#[allow(clippy::too_many_arguments)]
fn price_row<const COLUMNS: bool>(
    row: &[f64],
    si: f64,
    t: &[f64],
    t_rows: &[f64],
    i: u32,
    k: usize,
    threshold: f64,
    best: &mut Vec<(f64, u32)>,
    columns: &mut ColumnMin,
) -> f64 {
    best.clear();
    let mut bound = threshold;
    // Candidates below the bound are collected unsorted; when the buffer is full, the k smallest
    // (by value, then column) are kept and the bound drops to the k-th: amortized O(1) per offer.
    let capacity = 4 * k;
    let keep_smallest = |best: &mut Vec<(f64, u32)>| {
        if best.len() > k {
            best.select_nth_unstable_by(k - 1, |x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
            best.truncate(k);
        }
    };
    let mut offer = |r: f64, j: usize, bound: &mut f64| {
        if r < *bound {
            best.push((r, j as u32));
            if best.len() == capacity {
                keep_smallest(best);
                *bound = best
                    .iter()
                    .fold(f64::NEG_INFINITY, |x, y| x.max(y.0))
                    .min(threshold);
            }
        }
    };
    let mut lane_min = [f64::INFINITY; LANES];
    let tail = row.len() / LANES * LANES;
    for (block, (cb, trb)) in row
        .chunks_exact(LANES)
        .zip(t_rows.chunks_exact(LANES))
        .enumerate()
    {
        let mut r = [0.0; LANES];
        let mut hit = false;
        for l in 0..LANES {
            r[l] = cb[l] + si - trb[l];
            lane_min[l] = if r[l] < lane_min[l] {
                r[l]
            } else {
                lane_min[l]
            };
            hit |= r[l] < bound;
        }
        if COLUMNS {
            let at = block * LANES;
            let tb = &t[at..at + LANES];
            let vb = &mut columns.value[at..at + LANES];
            let rb = &mut columns.row[at..at + LANES];
            for l in 0..LANES {
                let rc = cb[l] + si - tb[l];
                if rc < vb[l] {
                    vb[l] = rc;
                    rb[l] = i;
                }
            }
        }
        if hit {
            for (l, &x) in r.iter().enumerate() {
                offer(x, block * LANES + l, &mut bound);
            }
        }
    }
    let mut min = lane_min.iter().fold(f64::INFINITY, |x, &y| x.min(y));
    for j in tail..row.len() {
        let r = row[j] + si - t_rows[j];
        min = min.min(r);
        if COLUMNS && row[j] + si - t[j] < columns.value[j] {
            columns.value[j] = row[j] + si - t[j];
            columns.row[j] = i;
        }
        offer(r, j, &mut bound);
    }
    keep_smallest(best);
    best.sort_unstable_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
    min
}
