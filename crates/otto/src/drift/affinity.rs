//! The affinity matrix of a drift field, streamed: for generated points x_i (rows) and target
//! points y_j (columns, positives and negatives), logits
//!
//! `l_ij = (o_j − φ(‖x_i − y_j‖) − p·[y_j is x_i]) / τ`
//!
//! with φ(d) = s·d (Laplace kernel on the unsquared distance, Deng et al. 2026) or φ(d) = d²/2
//! (Gaussian kernel), an optional per-column offset o_j (a dual potential), and a self-mask
//! penalty p. The affinity is one of
//! - the geometric mean of the row and column softmaxes, `A_ij = √(softmax_row · softmax_col)
//!   = exp(l_ij − ½(R_i + C_j))`, R_i the row's log-sum-exp over every column (Deng et al.,
//!   Alg. 2: [`Normalization::Joint`]) or over the columns of its own side (the Sinkhorn proxy of
//!   Gretton et al. 2026: [`Normalization::PerSide`]), C_j the column's log-sum-exp over the rows;
//! - the row softmax of each side, `A_ij = exp(l_ij − R_i^side)` ([`Normalization::Row`]: kernel
//!   density barycenters).
//!
//! An optional floor `A ← max(A, a_min)` is the official release's `√(max(·, 10⁻⁶))`.
//!
//! Nothing of size N × M is ever stored: the column log-sum-exps are built by a pass over row
//! blocks (thread-local partial sums, merged once), then a second pass recomputes each row's
//! logits and accumulates, per side, the mass m_i = Σ_j A_ij and the moment s_i = Σ_j A_ij y_j.
//! Memory is O((N + M)·d + threads·M); every pass is parallel over blocks of rows.

use multiversion::multiversion;
use rayon::prelude::*;

use crate::lanes;

/// ln of the smallest positive normal f32: below it [`exp`] returns 0.
pub(crate) const LN_MIN_POSITIVE: f32 = -87.336_54;

/// e^x in f32 by Cody–Waite reduction x = n ln 2 + r, |r| ≤ ½ ln 2, and Cephes' degree-6 minimax
/// polynomial for e^r (relative error ≈ 2·10⁻⁷); written without calls or branches so that the
/// loops over a row vectorize. Returns 0 below [`LN_MIN_POSITIVE`] (no subnormals).
#[inline(always)]
pub(crate) fn exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // 1.5·2²³: adding and subtracting it rounds to the nearest integer.
    const ROUND: f32 = 12_582_912.0;
    let clamped = x.clamp(LN_MIN_POSITIVE, 88.376_26);
    // k = ROUND + n exactly, so its low mantissa bits hold the integer n (no float → int
    // conversion, which would not vectorize as well).
    let k = clamped * LOG2E + ROUND;
    let n = k - ROUND;
    let r = clamped - n * LN2_HI - n * LN2_LO;
    let p = (((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2)
        * r
        + 0.166_666_65)
        * r
        + 0.5)
        * r
        * r
        + r
        + 1.0;
    let scale = f32::from_bits(k.to_bits().wrapping_sub(ROUND.to_bits() - 127) << 23);
    if x < LN_MIN_POSITIVE {
        0.0
    } else {
        p * scale
    }
}

/// Which side of the field a block of columns pulls to: V = m⁻·s⁺ − m⁺·s⁻.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    /// Data (attraction).
    Positive,
    /// Generated points or other negatives (repulsion).
    Negative,
}

/// The kernel's profile φ of the distance d.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Profile {
    /// φ = scale · d (Laplace kernel exp(−scale·d/τ)).
    Distance { scale: f32 },
    /// φ = d²/2 (Gaussian kernel exp(−d²/(2τ))).
    HalfSquared,
}

/// How logits become affinities.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Normalization {
    /// √(softmax over all columns · softmax over rows).
    Joint,
    /// √(softmax over the columns of the same side · softmax over rows).
    PerSide,
    /// softmax over the columns of the same side.
    Row,
}

/// Columns in coordinate-major order (coordinate k of column j at `k·m + j`), their sides,
/// offsets and the self-masked column of each row, concatenated over blocks.
pub(crate) struct Columns {
    m: usize,
    dim: usize,
    coords: Vec<f32>,
    offsets: Vec<f32>,
    /// Per-column weights w_j, multiplying the affinities after normalization (the release's
    /// `targets_w`); `weighted` is false when all are 1.
    weights: Vec<f32>,
    weighted: bool,
    /// Column ranges of the positive side, then the negative side (each side contiguous).
    sides: [std::ops::Range<usize>; 2],
    /// First column of a block whose column i is row i's own point (masked), if any.
    masked: Option<usize>,
}

/// One block of columns: row-major points (m × dim), their side, optional offsets o_j (in the
/// units of φ), whether column i is row i's own point, and the weight of every column.
pub(crate) struct Block<'a> {
    pub points: &'a [f32],
    pub side: Side,
    pub offsets: Option<&'a [f32]>,
    pub self_masked: bool,
    pub weight: f32,
}

impl Columns {
    /// Concatenates `blocks` (positives first) into coordinate-major columns.
    pub(crate) fn new(blocks: &[Block], dim: usize) -> Self {
        let mut ordered: Vec<&Block> = blocks.iter().filter(|b| b.side == Side::Positive).collect();
        let positives = ordered.iter().map(|b| b.points.len() / dim).sum::<usize>();
        ordered.extend(blocks.iter().filter(|b| b.side == Side::Negative));
        let m = ordered.iter().map(|b| b.points.len() / dim).sum::<usize>();
        let mut coords = vec![0.0f32; m * dim];
        let mut offsets = vec![0.0f32; m];
        let mut weights = vec![1.0f32; m];
        let mut masked = None;
        let mut start = 0;
        for block in ordered {
            let rows = block.points.len() / dim;
            for (j, point) in block.points.chunks_exact(dim).enumerate() {
                for (k, &c) in point.iter().enumerate() {
                    coords[k * m + start + j] = c;
                }
            }
            if let Some(o) = block.offsets {
                offsets[start..start + rows].copy_from_slice(o);
            }
            if block.self_masked {
                masked = Some(start);
            }
            weights[start..start + rows].fill(block.weight);
            start += rows;
        }
        let weighted = weights.iter().any(|&w| w != 1.0);
        Self {
            m,
            dim,
            coords,
            offsets,
            weights,
            weighted,
            sides: [0..positives, positives..m],
            masked,
        }
    }

    /// Number of columns.
    pub(crate) fn len(&self) -> usize {
        self.m
    }

    /// The column ranges of the positive and the negative side.
    pub(crate) fn sides(&self) -> &[std::ops::Range<usize>; 2] {
        &self.sides
    }

    /// Coordinate k of every column.
    pub(crate) fn coordinate(&self, k: usize) -> &[f32] {
        &self.coords[k * self.m..(k + 1) * self.m]
    }

    /// φ(‖x − y_j‖) − o_j (+ the mask penalty on row `row`'s own column) for every column j.
    /// Inlined into the vectorized kernels; one fused sweep for 1-, 2- and 3-D points.
    #[inline(always)]
    pub(crate) fn profile_row(
        &self,
        x: &[f32],
        row: usize,
        profile: Profile,
        penalty: f32,
        out: &mut [f32],
    ) {
        let m = self.m;
        let coordinate = |k: usize| &self.coords[k * m..(k + 1) * m];
        match *x {
            [a] => {
                for (o, &y0) in out.iter_mut().zip(coordinate(0)) {
                    *o = (a - y0) * (a - y0);
                }
            }
            [a, b] => {
                for ((o, &y0), &y1) in out.iter_mut().zip(coordinate(0)).zip(coordinate(1)) {
                    *o = (a - y0) * (a - y0) + (b - y1) * (b - y1);
                }
            }
            [a, b, c] => {
                for (((o, &y0), &y1), &y2) in out
                    .iter_mut()
                    .zip(coordinate(0))
                    .zip(coordinate(1))
                    .zip(coordinate(2))
                {
                    *o = (a - y0) * (a - y0) + (b - y1) * (b - y1) + (c - y2) * (c - y2);
                }
            }
            _ => {
                out.fill(0.0);
                for (k, &xk) in x.iter().enumerate() {
                    for (o, &y) in out.iter_mut().zip(coordinate(k)) {
                        *o += (xk - y) * (xk - y);
                    }
                }
            }
        }
        match profile {
            Profile::Distance { scale } => {
                for (o, &off) in out.iter_mut().zip(&self.offsets) {
                    *o = scale * o.sqrt() - off;
                }
            }
            Profile::HalfSquared => {
                for (o, &off) in out.iter_mut().zip(&self.offsets) {
                    *o = 0.5 * *o - off;
                }
            }
        }
        if let Some(start) = self.masked {
            out[start + row] += penalty;
        }
    }
}

/// The weighted mean Euclidean distance from the rows of `x` to the columns,
/// Σ_ij d_ij w_j / (n Σ_j w_j) (the release's feature scale s; a point's distance to itself counts
/// as 0).
pub(crate) fn mean_distance(x: &[f32], columns: &Columns) -> f64 {
    let dim = columns.dim;
    let n = x.len() / dim;
    // Per-task totals collected in order, then added in order (reproducible).
    let totals: Vec<f64> = x
        .par_chunks(ROWS_PER_TASK * dim)
        .enumerate()
        .map_init(
            || vec![0.0f32; columns.m],
            |phi, (task, rows)| weighted_distance_rows(columns, rows, task * ROWS_PER_TASK, phi),
        )
        .collect();
    let weight: f64 = columns.weights.iter().map(|&w| w as f64).sum();
    totals.iter().sum::<f64>() / (n as f64 * weight)
}

/// Σ over `rows` (the first is row `first` of x) of Σ_j d_ij w_j.
#[multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma"))]
fn weighted_distance_rows(columns: &Columns, rows: &[f32], first: usize, phi: &mut [f32]) -> f64 {
    let mut total = 0.0f64;
    for (r, xi) in rows.chunks_exact(columns.dim).enumerate() {
        columns.profile_row(xi, first + r, Profile::Distance { scale: 1.0 }, 0.0, phi);
        total += lanes::dot(phi, &columns.weights) as f64;
    }
    total
}

/// The kernel: profile, normalization, temperatures, floor and self-mask penalty.
pub(crate) struct Affinity<'a> {
    pub profile: Profile,
    pub normalization: Normalization,
    pub temperatures: &'a [f32],
    pub floor: f32,
    pub penalty: f32,
}

/// What one row accumulates for one temperature: the masses and moments of both sides, and the
/// sum of the two sides' largest affinity exponents (the logarithm of the largest term of
/// m⁺m⁻, the size of m⁻s⁺ − m⁺s⁻).
#[derive(Debug, Clone)]
pub(crate) struct Sums {
    /// Rows.
    pub n: usize,
    /// Dimension.
    pub dim: usize,
    /// m⁺_i, m⁻_i.
    pub mass: [Vec<f32>; 2],
    /// s⁺_i, s⁻_i (n × dim each).
    pub moment: [Vec<f32>; 2],
    /// Σ over the sides of max_j of the affinity exponent, per row.
    pub top_exponent: Vec<f32>,
}

/// Pass 2 of [`Affinity::sums`] for the rows of `out` (t × stride numbers each; the first is row
/// `first` of x): each row's logits, its log-sum-exps, the affinities and their masses and
/// moments per side. `phi` and `aff` are scratch rows of the columns' length.
#[multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma"))]
fn affinity_rows(
    affinity: &Affinity,
    columns: &Columns,
    (x, first): (&[f32], usize),
    half_column_lse: &[f32],
    out: &mut [f32],
    (phi, aff): (&mut [f32], &mut [f32]),
) {
    let (dim, m) = (columns.dim, columns.m);
    let t = affinity.temperatures.len();
    let stride_t = 3 + 2 * dim;
    let row_weight = if affinity.normalization == Normalization::Row {
        1.0
    } else {
        0.5
    };
    for (r, row_out) in out.chunks_exact_mut(t * stride_t).enumerate() {
        let i = first + r;
        let xi = &x[i * dim..(i + 1) * dim];
        columns.profile_row(xi, i, affinity.profile, affinity.penalty, phi);
        for (ti, &tau) in affinity.temperatures.iter().enumerate() {
            let lse = affinity.row_lse(phi, tau, columns);
            let hc = &half_column_lse[ti * m..(ti + 1) * m];
            let o = &mut row_out[ti * stride_t..(ti + 1) * stride_t];
            let inv = 1.0 / tau;
            // The sum of the two sides' largest exponents: V = m⁻s⁺ − m⁺s⁻ is of the size of
            // m⁺m⁻ ≥ exp(top⁺ + top⁻).
            let mut top = 0.0f32;
            for (s, range) in columns.sides.iter().enumerate() {
                let shift = row_weight * lse[s];
                let a = &mut aff[range.clone()];
                for ((a, &p), &h) in a
                    .iter_mut()
                    .zip(&phi[range.clone()])
                    .zip(&hc[range.clone()])
                {
                    *a = -p * inv - shift - h;
                }
                top += lanes::max(a);
                for a in a.iter_mut() {
                    *a = exp(*a).max(affinity.floor);
                }
                if columns.weighted {
                    let w = &columns.weights[range.clone()];
                    a.iter_mut().zip(w).for_each(|(a, w)| *a *= w);
                }
                o[s] = lanes::sum(a);
                for k in 0..dim {
                    let yk = &columns.coords[k * m + range.start..k * m + range.end];
                    o[3 + s * dim + k] = lanes::dot(a, yk);
                }
            }
            o[2] = top;
        }
    }
}

/// The column pass of one block of rows (the first is row `first` of x): per column, the least
/// φ and Σ exp((least − φ)/τ) per temperature, accumulated tile by tile of [`TILE_ROWS`] rows
/// (the sums rescaled by exp((new − old)/τ) ≤ 1 where a tile lowers the least).
#[multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma"))]
fn column_block(
    affinity: &Affinity,
    columns: &Columns,
    (rows, first): (&[f32], usize),
    (least, sums): (&mut [f32], &mut [f32]),
    (tile, fresh): (&mut [f32], &mut [f32]),
) {
    let (dim, m) = (columns.dim, columns.m);
    for (c, chunk) in rows.chunks(TILE_ROWS * dim).enumerate() {
        let count = chunk.len() / dim;
        for (r, xi) in chunk.chunks_exact(dim).enumerate() {
            let i = first + c * TILE_ROWS + r;
            let phi = &mut tile[r * m..(r + 1) * m];
            columns.profile_row(xi, i, affinity.profile, affinity.penalty, phi);
        }
        // The tile's least per column; the old sums are rescaled to it.
        fresh.copy_from_slice(least);
        for phi in tile[..count * m].chunks_exact(m) {
            for (f, &p) in fresh.iter_mut().zip(phi) {
                *f = if p < *f { p } else { *f };
            }
        }
        for (ti, &tau) in affinity.temperatures.iter().enumerate() {
            let inv = 1.0 / tau;
            let sums = &mut sums[ti * m..(ti + 1) * m];
            for ((s, &old), &new) in sums.iter_mut().zip(least.iter()).zip(fresh.iter()) {
                if old.is_finite() {
                    *s *= exp((new - old) * inv);
                }
            }
            for phi in tile[..count * m].chunks_exact(m) {
                for ((s, &p), &l) in sums.iter_mut().zip(phi).zip(fresh.iter()) {
                    *s += exp((l - p) * inv);
                }
            }
        }
        least.copy_from_slice(fresh);
    }
}

/// Rows per tile of the column pass.
const TILE_ROWS: usize = 32;

/// Rows per parallel task.
const ROWS_PER_TASK: usize = 16;
/// Row blocks of the column pass (each holds partial column sums; their number is fixed so
/// that the sums do not depend on the thread count or the scheduling).
const COLUMN_BLOCKS: usize = 32;

impl Affinity<'_> {
    /// The per-temperature sums of `x` (n × dim, row-major) against `columns`.
    pub(crate) fn sums(&self, x: &[f32], columns: &Columns) -> Vec<Sums> {
        let dim = columns.dim;
        let n = x.len() / dim;
        let m = columns.m;
        let t = self.temperatures.len();
        // Column log-sum-exps (halved), one row of m per temperature; zero for Row.
        let half_column_lse = match self.normalization {
            Normalization::Row => vec![0.0f32; t * m],
            _ => self.half_column_lse(x, columns),
        };

        // Per row: for each temperature [m⁺, m⁻, top, s⁺ (dim), s⁻ (dim)].
        let stride_t = 3 + 2 * dim;
        let mut out = vec![0.0f32; n * t * stride_t];
        out.par_chunks_mut(ROWS_PER_TASK * t * stride_t)
            .enumerate()
            .for_each_init(
                || (vec![0.0f32; m], vec![0.0f32; m]),
                |(phi, aff), (task, chunk)| {
                    affinity_rows(
                        self,
                        columns,
                        (x, task * ROWS_PER_TASK),
                        &half_column_lse,
                        chunk,
                        (phi, aff),
                    )
                },
            );
        (0..t)
            .map(|ti| {
                let mut sums = Sums {
                    n,
                    dim,
                    mass: [vec![0.0; n], vec![0.0; n]],
                    moment: [vec![0.0; n * dim], vec![0.0; n * dim]],
                    top_exponent: vec![0.0; n],
                };
                for i in 0..n {
                    let o = &out[(i * t + ti) * stride_t..(i * t + ti + 1) * stride_t];
                    for s in 0..2 {
                        sums.mass[s][i] = o[s];
                        let base = 3 + s * dim;
                        sums.moment[s][i * dim..(i + 1) * dim]
                            .copy_from_slice(&o[base..base + dim]);
                    }
                    sums.top_exponent[i] = o[2];
                }
                sums
            })
            .collect()
    }

    /// The row's log-sum-exp of −φ/τ over all columns (Joint, both entries equal) or per side.
    #[inline(always)]
    fn row_lse(&self, phi: &[f32], tau: f32, columns: &Columns) -> [f32; 2] {
        let inv = 1.0 / tau;
        let lse = |range: std::ops::Range<usize>| -> f32 {
            let slice = &phi[range];
            let least = lanes::min(slice);
            if !least.is_finite() {
                return f32::NEG_INFINITY;
            }
            let sum = lanes::sum_map(slice, |p| exp((least - p) * inv));
            -least * inv + sum.ln()
        };
        match self.normalization {
            Normalization::Joint => {
                let all = lse(0..columns.m);
                [all, all]
            }
            _ => [lse(columns.sides[0].clone()), lse(columns.sides[1].clone())],
        }
    }

    /// ½ C_j, the halved log-sum-exp over rows of each column's logits, per temperature
    /// (t × m). One pass over a fixed number of row blocks in parallel: each block keeps, per
    /// column, its least φ (largest logit) and the sum of exponentials shifted by it, updated tile
    /// by tile of rows (rescaled when the least falls); the blocks are then merged in order, so
    /// the result does not depend on the thread count or the scheduling.
    fn half_column_lse(&self, x: &[f32], columns: &Columns) -> Vec<f32> {
        let (dim, m) = (columns.dim, columns.m);
        let t = self.temperatures.len();
        let block_rows = (x.len() / dim).div_ceil(COLUMN_BLOCKS).max(1);
        let partials: Vec<(Vec<f32>, Vec<f32>)> = x
            .par_chunks(block_rows * dim)
            .enumerate()
            .map_init(
                // Scratch reused by the blocks a thread takes (fresh pages cost page faults).
                || (vec![0.0f32; TILE_ROWS * m], vec![0.0f32; m]),
                |(tile, fresh), (block, rows)| {
                    let mut least = vec![f32::INFINITY; m];
                    let mut sums = vec![0.0f32; t * m];
                    column_block(
                        self,
                        columns,
                        (rows, block * block_rows),
                        (&mut least, &mut sums),
                        (tile, fresh),
                    );
                    (least, sums)
                },
            )
            .collect();
        let mut least = vec![f32::INFINITY; m];
        for (block_least, _) in &partials {
            for (l, &b) in least.iter_mut().zip(block_least) {
                *l = l.min(b);
            }
        }
        let mut sums = vec![0.0f32; t * m];
        for (block_least, block_sums) in &partials {
            for (ti, &tau) in self.temperatures.iter().enumerate() {
                let inv = 1.0 / tau;
                let range = ti * m..(ti + 1) * m;
                for ((s, &b), (&l, &bl)) in sums[range.clone()]
                    .iter_mut()
                    .zip(&block_sums[range])
                    .zip(least.iter().zip(block_least))
                {
                    if bl.is_finite() {
                        *s += b * exp((l - bl) * inv);
                    }
                }
            }
        }
        let mut half = vec![0.0f32; t * m];
        for (ti, &tau) in self.temperatures.iter().enumerate() {
            let inv = 1.0 / tau;
            for j in 0..m {
                half[ti * m + j] = 0.5 * (-least[j] * inv + sums[ti * m + j].ln());
            }
        }
        half
    }
}
