//! Exact optimal transport by the primal network simplex with column generation.
//!
//! The transportation problem `min ⟨π, C⟩ s.t. π 1 = a, πᵀ 1 = b, π ≥ 0` is a minimum-cost flow
//! on the complete bipartite graph sources → sinks. It is solved by the primal network simplex of
//! LEMON 1.3 (strongly feasible spanning-tree bases, block-search pivoting; Kovács 2015), the
//! solver behind POT's `ot.emd` (Bonneel et al. 2011), with a two-level pricing rule
//! (column generation, as in the "shielding" of Schmitzer 2016, and Gottschlich & Schuhmacher's
//! shortlist method 2014): the simplex runs on an active set of arcs and, whenever it is optimal
//! there, all n·m arcs are priced in parallel against its potentials and the `arcs_per_row` most
//! negative ones of every row (and the most negative of every column whose potential still
//! carries the artificial cost) are added as nonbasic arcs. The basis stays valid across rounds,
//! and the run ends only when no arc of the full problem has reduced cost
//! `C_ij − u_i − v_j < −tol`, so the answer is an optimal basic solution of the full problem, not
//! an approximation.
//!
//! The first active set holds, for every row, the `arcs_per_row` arcs of smallest reduced cost
//! under approximate potentials, and for every column its best row. The approximate potentials
//! are the optimal duals of the subproblem on every other row and column (solved recursively by
//! the same method) extended by c-transforms.
//!
//! Small problems skip the column generation: below 128 × 128 entries, and up to 512 × 512 when
//! the plain block search over all n·m arcs (read in place from the cost matrix, the rule of
//! LEMON and POT) reaches the optimum within 16 pivots per node — it does on point clouds, where
//! it is faster than the rounds of full pricing. When it does not (costs such as `C_ij = i·j`
//! that make it pivot through long degenerate sequences), the column generation starts over.
//! That search scans a single-precision copy of the costs first and switches to the exact costs
//! for the last pivots and the proof of optimality.

mod block_search;
mod pricing;
mod spanning_tree;

use std::sync::atomic::AtomicBool;

use rayon::prelude::*;

use crate::error::{OtError, Result};
use crate::exact::ExactSolution;
use crate::marginal::check_balanced;
use crate::matrix::Matrix;
use crate::plan::SparsePlan;
use crate::status::Status;
use block_search::{min_reduced, optimize, ActiveArcs, AllArcs, Budget, Simd};
use pricing::{price, TASK_ENTRIES};
use spanning_tree::SpanningTree;

/// Exact OT solver: the network simplex with column generation. Options are set with builder
/// methods and checked by [`NetworkSimplex::solve`].
///
/// ```
/// use otto_ot::{exact::NetworkSimplex, Matrix};
/// let cost = Matrix::from_rows(&[vec![0.0, 1.0], vec![1.0, 0.0]]).unwrap();
/// let sol = NetworkSimplex::default().solve(&[0.5, 0.5], &[0.5, 0.5], &cost).unwrap();
/// assert!(sol.status.is_converged());
/// assert_eq!(sol.cost, 0.0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NetworkSimplex {
    max_iter: usize,
    tolerance: f64,
    arcs_per_row: usize,
}

impl Default for NetworkSimplex {
    /// `max_iter =` [`NetworkSimplex::DEFAULT_MAX_ITER`] pivots, `tolerance = 1e-12`,
    /// `arcs_per_row = 16`.
    fn default() -> Self {
        Self {
            max_iter: Self::DEFAULT_MAX_ITER,
            tolerance: 1e-12,
            arcs_per_row: 16,
        }
    }
}

impl NetworkSimplex {
    /// The default pivot cap, 10⁸: far beyond what an optimum needs at any size that fits in
    /// memory (64 892 pivots at n = m = 4000), so it only stops a solve that cannot end.
    pub const DEFAULT_MAX_ITER: usize = 100_000_000;

    /// The default options.
    pub fn new() -> Self {
        Self::default()
    }

    /// Maximum number of simplex pivots over all pricing rounds; reaching it ends the run with
    /// [`Status::IterationCap`].
    pub fn max_iter(mut self, max_iter: usize) -> Self {
        self.max_iter = max_iter;
        self
    }

    /// Relative optimality tolerance τ ≥ 0: an arc may enter the basis when its reduced cost is
    /// below `−τ·max|C|`. At the end every reduced cost is ≥ `−τ·max|C|`, so `(u, v − τ·max|C|)`
    /// is dual feasible and the cost is optimal to within `τ·max|C|·Σa` (weak duality).
    pub fn tolerance(mut self, tolerance: f64) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// Number k ≥ 1 of arcs per row in the initial active set (the k smallest approximate
    /// reduced costs) and most arcs per row added in one pricing round (the k most negative
    /// reduced costs). It changes the speed, never the optimal cost.
    pub fn arcs_per_row(mut self, arcs_per_row: usize) -> Self {
        self.arcs_per_row = arcs_per_row;
        self
    }

    fn validate(&self) -> Result<()> {
        if !self.tolerance.is_finite() || self.tolerance < 0.0 {
            return Err(OtError::InvalidOption {
                name: "tolerance",
                value: self.tolerance.to_string(),
                reason: "the reduced-cost tolerance must be finite and non-negative",
            });
        }
        if self.arcs_per_row == 0 {
            return Err(OtError::InvalidOption {
                name: "arcs_per_row",
                value: "0".into(),
                reason: "at least one arc per row must be priced in",
            });
        }
        Ok(())
    }

    /// Solves `min ⟨π, C⟩ s.t. π 1 = a, πᵀ 1 = b, π ≥ 0` exactly.
    ///
    /// `a` has n weights, `b` m weights of the same mass (to [`crate::marginal::MASS_TOLERANCE`]
    /// relative; `b` is rescaled to the mass of `a`), `cost` is n×m and finite. Zero weights are
    /// allowed. Returns a basic optimal plan (at most n + m − 1 nonzeros), its cost and dual
    /// potentials with `u_i + v_j ≤ C_ij` (to the tolerance) and equality on the support.
    pub fn solve(&self, a: &[f64], b: &[f64], cost: &Matrix) -> Result<ExactSolution> {
        self.solve_from(a, b, cost, true, &AtomicBool::new(false))
    }

    /// [`NetworkSimplex::solve`] that stops with [`OtError::Cancelled`] at the first pivot after
    /// `cancel` is raised (by another thread; one relaxed load per pivot).
    pub fn solve_cancellable(
        &self,
        a: &[f64],
        b: &[f64],
        cost: &Matrix,
        cancel: &AtomicBool,
    ) -> Result<ExactSolution> {
        self.solve_from(a, b, cost, true, cancel)
    }

    /// [`NetworkSimplex::solve_cancellable`], with the first try of the block search over all
    /// arcs allowed or not (see [`NetworkSimplex::run`]).
    fn solve_from(
        &self,
        a: &[f64],
        b: &[f64],
        cost: &Matrix,
        dense_first: bool,
        cancel: &AtomicBool,
    ) -> Result<ExactSolution> {
        self.validate()?;
        let (n, m) = cost.shape();
        cost.check_finite("cost matrix")?;
        let mass = check_balanced(a, n, b, m)?;
        if n + m >= u32::MAX as usize {
            return Err(OtError::Shape {
                what: "cost matrix",
                expected: "fewer than 2³² − 1 rows and columns together".into(),
                got: format!("{n}×{m}"),
            });
        }
        let mass_b: f64 = b.iter().sum();
        let b: Vec<f64> = b.iter().map(|&w| w * (mass / mass_b)).collect();
        let c = cost.as_slice();
        let run = self.run(a, &b, c, m, dense_first, cancel);
        if cancel.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(OtError::Cancelled);
        }
        let mut entries: Vec<(usize, usize, f64)> = run
            .tree
            .real_flows()
            .map(|(i, j, f)| (i as usize, j as usize - n, f))
            .collect();
        entries.sort_unstable_by_key(|&(i, j, _)| (i, j));
        let total: f64 = entries.iter().map(|&(i, j, f)| f * c[i * m + j]).sum();
        let (u, v) = run.duals(n);
        Ok(ExactSolution {
            plan: SparsePlan {
                rows: n,
                cols: m,
                entries,
            },
            cost: total,
            u,
            v,
            status: run.status,
        })
    }

    /// The network simplex on the n×m cost `c` (row-major, `n = a.len()`), for balanced `a`,
    /// `b`. Small problems (fewer than [`COARSE_MIN_ENTRIES`] entries) run the block search over
    /// all arcs. Problems of up to [`DENSE_MAX_ENTRIES`] entries try it first when `dense_first`,
    /// within a budget of [`DENSE_PIVOTS_PER_NODE`]·(n + m) pivots, and fall back to the column
    /// generation from scratch when the budget runs out (on costs whose block search pivots
    /// through long degenerate sequences, such as `C_ij = i·j`). Larger problems run the column
    /// generation.
    /// A raised `cancel` ends it early with an unfinished tree.
    fn run(
        &self,
        a: &[f64],
        b: &[f64],
        c: &[f64],
        m: usize,
        dense_first: bool,
        cancel: &AtomicBool,
    ) -> Run {
        let n = a.len();
        let basis = Basis::new(c, self.tolerance);
        let mut budget = Budget {
            pivots: 0,
            max: self.max_iter,
            cancel,
        };
        if n * m < COARSE_MIN_ENTRIES {
            return self.run_dense(&basis, a, b, c, &mut budget).expect(
                "a run without a pivot budget ends optimal, at the iteration cap or cancelled",
            );
        }
        if dense_first && n * m <= DENSE_MAX_ENTRIES {
            budget.max = DENSE_PIVOTS_PER_NODE
                .saturating_mul(n + m)
                .min(self.max_iter);
            if let Some(run) = self.run_dense(&basis, a, b, c, &mut budget) {
                return run;
            }
            budget.max = self.max_iter;
        }
        self.run_column_generation(&basis, a, b, c, m, budget)
    }

    /// The block search over all n·m arcs, from the initial basis, until the budget's pivots
    /// reach its `max`; `None` when it stopped there short of the optimum with
    /// `max < self.max_iter` (and was not cancelled). The search runs in `f32` until it finds no arc, then in
    /// `f64` to the optimum (see [`AllArcs`]).
    fn run_dense(
        &self,
        basis: &Basis,
        a: &[f64],
        b: &[f64],
        c: &[f64],
        budget: &mut Budget,
    ) -> Option<Run> {
        let (n, m) = (a.len(), b.len());
        let mut tree = SpanningTree::new(a, b, basis.big_m);
        let mut arcs = AllArcs::new(c, n, m, basis.scale);
        let simd = Simd::detect();
        loop {
            let optimal = optimize(&mut tree, &mut arcs, basis.tol, budget);
            tree.refresh_potentials();
            if optimal && !arcs.is_exact() {
                arcs.make_exact();
                continue;
            }
            let pi = tree.potentials();
            let (s, t) = pi.split_at(n);
            let min = c
                .chunks_exact(m)
                .zip(s)
                .fold(f64::INFINITY, |x, (row, &si)| {
                    x.min(min_reduced(simd, row, &t[..m], si))
                });
            let error = min.min(0.0);
            if optimal && min >= -basis.tol {
                let status = Status::Converged {
                    iterations: budget.pivots,
                    error,
                };
                return Some(Run { tree, status });
            }
            if !optimal {
                let status = Status::IterationCap {
                    iterations: budget.pivots,
                    error,
                };
                let stop = budget.pivots >= self.max_iter || budget.cancelled();
                return stop.then_some(Run { tree, status });
            }
        }
    }

    /// The column generation: the simplex on a growing set of active arcs, priced against all
    /// n·m arcs whenever it is optimal there (see the module documentation). The budget's pivots
    /// were spent before (they count towards its `max`).
    fn run_column_generation(
        &self,
        basis: &Basis,
        a: &[f64],
        b: &[f64],
        c: &[f64],
        m: usize,
        mut budget: Budget,
    ) -> Run {
        let n = a.len();
        let tol = basis.tol;
        let mut tree = SpanningTree::new(a, b, basis.big_m);
        let mut arcs = ActiveArcs::default();
        let mut active = vec![0u64; (n * m).div_ceil(64)];
        let k = self.arcs_per_row.min(m);
        let (row_shift, col_shift) = self.coarse_potentials(a, b, c, m, budget.cancel);
        let cancelled = |budget: &Budget| Status::IterationCap {
            iterations: budget.pivots,
            error: f64::NAN,
        };
        if budget.cancelled() {
            return Run {
                status: cancelled(&budget),
                tree,
            };
        }
        let (initial, _) = price(
            c,
            m,
            &row_shift,
            &col_shift,
            Some(&col_shift),
            k,
            f64::INFINITY,
        );
        add_arcs(&mut arcs, &mut active, c, n, m, &initial);

        let status = loop {
            let optimal = optimize(&mut tree, &mut arcs, tol, &mut budget);
            if budget.cancelled() {
                // Skip the pricing pass: the caller discards the run.
                break cancelled(&budget);
            }
            tree.refresh_potentials();
            let pi = tree.potentials();
            let fed = tree.fed_by_root();
            let t_rows: Option<Vec<f64>> = fed[n..n + m].contains(&true).then(|| {
                (n..n + m)
                    .map(|j| if fed[j] { f64::NEG_INFINITY } else { pi[j] })
                    .collect()
            });
            let (candidates, min_reduced) =
                price(c, m, &pi[..n], &pi[n..n + m], t_rows.as_deref(), k, -tol);
            let error = min_reduced.min(0.0);
            if !optimal {
                break Status::IterationCap {
                    iterations: budget.pivots,
                    error,
                };
            }
            if add_arcs(&mut arcs, &mut active, c, n, m, &candidates) == 0 {
                break Status::Converged {
                    iterations: budget.pivots,
                    error,
                };
            }
        };
        Run { tree, status }
    }

    /// Node potentials `(s, t)` of rows and columns under which the reduced costs
    /// `C_ij + s_i − t_j` are small on the arcs likely to be optimal: the optimal duals of the
    /// subproblem on every other row and column (solved recursively; a multiscale start in the
    /// spirit of Schmitzer 2016), extended to all rows and columns by c-transforms,
    /// `t_j = min_{i ∈ R} (C_ij − u_i)` and `−s_i = min_{j ∈ S} (C_ij − v_j)`. Zero for small
    /// problems.
    fn coarse_potentials(
        &self,
        a: &[f64],
        b: &[f64],
        c: &[f64],
        m: usize,
        cancel: &AtomicBool,
    ) -> (Vec<f64>, Vec<f64>) {
        let n = a.len();
        let zero = || (vec![0.0; n], vec![0.0; m]);
        if n * m < COARSE_MIN_ENTRIES || n < 4 || m < 4 {
            return zero();
        }
        let rows: Vec<usize> = (0..n).step_by(2).collect();
        let cols: Vec<usize> = (0..m).step_by(2).collect();
        let a_sub: Vec<f64> = rows.iter().map(|&i| a[i]).collect();
        let b_sub: Vec<f64> = cols.iter().map(|&j| b[j]).collect();
        let (mass_a, mass_b) = (a_sub.iter().sum::<f64>(), b_sub.iter().sum::<f64>());
        if mass_a <= 0.0 || mass_b <= 0.0 {
            return zero();
        }
        let b_sub: Vec<f64> = b_sub.iter().map(|&w| w * (mass_a / mass_b)).collect();
        let c_sub: Vec<f64> = rows
            .iter()
            .flat_map(|&i| cols.iter().map(move |&j| c[i * m + j]))
            .collect();
        let sub = self.run(&a_sub, &b_sub, &c_sub, cols.len(), false, cancel);
        if cancel.load(std::sync::atomic::Ordering::Relaxed) {
            return zero();
        }
        let (u_sub, v_sub) = sub.duals(rows.len());
        let s = c
            .par_chunks(m)
            .with_min_len(TASK_ENTRIES.div_ceil(m))
            .map(|row| {
                let min = cols
                    .iter()
                    .zip(&v_sub)
                    .fold(f64::INFINITY, |x, (&j, &vj)| x.min(row[j] - vj));
                -min
            })
            .collect();
        let t = rows
            .par_iter()
            .zip(&u_sub)
            .with_min_len(TASK_ENTRIES.div_ceil(m))
            .fold(
                || vec![f64::INFINITY; m],
                |mut t, (&i, &ui)| {
                    for (tj, &cij) in t.iter_mut().zip(&c[i * m..(i + 1) * m]) {
                        *tj = tj.min(cij - ui);
                    }
                    t
                },
            )
            .reduce(
                || vec![f64::INFINITY; m],
                |mut x, y| {
                    for (xj, yj) in x.iter_mut().zip(y) {
                        *xj = xj.min(yj);
                    }
                    x
                },
            );
        (s, t)
    }
}

/// Problems with fewer entries run the block search over all arcs (and are the coarsest level
/// of the multiscale start).
const COARSE_MIN_ENTRIES: usize = 128 * 128;

/// Problems with at most this many entries try the block search over all arcs first. Measured
/// (uniform 2-D clouds, BENCHMARKS.md): up to n = m ≈ 700 it takes fewer instructions than the
/// column generation, whose rounds of full pricing and multiscale start do not pay off there.
const DENSE_MAX_ENTRIES: usize = 512 * 512;

/// Pivot budget of that first try, per node. On uniform 2-D clouds it needs 9 (n = 256) to 13
/// (n = 512) pivots per node; on `C_ij = i·j` over 40, where the column generation is faster.
const DENSE_PIVOTS_PER_NODE: usize = 16;

/// The artificial cost and the absolute tolerance of a problem: what a run needs to build its
/// initial basis and price arcs.
struct Basis {
    big_m: f64,
    tol: f64,
    /// `max |C|`.
    scale: f64,
}

impl Basis {
    /// For the cost `c`: the artificial cost M (see [`SpanningTree::new`]) and the absolute
    /// tolerance `tolerance·max|C|`.
    fn new(c: &[f64], tolerance: f64) -> Self {
        let (min_c, max_c) = min_max(c);
        let scale = min_c.abs().max(max_c.abs());
        // Artificial arcs root → sink cost M > max(max C, max C − min C): a unit routed through
        // the root is then always dearer than a direct arc, so none is left at the optimum.
        let big_m = if scale > 0.0 {
            max_c.max(0.0) + (max_c - min_c) + scale
        } else {
            1.0
        };
        Self {
            big_m,
            tol: tolerance * scale,
            scale,
        }
    }
}

/// `(min, max)` of the finite values `c` (`(∞, −∞)` when empty), over independent lanes so that
/// it vectorizes.
fn min_max(c: &[f64]) -> (f64, f64) {
    const LANES: usize = 8;
    let (mut lo, mut hi) = ([f64::INFINITY; LANES], [f64::NEG_INFINITY; LANES]);
    let blocks = c.chunks_exact(LANES);
    let tail = blocks.remainder();
    for block in blocks {
        for l in 0..LANES {
            lo[l] = if block[l] < lo[l] { block[l] } else { lo[l] };
            hi[l] = if block[l] > hi[l] { block[l] } else { hi[l] };
        }
    }
    let fold = |(a, b): (f64, f64), (&x, &y): (&f64, &f64)| (a.min(x), b.max(y));
    let init = (f64::INFINITY, f64::NEG_INFINITY);
    let (lo, hi) = lo.iter().zip(&hi).fold(init, fold);
    tail.iter().zip(tail).fold((lo, hi), fold)
}

/// The final basis of a run and how the run stopped.
struct Run {
    tree: SpanningTree,
    status: Status,
}

impl Run {
    /// Dual potentials `u_i = −π_i`, `v_j = π_{n+j}` (so that `C_ij − u_i − v_j` is the reduced
    /// cost).
    fn duals(&self, n: usize) -> (Vec<f64>, Vec<f64>) {
        let pi = self.tree.potentials();
        let m = pi.len() - 1 - n;
        (pi[..n].iter().map(|&p| -p).collect(), pi[n..n + m].to_vec())
    }
}

/// Adds the arcs `(i, j)` not yet active to the simplex; returns how many were new.
fn add_arcs(
    arcs: &mut ActiveArcs,
    active: &mut [u64],
    c: &[f64],
    n: usize,
    m: usize,
    new: &[(u32, u32)],
) -> usize {
    let mut added = 0;
    for &(i, j) in new {
        let index = i as usize * m + j as usize;
        let (word, bit) = (index / 64, 1u64 << (index % 64));
        if active[word] & bit == 0 {
            active[word] |= bit;
            arcs.push(i, (n + j as usize) as u32, c[index]);
            added += 1;
        }
    }
    added
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use rand_distr::StandardNormal;

    use crate::cost::squared_euclidean;
    use crate::exact::Assignment;
    use crate::marginal::uniform;

    fn cloud(rng: &mut ChaCha8Rng, n: usize, d: usize, shift: f64) -> Matrix {
        Matrix::from_fn(n, d, |_, _| rng.sample::<f64, _>(StandardNormal) + shift)
    }

    fn random_weights(rng: &mut ChaCha8Rng, n: usize) -> Vec<f64> {
        let w: Vec<f64> = (0..n).map(|_| rng.gen_range(0.1..2.0)).collect();
        let total: f64 = w.iter().sum();
        w.iter().map(|x| x / total).collect()
    }

    /// Checks the LP optimality certificate, an independent proof of optimality that does not
    /// trust the solver: primal feasibility, dual feasibility, complementary slackness and equal
    /// primal and dual objectives. Tolerances: marginals are sums of at most n + m flows built
    /// by exact-cancellation pivots (1e-12 relative); reduced costs are differences of O(max|C|)
    /// potentials (1e-9·max|C| leaves room for the 1e-12 pricing tolerance and round-off); the
    /// objectives are compared on the scale max|C|·Σa of the potentials' contribution, since
    /// the optimal cost itself may be 0.
    fn assert_certificate(a: &[f64], b: &[f64], cost: &Matrix, sol: &ExactSolution) {
        let (n, m) = cost.shape();
        let mass: f64 = a.iter().sum();
        let b: Vec<f64> = {
            let mass_b: f64 = b.iter().sum();
            b.iter().map(|&w| w * mass / mass_b).collect()
        };
        let max_c = cost.as_slice().iter().fold(0.0f64, |x, y| x.max(y.abs()));
        assert!(sol.status.is_converged(), "{:?}", sol.status);
        assert!(sol.plan.entries.len() < n + m, "not a basic solution");
        assert!(sol.plan.entries.iter().all(|&(_, _, f)| f >= 0.0));
        for (got, want) in sol.plan.row_sums().iter().zip(a) {
            assert!(
                (got - want).abs() <= 1e-12 * mass,
                "row sum {got} vs {want}"
            );
        }
        for (got, want) in sol.plan.col_sums().iter().zip(&b) {
            assert!(
                (got - want).abs() <= 1e-12 * mass,
                "column sum {got} vs {want}"
            );
        }
        let slack = 1e-9 * max_c.max(f64::MIN_POSITIVE);
        for i in 0..n {
            for j in 0..m {
                let r = cost.get(i, j) - sol.u[i] - sol.v[j];
                assert!(r >= -slack, "dual infeasible at ({i}, {j}): {r}");
            }
        }
        for &(i, j, _) in &sol.plan.entries {
            let r = cost.get(i, j) - sol.u[i] - sol.v[j];
            assert!(r.abs() <= slack, "slackness fails at ({i}, {j}): {r}");
        }
        let primal = sol.plan.cost(cost);
        assert!((primal - sol.cost).abs() <= 1e-12 * max_c * mass);
        let dual: f64 = a.iter().zip(&sol.u).map(|(w, u)| w * u).sum::<f64>()
            + b.iter().zip(&sol.v).map(|(w, v)| w * v).sum::<f64>();
        assert!(
            (primal - dual).abs() <= 1e-10 * max_c * mass,
            "primal {primal} vs dual {dual}"
        );
    }

    /// Minimum of `Σ_i C_{i σ(i)} / n` over all permutations σ (Heap's algorithm).
    fn brute_force_assignment(cost: &Matrix) -> f64 {
        let n = cost.rows();
        let mut perm: Vec<usize> = (0..n).collect();
        let eval = |p: &[usize]| {
            p.iter()
                .enumerate()
                .map(|(i, &j)| cost.get(i, j))
                .sum::<f64>()
        };
        let mut best = eval(&perm);
        let mut c = vec![0; n];
        let mut i = 0;
        while i < n {
            if c[i] < i {
                perm.swap(if i % 2 == 0 { 0 } else { c[i] }, i);
                best = best.min(eval(&perm));
                c[i] += 1;
                i = 0;
            } else {
                c[i] = 0;
                i += 1;
            }
        }
        best / n as f64
    }

    #[test]
    fn uniform_square_problems_match_the_best_permutation() {
        // Truth: with uniform weights 1/n the optimal plans include a permutation matrix / n
        // (Birkhoff–von Neumann), so the optimum is the best of all n! assignments.
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for n in 1..=7 {
            for trial in 0..6 {
                let cost = if trial % 2 == 0 {
                    Matrix::from_fn(n, n, |_, _| rng.gen_range(0.0..1.0))
                } else {
                    let (x, y) = (cloud(&mut rng, n, 2, 0.0), cloud(&mut rng, n, 2, 0.5));
                    squared_euclidean(&x, &y).unwrap()
                };
                let a = uniform(n);
                let sol = NetworkSimplex::default().solve(&a, &a, &cost).unwrap();
                let truth = brute_force_assignment(&cost);
                assert!(
                    (sol.cost - truth).abs() <= 1e-12 * truth.abs().max(1e-300),
                    "n = {n}"
                );
                assert_certificate(&a, &a, &cost, &sol);
            }
        }
    }

    #[test]
    fn hand_computed_two_by_three() {
        // Truth: for two rows the plan is fixed by its first row x (second row b − x), and the
        // cost is Σ_j b_j C_2j + Σ_j x_j (C_1j − C_2j): fill x greedily in increasing order of
        // C_1j − C_2j = (−2, 1, 2): x = (0.2, 0.3, 0), cost 1.4 − 0.4 + 0.3 = 1.3.
        let cost = Matrix::from_rows(&[vec![1.0, 2.0, 3.0], vec![3.0, 1.0, 1.0]]).unwrap();
        let (a, b) = ([0.5, 0.5], [0.2, 0.3, 0.5]);
        let sol = NetworkSimplex::default().solve(&a, &b, &cost).unwrap();
        assert!((sol.cost - 1.3).abs() < 1e-15);
        let dense = sol.plan.to_dense();
        let want = [0.2, 0.3, 0.0, 0.0, 0.0, 0.5];
        assert!(dense
            .as_slice()
            .iter()
            .zip(want)
            .all(|(x, y)| (x - y).abs() < 1e-15));
        assert_certificate(&a, &b, &cost, &sol);
    }

    /// The exact optimum of a 2×m problem by the greedy fill of the first row (a fractional
    /// knapsack, solved exactly by sorting).
    fn two_row_optimum(a: &[f64], b: &[f64], cost: &Matrix) -> f64 {
        let m = b.len();
        let mut order: Vec<usize> = (0..m).collect();
        let gain = |j: usize| cost.get(0, j) - cost.get(1, j);
        order.sort_by(|&x, &y| gain(x).total_cmp(&gain(y)));
        let (mut left, mut total) = (a[0], 0.0);
        for j in order {
            let x = left.min(b[j]);
            left -= x;
            total += x * cost.get(0, j) + (b[j] - x) * cost.get(1, j);
        }
        total
    }

    #[test]
    fn non_uniform_two_row_problems_match_the_greedy_optimum() {
        // Truth: `two_row_optimum`, an independent exact solution of 2×m transport.
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        for m in 1..=9 {
            let cost = Matrix::from_fn(2, m, |_, _| rng.gen_range(-1.0..3.0));
            let (a, b) = (random_weights(&mut rng, 2), random_weights(&mut rng, m));
            let sol = NetworkSimplex::default().solve(&a, &b, &cost).unwrap();
            let truth = two_row_optimum(&a, &b, &cost);
            assert!(
                (sol.cost - truth).abs() <= 1e-12 * 3.0,
                "m = {m}: {} vs {truth}",
                sol.cost
            );
            assert_certificate(&a, &b, &cost, &sol);
        }
    }

    #[test]
    fn column_generation_agrees_with_the_full_arc_set() {
        // Truth: the certificate, and the cost of the plain network simplex (all n·m arcs active
        // from the start, no coarse start) on problems large enough for the multiscale start.
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for (n, m, shift) in [(150, 130, 1.0), (130, 150, 0.0), (140, 140, 2.0)] {
            let (x, y) = (cloud(&mut rng, n, 2, 0.0), cloud(&mut rng, m, 2, shift));
            let cost = squared_euclidean(&x, &y).unwrap();
            let (a, b) = (random_weights(&mut rng, n), uniform(m));
            let sol = NetworkSimplex::default().solve(&a, &b, &cost).unwrap();
            assert_certificate(&a, &b, &cost, &sol);
            let full = NetworkSimplex::default()
                .arcs_per_row(m)
                .solve(&a, &b, &cost)
                .unwrap();
            assert!((sol.cost - full.cost).abs() <= 1e-12 * sol.cost);
            let one = NetworkSimplex::default()
                .arcs_per_row(1)
                .solve(&a, &b, &cost)
                .unwrap();
            assert_certificate(&a, &b, &cost, &one);
        }
    }

    #[test]
    fn both_strategies_agree_with_the_assignment_solver() {
        // Truth: the certificate of each run, and the optimal cost of the assignment solver (an
        // independent algorithm: shortest augmenting paths) to 1e-12 relative, on uniform square
        // problems large enough for the block search over all arcs to be tried first (≥ 128²
        // entries), with it and without it (column generation).
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        for (n, shift) in [(130, 0.0), (200, 1.0), (300, 2.0)] {
            let (x, y) = (cloud(&mut rng, n, 2, 0.0), cloud(&mut rng, n, 2, shift));
            let cost = squared_euclidean(&x, &y).unwrap();
            let w = uniform(n);
            let truth = Assignment::default()
                .solve(&cost)
                .unwrap()
                .into_exact()
                .cost;
            for dense_first in [true, false] {
                let sol = NetworkSimplex::default()
                    .solve_from(&w, &w, &cost, dense_first, &AtomicBool::new(false))
                    .unwrap();
                assert_certificate(&w, &w, &cost, &sol);
                assert!(
                    (sol.cost - truth).abs() <= 1e-12 * truth,
                    "n = {n}, dense first {dense_first}: {} vs {truth}",
                    sol.cost
                );
            }
        }
    }

    #[test]
    fn a_raised_cancel_flag_stops_the_solve() {
        // Truth: the flag is read before every pivot — raised beforehand, both strategies and
        // the small-problem path return `Cancelled`; raised from another thread a twentieth of
        // the way into a solve, the solve returns `Cancelled` well before the uncancelled time
        // (by a margin that absorbs other tests and processes sharing the cores).
        use std::sync::atomic::Ordering;
        use std::time::Instant;
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        let raised = AtomicBool::new(true);
        for n in [50, 300] {
            let (x, y) = (cloud(&mut rng, n, 2, 0.0), cloud(&mut rng, n, 2, 1.0));
            let cost = squared_euclidean(&x, &y).unwrap();
            let w = uniform(n);
            for dense_first in [true, false] {
                let outcome =
                    NetworkSimplex::default().solve_from(&w, &w, &cost, dense_first, &raised);
                assert_eq!(outcome.unwrap_err(), OtError::Cancelled, "n = {n}");
            }
        }
        let n = 3000;
        let (x, y) = (cloud(&mut rng, n, 2, 0.0), cloud(&mut rng, n, 2, 0.5));
        let cost = squared_euclidean(&x, &y).unwrap();
        let w = uniform(n);
        let started = Instant::now();
        let solved = NetworkSimplex::default().solve(&w, &w, &cost).unwrap();
        let full = started.elapsed();
        assert!(solved.status.is_converged());
        let cancel = AtomicBool::new(false);
        let started = Instant::now();
        let outcome = std::thread::scope(|scope| {
            let solve =
                scope.spawn(|| NetworkSimplex::default().solve_cancellable(&w, &w, &cost, &cancel));
            std::thread::sleep(full / 20);
            cancel.store(true, Ordering::Relaxed);
            solve.join().unwrap()
        });
        assert_eq!(outcome.unwrap_err(), OtError::Cancelled);
        let cancelled = started.elapsed();
        assert!(
            cancelled < full * 4 / 5,
            "{cancelled:?} vs {full:?} uncancelled"
        );
    }

    #[test]
    fn both_strategies_agree_on_weighted_rectangular_problems_with_ties() {
        // Truth: the certificate, and equal optimal costs (1e-12 relative) from the two
        // strategies; integer costs with few distinct values make many degenerate pivots and
        // tied reduced costs.
        let mut rng = ChaCha8Rng::seed_from_u64(6);
        for (n, m, ties) in [(150, 170, false), (170, 150, true), (64, 400, true)] {
            let (x, y) = (cloud(&mut rng, n, 3, 0.0), cloud(&mut rng, m, 3, 1.0));
            let mut cost = squared_euclidean(&x, &y).unwrap();
            if ties {
                cost.as_mut_slice()
                    .iter_mut()
                    .for_each(|c| *c = (*c / 4.0).round());
            }
            let (a, b) = (random_weights(&mut rng, n), random_weights(&mut rng, m));
            let dense = NetworkSimplex::default()
                .solve_from(&a, &b, &cost, true, &AtomicBool::new(false))
                .unwrap();
            let sparse = NetworkSimplex::default()
                .solve_from(&a, &b, &cost, false, &AtomicBool::new(false))
                .unwrap();
            assert_certificate(&a, &b, &cost, &dense);
            assert_certificate(&a, &b, &cost, &sparse);
            let scale = dense.cost.abs().max(1e-300);
            assert!((dense.cost - sparse.cost).abs() <= 1e-12 * scale);
        }
    }

    #[test]
    fn min_max_matches_a_fold() {
        // Truth: a sequential fold with f64::min / f64::max, on lengths around the lane count.
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        for len in 0..40 {
            let c: Vec<f64> = (0..len).map(|_| rng.gen_range(-3.0..2.0)).collect();
            let want = c
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| {
                    (lo.min(x), hi.max(x))
                });
            assert_eq!(min_max(&c), want, "len {len}");
        }
    }

    #[test]
    fn large_cost_offsets_leave_the_end_to_the_exact_search() {
        // Truth: the certificate, and the assignment solver's optimal cost (1e-12 relative, so
        // 10⁻⁸ absolute against differences of order 1 between plans), on costs
        // `offset + C_ij` with `C_ij` squared distances of order 1: the single-precision block
        // search leaves every arc of reduced cost above −2⁻²⁰·(max C + 2 max |π|) ≈ −0.02 and
        // −0.2 to the exact one, which must finish the work. Uniform square problems (n = 130,
        // 200: above 128², so through the dense-first path).
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        for (n, offset) in [(40, 1e3), (130, 1e4), (200, 1e3)] {
            let (x, y) = (cloud(&mut rng, n, 2, 0.0), cloud(&mut rng, n, 2, 0.5));
            let mut cost = squared_euclidean(&x, &y).unwrap();
            cost.as_mut_slice().iter_mut().for_each(|c| *c += offset);
            let w = uniform(n);
            let truth = Assignment::default()
                .solve(&cost)
                .unwrap()
                .into_exact()
                .cost;
            let sol = NetworkSimplex::default().solve(&w, &w, &cost).unwrap();
            assert!(sol.status.is_converged());
            assert_certificate(&w, &w, &cost, &sol);
            assert!(
                (sol.cost - truth).abs() <= 1e-12 * truth,
                "n = {n}: {} vs {truth}",
                sol.cost
            );
        }
    }

    #[test]
    fn rank_one_cost_falls_back_to_column_generation_exactly() {
        // Truth: the rearrangement inequality — for C_ij = i·j/n² and uniform weights the
        // anti-diagonal is optimal, cost Σ_i i(n−1−i)/n³. The block search over all arcs runs
        // out of its pivot budget on this cost (n = 300) and the column generation finishes;
        // n = 100 stays below the budget's size limit and is solved by the block search alone.
        for n in [100, 300] {
            let cost = Matrix::from_fn(n, n, |i, j| (i * j) as f64 / (n * n) as f64);
            let want: f64 =
                (0..n).map(|i| (i * (n - 1 - i)) as f64).sum::<f64>() / (n * n * n) as f64;
            let w = uniform(n);
            let sol = NetworkSimplex::default().solve(&w, &w, &cost).unwrap();
            assert_certificate(&w, &w, &cost, &sol);
            assert!(
                (sol.cost - want).abs() <= 1e-12 * want,
                "{} vs {want}",
                sol.cost
            );
        }
    }

    #[test]
    fn iteration_cap_is_reported() {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let (x, y) = (cloud(&mut rng, 30, 2, 0.0), cloud(&mut rng, 30, 2, 1.0));
        let cost = squared_euclidean(&x, &y).unwrap();
        let a = uniform(30);
        let sol = NetworkSimplex::default()
            .max_iter(5)
            .solve(&a, &a, &cost)
            .unwrap();
        assert!(matches!(
            sol.status,
            Status::IterationCap { iterations: 5, .. }
        ));
        assert!(sol.status.error() < 0.0);

        // The pivots of a block search that ran out of its budget count towards the cap of the
        // column generation that takes over (C_ij = i·j exhausts the budget 16·(n + m)).
        let n = 300;
        let cost = Matrix::from_fn(n, n, |i, j| (i * j) as f64);
        let w = uniform(n);
        let cap = DENSE_PIVOTS_PER_NODE * 2 * n + 10;
        let sol = NetworkSimplex::default()
            .max_iter(cap)
            .solve(&w, &w, &cost)
            .unwrap();
        assert_eq!(sol.status.iterations(), cap);
        assert!(!sol.status.is_converged());
    }

    #[test]
    fn bad_inputs_are_typed_errors() {
        let cost = Matrix::from_rows(&[vec![0.0, 1.0], vec![1.0, 0.0]]).unwrap();
        let ns = NetworkSimplex::default();
        let half = [0.5, 0.5];
        assert!(matches!(
            ns.solve(&[1.0], &half, &cost),
            Err(OtError::Shape { .. })
        ));
        assert!(matches!(
            ns.solve(&half, &[0.3, 0.3, 0.4], &cost),
            Err(OtError::Shape { .. })
        ));
        let mut nan = cost.clone();
        nan.set(1, 0, f64::NAN);
        assert!(matches!(
            ns.solve(&half, &half, &nan),
            Err(OtError::NonFinite { .. })
        ));
        assert!(matches!(
            ns.solve(&[1.5, -0.5], &half, &cost),
            Err(OtError::NegativeWeight { index: 1, .. })
        ));
        assert!(matches!(
            ns.solve(&half, &[0.5, 0.6], &cost),
            Err(OtError::MassMismatch { .. })
        ));
        assert!(matches!(
            ns.solve(&[0.0, 0.0], &[0.0, 0.0], &cost),
            Err(OtError::ZeroMass { .. })
        ));
        let empty = Matrix::zeros(0, 2);
        assert!(matches!(
            ns.solve(&[], &half, &empty),
            Err(OtError::Empty { .. })
        ));
        for bad in [
            ns.tolerance(f64::NAN),
            ns.tolerance(-1.0),
            ns.arcs_per_row(0),
        ] {
            assert!(matches!(
                bad.solve(&half, &half, &cost),
                Err(OtError::InvalidOption { .. })
            ));
        }
    }

    #[test]
    fn mass_round_off_is_absorbed() {
        // Truth: masses equal to 1e-9 relative pass the check and b is rescaled to Σa.
        let cost = Matrix::from_rows(&[vec![0.0, 1.0], vec![1.0, 0.0]]).unwrap();
        let (a, b) = ([0.5, 0.5], [0.5, 0.5 + 1e-9]);
        let sol = NetworkSimplex::default().solve(&a, &b, &cost).unwrap();
        assert_certificate(&a, &b, &cost, &sol);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn certificate_holds_on_random_problems(
            seed in any::<u64>(),
            n in 1usize..40,
            m in 1usize..40,
            dim in 1usize..=10,
            uniform_weights in any::<bool>(),
            duplicates in 0usize..5,
            zero_weights in 0usize..4,
            integer_costs in any::<bool>(),
        ) {
            // Truth: the LP certificate of `assert_certificate`, on uniform and non-uniform
            // weights, repeated points and integer costs (degenerate ties) and zero weights.
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let mut x = cloud(&mut rng, n, dim, 0.0);
            let shift = rng.gen_range(0.0..2.0);
            let mut y = cloud(&mut rng, m, dim, shift);
            for _ in 0..duplicates {
                let (i, j) = (rng.gen_range(0..n), rng.gen_range(0..m));
                let p = x.row(i).to_vec();
                y.row_mut(j).copy_from_slice(&p);
                let i2 = rng.gen_range(0..n);
                x.row_mut(i2).copy_from_slice(&p);
            }
            let mut cost = squared_euclidean(&x, &y).unwrap();
            if integer_costs {
                cost.as_mut_slice().iter_mut().for_each(|c| *c = c.round());
            }
            let (mut a, mut b) = if uniform_weights {
                (uniform(n), uniform(m))
            } else {
                (random_weights(&mut rng, n), random_weights(&mut rng, m))
            };
            for _ in 0..zero_weights {
                let (i, j) = (rng.gen_range(0..n), rng.gen_range(0..m));
                if n > 1 { a[i] = 0.0; }
                if m > 1 { b[j] = 0.0; }
            }
            if a.iter().all(|&w| w == 0.0) { a[0] = 1.0; }
            if b.iter().all(|&w| w == 0.0) { b[0] = 1.0; }
            let (sa, sb) = (a.iter().sum::<f64>(), b.iter().sum::<f64>());
            a.iter_mut().for_each(|w| *w /= sa);
            b.iter_mut().for_each(|w| *w /= sb);
            let sol = NetworkSimplex::default().solve(&a, &b, &cost).unwrap();
            assert_certificate(&a, &b, &cost, &sol);
        }
    }
}
