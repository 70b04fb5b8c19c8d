//! Exact optimal transport between two uniform clouds of equal size: the linear assignment problem.
//!
//! With n sources and n targets of weight 1/n each, the vertices of the transport polytope are the
//! permutation matrices scaled by 1/n (Birkhoff–von Neumann), so exact OT is
//! `min_σ (1/n) Σ_i C_{i σ(i)}`, with dual `max_{u,v} Σ_i u_i + Σ_j v_j s.t. u_i + v_j ≤ C_ij`.
//!
//! The solver works on a sparse candidate graph and certifies optimality on the dense problem:
//!
//! 1. Candidates: the cheapest columns of every row and the cheapest rows of every column, plus
//!    arcs pairing the rows and columns left free by a greedy start, so that the sparse graph
//!    always holds a perfect matching (every free row then has an augmenting path).
//! 2. Shortest augmenting paths (Dijkstra on reduced costs `C_ij − u_i − v_j ≥ 0`, as in the
//!    Hungarian method of Kuhn 1955 and Jonker & Volgenant 1987, "A shortest augmenting path
//!    algorithm for dense and sparse linear assignment problems", Computing 38) solve the sparse
//!    problem exactly, updating the duals of labelled nodes only.
//! 3. Pricing: every one of the n² reduced costs is checked against the duals in parallel. Arcs
//!    with `C_ij − u_i − v_j < −tol` join the candidate graph, `u_i` is lowered to restore dual
//!    feasibility, rows whose matched arc is no longer tight are freed and re-augmented. When no
//!    arc prices out, the duals are feasible for the dense problem and tight on the matching, so
//!    the permutation is optimal (complementary slackness).

mod candidates;
mod shortest_path;

use rayon::prelude::*;

use crate::error::{OtError, Result};
use crate::exact::ExactSolution;
use crate::matrix::Matrix;
use crate::plan::SparsePlan;
use crate::status::Status;
use candidates::{price, CandidateGraph};
use shortest_path::State;

/// Problems of at least this size start from the duals of a half-size problem.
const COARSE_MIN_SIZE: usize = 128;

/// Marks an unmatched row or column.
const NONE: usize = usize::MAX;

/// At most this many of the most negative arcs of a row join the candidate graph per pricing
/// round, so that a poor set of duals cannot fill the graph with arcs it will not use.
const PRICED_ARCS_PER_ROW: usize = 16;

/// Options of the exact assignment solver for uniform n×n optimal transport,
/// `min_σ Σ_i C_{i σ(i)}` over permutations σ: shortest augmenting paths (Jonker & Volgenant 1987)
/// on a sparse candidate graph, completed by dense pricing until the duals certify optimality.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Assignment {
    row_candidates: usize,
    column_candidates: usize,
    tolerance: f64,
    max_rounds: usize,
}

impl Default for Assignment {
    fn default() -> Self {
        Self {
            row_candidates: 8,
            column_candidates: 24,
            tolerance: 1e-12,
            max_rounds: 1000,
        }
    }
}

/// The optimal permutation and the dual certificate of its optimality.
#[derive(Debug, Clone)]
pub struct AssignmentSolution {
    /// Row i is matched to column `permutation[i]`.
    pub permutation: Vec<usize>,
    /// `Σ_i C_{i σ(i)}`.
    pub total_cost: f64,
    /// Row duals: `u_i + v_j ≤ C_ij` for all `(i, j)` (up to the tolerance), with equality on the
    /// matching, so `Σ u + Σ v = total_cost` (LP duality of the assignment problem).
    pub u: Vec<f64>,
    /// Column duals.
    pub v: Vec<f64>,
    /// `Converged` when the dense pricing found no reduced cost `C_ij − u_i − v_j` below
    /// `−tolerance · max|C|`; `iterations` counts the dense pricing rounds and `error` is the most
    /// negative reduced cost over all n² arcs (0 at optimality, up to round-off).
    pub status: Status,
}

impl Assignment {
    /// The default options: 8 candidate columns per row, 24 candidate rows per column, tolerance
    /// `1e-12` (relative to `max|C|`), at most 1000 pricing rounds. The candidate counts were
    /// chosen by timing squared-Euclidean costs between 2-D Gaussian clouds, n = 256 to 4000.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of cheapest columns of each row in the initial sparse graph; at least 1.
    pub fn row_candidates(mut self, k: usize) -> Self {
        self.row_candidates = k;
        self
    }

    /// Number of cheapest rows of each column in the initial sparse graph; at least 1. They make
    /// every column reachable, which keeps the augmenting paths short.
    pub fn column_candidates(mut self, k: usize) -> Self {
        self.column_candidates = k;
        self
    }

    /// Relative tolerance: an arc prices out when `C_ij − u_i − v_j < −tolerance · max|C|`. Must be
    /// finite and non-negative; it only needs to exceed the round-off of the dual updates.
    pub fn tolerance(mut self, tolerance: f64) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// Cap on the number of dense pricing rounds; at least 1. Reaching it yields
    /// [`Status::IterationCap`] with a valid permutation that is not certified optimal.
    pub fn max_rounds(mut self, max_rounds: usize) -> Self {
        self.max_rounds = max_rounds;
        self
    }

    /// Checks the options, naming the first invalid one.
    pub fn validate(&self) -> Result<()> {
        let positive = [
            ("row_candidates", self.row_candidates),
            ("column_candidates", self.column_candidates),
            ("max_rounds", self.max_rounds),
        ];
        if let Some(&(name, value)) = positive.iter().find(|(_, value)| *value == 0) {
            return Err(OtError::InvalidOption {
                name,
                value: value.to_string(),
                reason: "must be at least 1",
            });
        }
        if !(self.tolerance >= 0.0 && self.tolerance.is_finite()) {
            return Err(OtError::InvalidOption {
                name: "tolerance",
                value: self.tolerance.to_string(),
                reason: "the tolerance must be finite and non-negative",
            });
        }
        Ok(())
    }

    /// Solves `min_σ Σ_i C_{i σ(i)}` exactly for a finite n×n cost matrix, n ≥ 1.
    ///
    /// Nearest-neighbour candidates suit geometric costs; on adversarial costs (e.g. the rank-one
    /// `C_ij = i·j`, whose optimum is the anti-diagonal) the augmentations can take very long.
    /// [`Assignment::solve_within`] bounds that work, for a caller that wants to fall back to the
    /// network simplex ([`crate::exact::NetworkSimplex`]) on such inputs.
    pub fn solve(&self, cost: &Matrix) -> Result<AssignmentSolution> {
        Ok(self
            .solve_within(cost, u64::MAX)?
            .expect("an unlimited budget always completes"))
    }

    /// As [`Assignment::solve`], but gives up (returns `Ok(None)`) once the shortest-path searches
    /// have relaxed more than `max_relaxations` arcs in total.
    pub fn solve_within(
        &self,
        cost: &Matrix,
        max_relaxations: u64,
    ) -> Result<Option<AssignmentSolution>> {
        self.validate()?;
        let (n, m) = cost.shape();
        if n != m {
            return Err(OtError::Shape {
                what: "cost matrix",
                expected: "a square matrix (uniform assignment needs n = m)".to_string(),
                got: format!("{n}×{m}"),
            });
        }
        if n == 0 {
            return Err(OtError::Empty {
                what: "cost matrix",
            });
        }
        cost.check_finite("cost matrix")?;
        let c = cost.as_slice();
        let scale = c.iter().fold(0.0f64, |s, x| s.max(x.abs()));
        let tol = self.tolerance * scale;

        let solution = match self.coarse_duals(c, n, max_relaxations)? {
            Some((du, dv)) => {
                // C_ij − du_i − dv_j is an equivalent assignment problem (same optimal
                // permutations); its duals shift back by (du, dv).
                let mut reduced = vec![0.0; n * n];
                reduced
                    .par_chunks_mut(n)
                    .zip(c.par_chunks(n))
                    .zip(&du)
                    .for_each(|((r, row), ui)| {
                        for ((x, cij), vj) in r.iter_mut().zip(row).zip(&dv) {
                            *x = cij - ui - vj;
                        }
                    });
                self.solve_sparse(&reduced, n, tol, max_relaxations)
                    .map(|mut sol| {
                        sol.u.iter_mut().zip(&du).for_each(|(u, d)| *u += d);
                        sol.v.iter_mut().zip(&dv).for_each(|(v, d)| *v += d);
                        sol.total_cost = sol
                            .permutation
                            .iter()
                            .enumerate()
                            .map(|(i, &j)| c[i * n + j])
                            .sum();
                        sol
                    })
            }
            None => self.solve_sparse(c, n, tol, max_relaxations),
        };
        Ok(solution)
    }

    /// Feasible duals from the problem on every other row and column (solved recursively), extended
    /// to all columns and rows by c-transforms: `v_j = min_k (C_{2k,j} − u_k)`,
    /// `u_i = min_j (C_ij − v_j)`. Nearest-neighbour candidates under these duals are close to the
    /// optimal support even where plain nearest neighbours are not (e.g. shifted clouds). `None`
    /// below [`COARSE_MIN_SIZE`] or when the budget ran out.
    fn coarse_duals(
        &self,
        c: &[f64],
        n: usize,
        max_relaxations: u64,
    ) -> Result<Option<(Vec<f64>, Vec<f64>)>> {
        if n < COARSE_MIN_SIZE {
            return Ok(None);
        }
        let h = n / 2;
        let sub = Matrix::new(
            h,
            h,
            (0..h * h)
                .map(|f| c[2 * (f / h) * n + 2 * (f % h)])
                .collect(),
        )?;
        let Some(coarse) = self.solve_within(&sub, max_relaxations)? else {
            return Ok(None);
        };
        let mut v = vec![f64::INFINITY; n];
        v.par_chunks_mut(256).enumerate().for_each(|(block, vs)| {
            let lo = block * 256;
            for (k, uk) in coarse.u.iter().enumerate() {
                let row = &c[2 * k * n + lo..2 * k * n + lo + vs.len()];
                for (vj, cij) in vs.iter_mut().zip(row) {
                    *vj = vj.min(cij - uk);
                }
            }
        });
        let u = c
            .par_chunks(n)
            .map(|row| {
                row.iter()
                    .zip(&v)
                    .fold(f64::INFINITY, |m, (cij, vj)| m.min(cij - vj))
            })
            .collect();
        Ok(Some((u, v)))
    }

    /// The sparse-candidate solve with dense pricing (steps 1–3 of the module documentation).
    fn solve_sparse(
        &self,
        c: &[f64],
        n: usize,
        tol: f64,
        max_relaxations: u64,
    ) -> Option<AssignmentSolution> {
        let mut graph = CandidateGraph::nearest(
            c,
            n,
            self.row_candidates.min(n),
            self.column_candidates.min(n),
        );
        let mut state = State::new(n, graph.column_min.clone(), max_relaxations);
        state.greedy_tight(&graph, tol);
        graph.complete(&state.row_col, &state.col_row, c, n);
        if !state.augment_all(&graph) {
            return None;
        }
        let mut rounds = 0;
        loop {
            rounds += 1;
            state.retighten(c);
            let pricing = price(c, n, &state.u, &state.v, tol);
            let error = pricing.most_negative.min(0.0);
            if pricing.violations.is_empty() {
                let status = Status::Converged {
                    iterations: rounds,
                    error,
                };
                return Some(state.into_solution(c, status));
            }
            if rounds == self.max_rounds {
                let status = Status::IterationCap {
                    iterations: rounds,
                    error,
                };
                return Some(state.into_solution(c, status));
            }
            for (i, cols) in pricing.violations {
                graph.add_arcs(i, &cols, c, n);
                state.free_row(i);
            }
            if !state.augment_all(&graph) {
                return None;
            }
        }
    }
}

impl AssignmentSolution {
    /// As an OT solution with uniform weights `a = b = 1/n`: plan entries `(i, σ(i), 1/n)` and cost
    /// `Σ_i C_{iσ(i)} / n`. The duals are `u` and `v` unchanged: the Kantorovich dual constraint
    /// `u_i + v_j ≤ C_ij` does not involve the weights, and `Σ a_i u_i + Σ b_j v_j =
    /// (Σu + Σv)/n` equals the cost (strong duality, Kantorovich 1942).
    pub fn into_exact(self) -> ExactSolution {
        let n = self.permutation.len();
        let w = 1.0 / n as f64;
        let entries = self
            .permutation
            .iter()
            .enumerate()
            .map(|(i, &j)| (i, j, w))
            .collect();
        ExactSolution {
            plan: SparsePlan {
                rows: n,
                cols: n,
                entries,
            },
            cost: self.total_cost * w,
            u: self.u,
            v: self.v,
            status: self.status,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cost::{cost_matrix, GroundCost};
    use proptest::prelude::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// How a random test instance is drawn.
    #[derive(Debug, Clone, Copy)]
    enum Kind {
        /// Uniform costs in [0, 1).
        Uniform,
        /// Squared distances between uniform points in [0, 1)^d.
        Points,
        /// Squared distances between points drawn from a pool of 3, so many points coincide and
        /// many permutations tie.
        Duplicates,
        /// Integer costs in 0..4: heavy ties among optimal permutations.
        Integers,
    }

    fn instance(n: usize, d: usize, kind: Kind, seed: u64) -> Matrix {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        match kind {
            Kind::Uniform => Matrix::from_fn(n, n, |_, _| rng.gen::<f64>()),
            Kind::Integers => Matrix::from_fn(n, n, |_, _| rng.gen_range(0..4) as f64),
            Kind::Points | Kind::Duplicates => {
                let pool = Matrix::from_fn(3, d, |_, _| rng.gen::<f64>());
                let cloud = |rng: &mut ChaCha8Rng| match kind {
                    Kind::Duplicates => {
                        let picks: Vec<usize> = (0..n).map(|_| rng.gen_range(0..3)).collect();
                        Matrix::from_fn(n, d, |i, k| pool.get(picks[i], k))
                    }
                    _ => Matrix::from_fn(n, d, |_, _| rng.gen::<f64>()),
                };
                let x = cloud(&mut rng);
                let y = cloud(&mut rng);
                cost_matrix(&x, &y, GroundCost::SquaredEuclidean).unwrap()
            }
        }
    }

    /// The minimum of `Σ_i C_{iπ(i)}` over all n! permutations π (Heap's algorithm).
    fn brute_force(cost: &Matrix) -> f64 {
        let n = cost.rows();
        let mut perm: Vec<usize> = (0..n).collect();
        let total = |p: &[usize]| {
            p.iter()
                .enumerate()
                .map(|(i, &j)| cost.get(i, j))
                .sum::<f64>()
        };
        let mut best = total(&perm);
        let mut counters = vec![0; n];
        let mut i = 1;
        while i < n {
            if counters[i] < i {
                perm.swap(if i % 2 == 0 { 0 } else { counters[i] }, i);
                best = best.min(total(&perm));
                counters[i] += 1;
                i = 1;
            } else {
                counters[i] = 0;
                i += 1;
            }
        }
        best
    }

    /// Checks the LP-duality certificate of optimality, which needs no reference solver: σ is a
    /// permutation, `u_i + v_j ≤ C_ij + 1e-9·max|C|` for all (i, j), equality (to the same
    /// tolerance) on the matching, and `Σu + Σv = Σ_i C_{iσ(i)}` to 1e-10 relative. By weak
    /// duality every permutation then costs at least `Σu + Σv − n·1e-9·max|C|`. The tolerance is
    /// a thousand times the solver's pricing tolerance: it only has to absorb round-off.
    fn check_certificate(cost: &Matrix, s: &AssignmentSolution) {
        let n = cost.rows();
        let scale = cost.as_slice().iter().fold(0.0f64, |m, x| m.max(x.abs()));
        let tol = 1e-9 * scale.max(f64::MIN_POSITIVE);
        assert!(s.status.is_converged(), "status {:?}", s.status);
        let mut seen = vec![false; n];
        for &j in &s.permutation {
            assert!(j < n && !seen[j], "not a permutation: {:?}", s.permutation);
            seen[j] = true;
        }
        for i in 0..n {
            for j in 0..n {
                let reduced = cost.get(i, j) - s.u[i] - s.v[j];
                assert!(reduced >= -tol, "reduced cost {reduced} at ({i}, {j})");
                if s.permutation[i] == j {
                    assert!(
                        reduced.abs() <= tol,
                        "matched arc ({i}, {j}) not tight: {reduced}"
                    );
                }
            }
        }
        let matched: f64 = (0..n).map(|i| cost.get(i, s.permutation[i])).sum();
        assert!((matched - s.total_cost).abs() <= 1e-12 * matched.abs().max(1.0));
        let dual: f64 = s.u.iter().sum::<f64>() + s.v.iter().sum::<f64>();
        let gap = (dual - s.total_cost).abs();
        assert!(
            gap <= 1e-10 * s.total_cost.abs().max(scale),
            "duality gap {gap}"
        );
        assert!(s.status.error() <= 0.0 && s.status.error() >= -tol);
    }

    #[test]
    fn matches_brute_force_on_small_problems() {
        // Truth: exhaustive search over all n! permutations. Costs are sums of n entries of size
        // ≤ 10, so 1e-12 absolute is far above round-off and far below any gap between distinct
        // permutation costs that matters.
        let kinds = [
            Kind::Uniform,
            Kind::Points,
            Kind::Duplicates,
            Kind::Integers,
        ];
        for n in 1..=7 {
            for (k, &kind) in kinds.iter().enumerate() {
                for seed in 0..6 {
                    let cost = instance(n, 2, kind, 1000 * n as u64 + 10 * k as u64 + seed);
                    for solver in [
                        Assignment::new(),
                        Assignment::new().row_candidates(1).column_candidates(1),
                    ] {
                        let s = solver.solve(&cost).unwrap();
                        let best = brute_force(&cost);
                        assert!(
                            (s.total_cost - best).abs() <= 1e-12,
                            "n = {n}, {kind:?}, seed {seed}: {} vs brute force {best}",
                            s.total_cost
                        );
                        check_certificate(&cost, &s);
                    }
                }
            }
        }
    }

    #[test]
    fn duality_certificate_on_larger_problems() {
        // Truth: LP duality (see `check_certificate`), for sizes where brute force is hopeless.
        for (n, seed) in [(50, 1), (120, 2), (300, 3)] {
            for kind in [
                Kind::Uniform,
                Kind::Points,
                Kind::Duplicates,
                Kind::Integers,
            ] {
                let cost = instance(n, 3, kind, seed);
                check_certificate(&cost, &Assignment::new().solve(&cost).unwrap());
            }
        }
    }

    #[test]
    fn sparse_start_does_not_change_the_optimum() {
        // Truth: the optimal cost does not depend on the candidate graph the solver starts from.
        // One candidate per row and column forces many pricing rounds and the dense-row fallback.
        for seed in 0..4 {
            let cost = instance(150, 2, Kind::Points, seed);
            let reference = Assignment::new().solve(&cost).unwrap();
            let sparse = Assignment::new()
                .row_candidates(1)
                .column_candidates(1)
                .solve(&cost)
                .unwrap();
            check_certificate(&cost, &sparse);
            let gap = (sparse.total_cost - reference.total_cost).abs();
            assert!(gap <= 1e-12 * reference.total_cost.abs().max(1.0));
        }
    }

    #[test]
    fn iteration_cap_is_reported() {
        // Truth: with a single candidate per row and column the sparse duals of this instance
        // price out (checked below), so stopping after one round must be flagged, not hidden.
        let cost = instance(100, 2, Kind::Points, 7);
        let sparse = Assignment::new().row_candidates(1).column_candidates(1);
        assert!(sparse.solve(&cost).unwrap().status.iterations() > 1);
        let capped = sparse.max_rounds(1).solve(&cost).unwrap();
        assert!(matches!(
            capped.status,
            Status::IterationCap { iterations: 1, .. }
        ));
        let mut seen = [false; 100];
        capped.permutation.iter().for_each(|&j| seen[j] = true);
        assert!(seen.iter().all(|&s| s), "still a permutation");
    }

    #[test]
    fn into_exact_is_the_uniform_ot_solution() {
        // Truth: the definition of the uniform plan (marginals 1/n), strong duality
        // Σ a_i u_i + Σ b_j v_j = ⟨π, C⟩ for a = b = 1/n, and dual feasibility u_i + v_j ≤ C_ij.
        let n = 40;
        let cost = instance(n, 2, Kind::Points, 11);
        let exact = Assignment::new().solve(&cost).unwrap().into_exact();
        let w = 1.0 / n as f64;
        assert!(exact.plan.row_sums().iter().all(|&r| (r - w).abs() < 1e-15));
        assert!(exact.plan.col_sums().iter().all(|&r| (r - w).abs() < 1e-15));
        assert!((exact.plan.cost(&cost) - exact.cost).abs() < 1e-14);
        let dual = w * (exact.u.iter().sum::<f64>() + exact.v.iter().sum::<f64>());
        assert!((dual - exact.cost).abs() < 1e-12);
        for i in 0..n {
            for j in 0..n {
                assert!(cost.get(i, j) - exact.u[i] - exact.v[j] >= -1e-12);
            }
        }
    }

    #[test]
    fn bad_input_is_an_error() {
        let solver = Assignment::new();
        let rect = Matrix::zeros(2, 3);
        assert!(matches!(solver.solve(&rect), Err(OtError::Shape { .. })));
        assert!(matches!(
            solver.solve(&Matrix::zeros(0, 0)),
            Err(OtError::Empty { .. })
        ));
        let mut nan = Matrix::zeros(3, 3);
        nan.set(1, 2, f64::NAN);
        assert!(matches!(
            solver.solve(&nan),
            Err(OtError::NonFinite { index: 5, .. })
        ));
        let mut inf = Matrix::zeros(2, 2);
        inf.set(0, 0, f64::INFINITY);
        assert!(matches!(
            solver.solve(&inf),
            Err(OtError::NonFinite { index: 0, .. })
        ));
        let ok = Matrix::zeros(2, 2);
        for (bad, field) in [
            (Assignment::new().row_candidates(0), "row_candidates"),
            (Assignment::new().column_candidates(0), "column_candidates"),
            (Assignment::new().max_rounds(0), "max_rounds"),
            (Assignment::new().tolerance(-1.0), "tolerance"),
            (Assignment::new().tolerance(f64::NAN), "tolerance"),
        ] {
            match bad.solve(&ok) {
                Err(OtError::InvalidOption { name, .. }) => assert_eq!(name, field),
                other => panic!("expected an invalid {field}, got {other:?}"),
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]

        #[test]
        fn certificate_holds_for_random_problems(
            n in 1usize..60,
            d in 1usize..=10,
            kind in 0usize..4,
            seed in any::<u64>(),
            row_candidates in 1usize..12,
            column_candidates in 1usize..12,
        ) {
            // Truth: LP duality (see `check_certificate`), over sizes, dimensions, duplicate
            // points, integer costs with ties, and candidate graphs from very sparse to dense.
            let kind = [Kind::Uniform, Kind::Points, Kind::Duplicates, Kind::Integers][kind];
            let cost = instance(n, d, kind, seed);
            let s = Assignment::new()
                .row_candidates(row_candidates)
                .column_candidates(column_candidates)
                .solve(&cost)
                .unwrap();
            check_certificate(&cost, &s);
        }
    }
}
