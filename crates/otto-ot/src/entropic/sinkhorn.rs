//! Sinkhorn's algorithm for balanced and unbalanced entropic OT, stabilized by absorption
//! (Schmitzer 2019) and accelerated by ε-scaling.
//!
//! Both problems share one loop: alternately `f ← prox(−ε log Σ_j b_j exp((g_j − C_ij)/ε))` and
//! the symmetric update of `g` (Peyré & Cuturi 2019, §4.4, in the potentials of Feydy et al.
//! 2019), where the proximal step is the identity for the exact marginal constraint and the
//! multiplication by `ρ/(ρ+ε)` for the penalty `ρ KL(· ‖ a)` (Chizat et al. 2018). The
//! updates run on a stabilized kernel (Schmitzer 2019; see `entropic/kernel.rs`).

use std::sync::atomic::{AtomicBool, Ordering};

use rayon::prelude::*;

use super::kernel::StabilizedKernel;
use super::{evaluate, EntropicSolution};
use crate::error::{OtError, Result};
use crate::marginal::{check_balanced, check_finite, check_histogram};
use crate::matrix::Matrix;
use crate::status::Status;

/// Most iterations spent at each ε above the target.
const STAGE_MAX_ITER: usize = 300;
/// Stopping criterion at each ε above the target, relative to `‖b‖₂`. Measured on 2-D Gaussian
/// clouds (n = 256, 1000): 1e-2 saves ~12% of the iterations at ε = 0.05 mean(C) but costs 2–4×
/// more at ε = 0.001 mean(C), where a well-converged previous stage matters; 1e-3 is close to the
/// best at both.
const STAGE_TOLERANCE: f64 = 1e-3;

/// Options of the Sinkhorn solver; build with [`Sinkhorn::new`] and the setters, run with
/// [`Sinkhorn::solve`].
///
/// ```
/// use otto_ot::entropic::Sinkhorn;
/// use otto_ot::Matrix;
/// let cost = Matrix::from_rows(&[vec![0.0, 1.0], vec![1.0, 0.0]]).unwrap();
/// let sol = Sinkhorn::new(0.1).tolerance(1e-9).solve(&[0.5, 0.5], &[0.5, 0.5], &cost).unwrap();
/// assert!(sol.status.is_converged());
/// assert!(sol.plan.get(0, 0) > 0.49);
/// ```
///
/// **Stopping criterion** (the one of POT's `ot.sinkhorn`, so that results agree at equal
/// tolerance): each iteration updates `g`, then `f`, after which the row marginal is exact, and
/// stops when `‖πᵀ1 − b‖₂ < tolerance` (absolute, in units of mass). It is checked every iteration
/// at no extra cost (POT checks every tenth, so it may run up to 9 iterations more). Unbalanced,
/// the column marginal is compared with the one its optimality condition asks for,
/// `b ∘ exp(−g/ρ)` (Chizat et al. 2018), which tends to `b` as ρ → ∞; each iteration then
/// also applies the optimal dual translation of Séjourné et al. (2022), without which convergence
/// stalls for ρ ≫ ε.
///
/// **ε-scaling** (Schmitzer 2019; Feydy et al. 2019): the solver starts at
/// `ε₀ = 2^K ε ≥ max C − min C`, halves ε per stage down to the target, and warm-starts each stage
/// from the last potentials; the stages above the target stop once `‖πᵀ1 − b‖₂ < 10⁻³ ‖b‖₂` (or
/// after 300 iterations), only the target ε runs to the full tolerance. Skipped with a warm start.
/// `status.iterations` counts the iterations of all stages; at most half of `max_iter` is spent
/// above the target ε.
#[derive(Debug, Clone, PartialEq)]
pub struct Sinkhorn {
    eps: f64,
    tolerance: f64,
    max_iter: usize,
    eps_scaling: bool,
    rho: Option<f64>,
    warm_start: Option<(Vec<f64>, Vec<f64>)>,
}

impl Default for Sinkhorn {
    /// ε = 0.1, tolerance 1e-9 (POT's default), 10 000 iterations, ε-scaling on, balanced.
    fn default() -> Self {
        Self {
            eps: 0.1,
            tolerance: 1e-9,
            max_iter: 10_000,
            eps_scaling: true,
            rho: None,
            warm_start: None,
        }
    }
}

impl Sinkhorn {
    /// The solver at regularization `eps > 0`, absolute (in units of the cost), other options at
    /// their defaults. Options are validated by [`Sinkhorn::solve`].
    pub fn new(eps: f64) -> Self {
        Self {
            eps,
            ..Self::default()
        }
    }

    /// Stop once the marginal error falls below `tolerance ≥ 0` (default 1e-9).
    pub fn tolerance(mut self, tolerance: f64) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// Stop after `max_iter ≥ 1` iterations in all (default 10 000).
    pub fn max_iter(mut self, max_iter: usize) -> Self {
        self.max_iter = max_iter;
        self
    }

    /// Whether to anneal ε from the cost's spread down to the target (default true).
    pub fn eps_scaling(mut self, on: bool) -> Self {
        self.eps_scaling = on;
        self
    }

    /// Solve the unbalanced problem, replacing the marginal constraints by the penalties
    /// `ρ KL(π1 ‖ a) + ρ KL(πᵀ1 ‖ b)` with `0 < ρ < ∞` (Chizat et al. 2018). The masses of `a` and `b`
    /// may then differ.
    pub fn unbalanced(mut self, rho: f64) -> Self {
        self.rho = Some(rho);
        self
    }

    /// Start from the dual potentials `f` (length n) and `g` (length m), e.g. those of a solution
    /// at a nearby ε or nearby inputs; ε-scaling is then skipped. The first update overwrites `g`
    /// (from `f`), so `g` only sets the initial stabilization.
    pub fn warm_start(mut self, f: Vec<f64>, g: Vec<f64>) -> Self {
        self.warm_start = Some((f, g));
        self
    }

    /// The regularization ε.
    pub fn eps(&self) -> f64 {
        self.eps
    }

    /// The marginal penalty ρ, `None` when balanced.
    pub fn rho(&self) -> Option<f64> {
        self.rho
    }

    /// These options without their warm start.
    pub(crate) fn cold(&self) -> Self {
        Self {
            warm_start: None,
            ..self.clone()
        }
    }

    /// Checks every option, naming the first bad one.
    pub fn validate(&self) -> Result<()> {
        let bad = |name, value: f64, reason| {
            Err(OtError::InvalidOption {
                name,
                value: value.to_string(),
                reason,
            })
        };
        if !(self.eps > 0.0 && self.eps.is_finite()) {
            return bad(
                "eps",
                self.eps,
                "the regularization must be positive and finite",
            );
        }
        if !(self.tolerance >= 0.0 && self.tolerance.is_finite()) {
            return bad(
                "tolerance",
                self.tolerance,
                "must be non-negative and finite",
            );
        }
        if self.max_iter == 0 {
            return bad("max_iter", 0.0, "at least one iteration is needed");
        }
        if let Some(rho) = self.rho {
            if !(rho > 0.0 && rho.is_finite()) {
                return bad(
                    "rho",
                    rho,
                    "the marginal penalty must be positive and finite",
                );
            }
        }
        Ok(())
    }

    /// Solves entropic OT between weights `a` (length n) and `b` (length m) for the n×m `cost`.
    ///
    /// Errors: [`OtError::InvalidOption`] for a bad option, [`OtError::Shape`] when the lengths of
    /// `a`, `b` or a warm start disagree with `cost`, [`OtError::NonFinite`], [`OtError::Empty`],
    /// [`OtError::NegativeWeight`], [`OtError::ZeroMass`] for bad inputs and, when balanced,
    /// [`OtError::MassMismatch`] unless `Σa = Σb` (relative tolerance
    /// [`crate::marginal::MASS_TOLERANCE`]). Zero weights are allowed.
    pub fn solve(&self, a: &[f64], b: &[f64], cost: &Matrix) -> Result<EntropicSolution> {
        self.solve_cancellable(a, b, cost, &AtomicBool::new(false))
    }

    /// [`Sinkhorn::solve`] that stops with [`OtError::Cancelled`] at the first iteration after
    /// `cancel` is raised (by another thread; one relaxed load per iteration).
    pub fn solve_cancellable(
        &self,
        a: &[f64],
        b: &[f64],
        cost: &Matrix,
        cancel: &AtomicBool,
    ) -> Result<EntropicSolution> {
        self.validate()?;
        let (n, m) = cost.shape();
        match self.rho {
            None => {
                check_balanced(a, n, b, m)?;
            }
            Some(_) => {
                check_histogram("source weights a", a, n)?;
                check_histogram("target weights b", b, m)?;
            }
        }
        cost.check_finite("cost matrix")?;
        let (f, g) = match &self.warm_start {
            Some((f, g)) => {
                check_potential("warm-start potential f", f, n)?;
                check_potential("warm-start potential g", g, m)?;
                (f.clone(), g.clone())
            }
            None => (vec![0.0; n], vec![0.0; m]),
        };
        let schedule = self.schedule(cost);
        let mut kernel = StabilizedKernel::new(cost, a, b, self.rho, schedule[0], f, g);
        let stage_tolerance = self.tolerance.max(STAGE_TOLERANCE * norm(b));
        let mut iterations = 0;
        let mut error = f64::INFINITY;
        for (stage, &eps) in schedule.iter().enumerate() {
            let last = stage + 1 == schedule.len();
            if !last && iterations >= self.max_iter / 2 {
                continue;
            }
            if stage > 0 {
                kernel.rebuild(eps);
            }
            kernel.update_columns();
            kernel.translate();
            let mut stage_iterations = 0;
            loop {
                if cancel.load(Ordering::Relaxed) {
                    return Err(OtError::Cancelled);
                }
                kernel.update_rows();
                iterations += 1;
                stage_iterations += 1;
                error = kernel.column_error();
                let done = if last {
                    error < self.tolerance || iterations >= self.max_iter
                } else {
                    error < stage_tolerance
                        || stage_iterations >= STAGE_MAX_ITER
                        || iterations >= self.max_iter / 2
                };
                if done || !error.is_finite() {
                    break;
                }
                kernel.update_columns();
                kernel.translate();
            }
            if !error.is_finite() {
                break;
            }
        }
        Ok(self.finish(kernel, a, b, cost, iterations, error))
    }

    /// The ε of each stage: the target alone, or `ε_k = 2^k ε` for `k = K, …, 1, 0` with the
    /// smallest `K` such that `ε_K ≥ max C − min C`. Exact halvings let the kernel be rebuilt by
    /// squaring (see [`StabilizedKernel::rebuild`]).
    fn schedule(&self, cost: &Matrix) -> Vec<f64> {
        let mut schedule = vec![self.eps];
        if self.eps_scaling && self.warm_start.is_none() {
            let (lo, hi) = cost
                .as_slice()
                .par_iter()
                .fold(
                    || (f64::INFINITY, f64::NEG_INFINITY),
                    |(lo, hi), &c| (lo.min(c), hi.max(c)),
                )
                .reduce(
                    || (f64::INFINITY, f64::NEG_INFINITY),
                    |p, q| (p.0.min(q.0), p.1.max(q.1)),
                );
            let mut eps = self.eps;
            while eps < hi - lo {
                eps *= 2.0;
                schedule.push(eps);
            }
            schedule.reverse();
        }
        schedule
    }

    /// Assembles the solution: potentials, plan, transport cost, objective and status.
    fn finish(
        &self,
        kernel: StabilizedKernel<'_>,
        a: &[f64],
        b: &[f64],
        cost: &Matrix,
        iterations: usize,
        error: f64,
    ) -> EntropicSolution {
        let eps = kernel.eps();
        let (f, g, plan) = kernel.into_plan();
        let (transport_cost, objective) = evaluate(&plan, (&f, &g), (a, b), cost, eps, self.rho);
        let finite = objective.is_finite()
            && transport_cost.is_finite()
            && f.iter().chain(&g).all(|p| p.is_finite());
        let status = if !(finite && error.is_finite()) {
            Status::Diverged { iterations }
        } else if error < self.tolerance {
            Status::Converged { iterations, error }
        } else {
            Status::IterationCap { iterations, error }
        };
        EntropicSolution {
            f,
            g,
            plan,
            transport_cost,
            objective,
            status,
        }
    }
}

/// Checks a warm-start potential: length and finiteness.
fn check_potential(what: &'static str, p: &[f64], len: usize) -> Result<()> {
    if p.len() != len {
        return Err(OtError::Shape {
            what,
            expected: format!("{len} entries"),
            got: format!("{} entries", p.len()),
        });
    }
    check_finite(what, p)
}

fn norm(x: &[f64]) -> f64 {
    x.iter().map(|v| v * v).sum::<f64>().sqrt()
}

#[cfg(test)]
mod tests {
    use super::super::oracle::{
        brute_force_ot, entropic_gap_bound, l2_diff, max_abs_diff, primal_objective, random_problem,
    };
    use super::*;

    /// Cov_π(x, y) of the entropic plan between 1-D grids discretizing N(0, 1) and N(0, 4) with
    /// `points` nodes each, cost (x − y)² and ε = 1.
    fn gaussian_cross_covariance(points: usize) -> f64 {
        let grid = |sd: f64| -> (Vec<f64>, Vec<f64>) {
            let half = 9.0 * sd;
            let x: Vec<f64> = (0..points)
                .map(|k| -half + 2.0 * half * k as f64 / (points - 1) as f64)
                .collect();
            let w: Vec<f64> = x.iter().map(|v| (-v * v / (2.0 * sd * sd)).exp()).collect();
            let s: f64 = w.iter().sum();
            (x, w.into_iter().map(|v| v / s).collect())
        };
        let ((x, a), (y, b)) = (grid(1.0), grid(2.0));
        let cost = Matrix::from_fn(points, points, |i, j| (x[i] - y[j]).powi(2));
        let sol = Sinkhorn::new(1.0)
            .tolerance(1e-13)
            .solve(&a, &b, &cost)
            .unwrap();
        assert!(sol.status.is_converged(), "{:?}", sol.status);
        let (mut exy, mut ex, mut ey) = (0.0, 0.0, 0.0);
        for (i, xi) in x.iter().enumerate() {
            for (j, yj) in y.iter().enumerate() {
                let p = sol.plan.get(i, j);
                exy += p * xi * yj;
                ex += p * xi;
                ey += p * yj;
            }
        }
        exy - ex * ey
    }

    #[test]
    fn a_raised_cancel_flag_stops_the_solve() {
        // Truth: the flag is read before every iteration — raised beforehand, no iteration runs;
        // raised from another thread during a solve that would run to its 10⁹-iteration cap, the
        // solve returns `Cancelled` promptly (well before the cap).
        use std::sync::atomic::{AtomicBool, Ordering};
        let (a, b, cost) = random_problem(40, 30, 7);
        let solver = Sinkhorn::new(1e-3).tolerance(0.0).max_iter(1_000_000_000);
        let raised = AtomicBool::new(true);
        assert_eq!(
            solver
                .solve_cancellable(&a, &b, &cost, &raised)
                .unwrap_err(),
            OtError::Cancelled
        );
        let cancel = AtomicBool::new(false);
        let started = std::time::Instant::now();
        let outcome = std::thread::scope(|scope| {
            let solve = scope.spawn(|| solver.solve_cancellable(&a, &b, &cost, &cancel));
            std::thread::sleep(std::time::Duration::from_millis(50));
            cancel.store(true, Ordering::Relaxed);
            solve.join().unwrap()
        });
        assert_eq!(outcome.unwrap_err(), OtError::Cancelled);
        assert!(started.elapsed().as_secs() < 10);
    }

    #[test]
    fn gaussian_closed_form_cross_covariance() {
        // Truth: the entropic plan between N(0, A = 1) and N(0, B = 4) for cost (x − y)² and
        // ε = 2σ² = 1 is Gaussian with cross-covariance C = ½(A^½ D A^-½ − σ²),
        // D = (4 A^½ B A^½ + σ⁴)^½, i.e. C = ½(√16.25 − ½) = 1.7655644370746 (MATH.md §3).
        // The grids (±9 sd, weights ∝ density) discretize the Sinkhorn integral equations by the
        // trapezoidal rule, whose error on these smooth, Gaussian-decaying integrands falls
        // exponentially with the number of nodes (measured: 3.7e-3 at 24 nodes, 7.5e-9 at 40,
        // 7e-13 at 60, the floor set by the Sinkhorn tolerance 1e-13 and round-off). So: the error
        // must shrink at each refinement and be below 1e-10 on the finest grid.
        let exact = 0.5 * (16.25f64.sqrt() - 0.5);
        assert!((exact - 1.7655644370746).abs() < 1e-12);
        let errors = [24, 40, 60].map(|p| (gaussian_cross_covariance(p) - exact).abs());
        assert!(
            errors[0] > 1e3 * errors[1],
            "refinement must shrink the error: {errors:?}"
        );
        assert!(
            errors[1] > errors[2],
            "refinement must shrink the error: {errors:?}"
        );
        assert!(errors[2] < 1e-10, "finest grid error {errors:?}");
    }

    #[test]
    fn marginals_plan_cost_and_objective() {
        // Truth: the definitions. Rows are matched exactly (up to round-off) after the last row
        // update; the column error is the stopping criterion, so below the tolerance. The cost and
        // objective are recomputed entry by entry from the plan; 1e-12 allows for summation order.
        let (a, b, cost) = random_problem(30, 20, 1);
        let eps = 0.05;
        let sol = Sinkhorn::new(eps)
            .tolerance(1e-10)
            .solve(&a, &b, &cost)
            .unwrap();
        assert!(sol.status.is_converged());
        assert!(sol.plan.as_slice().iter().all(|&p| p >= 0.0));
        assert!(max_abs_diff(&sol.plan.row_sums(), &a) < 1e-14);
        assert!(l2_diff(&sol.plan.col_sums(), &b) < 1e-10);
        let cost_of_plan: f64 = sol
            .plan
            .as_slice()
            .iter()
            .zip(cost.as_slice())
            .map(|(p, c)| p * c)
            .sum();
        assert!((sol.transport_cost - cost_of_plan).abs() < 1e-12);
        let objective = primal_objective(&sol, &a, &b, &cost, eps, None);
        assert!(
            (sol.objective - objective).abs() < 1e-12,
            "{} vs {objective}",
            sol.objective
        );
        // The plan is a_i b_j exp((f_i + g_j − C_ij)/ε) with the returned potentials.
        for (i, j) in [(0, 0), (7, 13), (29, 19)] {
            let p = a[i] * b[j] * ((sol.f[i] + sol.g[j] - cost.get(i, j)) / eps).exp();
            assert!((p - sol.plan.get(i, j)).abs() <= 1e-12 * p.max(1e-300));
        }
    }

    #[test]
    fn small_eps_approaches_exact_ot() {
        // Truth: brute force over the 7! permutations. For unit mass and exact marginals,
        // OT_0 ≤ ⟨π_ε, C⟩ ≤ OT_0 + ε KL(π* ‖ a⊗b) = OT_0 + ε log n (π* optimal, KL(π_ε ‖ a⊗b) ≥ 0),
        // widened by the effect of the final marginal error (see `entropic_gap_bound`; at the
        // smallest ε Sinkhorn may stop at the iteration cap).
        let n = 7;
        let (_, _, cost) = random_problem(n, n, 7);
        let w = crate::marginal::uniform(n);
        let exact = brute_force_ot(&cost);
        let mean = cost.as_slice().iter().sum::<f64>() / (n * n) as f64;
        let mut gaps = Vec::new();
        for factor in [1e-1, 1e-2, 3e-3] {
            let eps = factor * mean;
            let sol = Sinkhorn::new(eps)
                .tolerance(1e-9)
                .max_iter(20_000)
                .solve(&w, &w, &cost)
                .unwrap();
            assert!(!matches!(sol.status, Status::Diverged { .. }));
            let gap = sol.transport_cost - exact;
            let bound = entropic_gap_bound(&cost, eps, sol.status.error());
            assert!(gap.abs() <= bound, "ε = {eps}: gap {gap}, bound {bound}");
            gaps.push(gap);
        }
        assert!(gaps[2].abs() < gaps[0].abs(), "{gaps:?}");
    }

    #[test]
    fn warm_start_from_solution_converges_at_once() {
        // Truth: a converged solution is a fixed point up to the tolerance, so restarting from its
        // potentials passes the stopping test after the first iteration.
        let (a, b, cost) = random_problem(40, 30, 3);
        let solver = Sinkhorn::new(0.02).tolerance(1e-9);
        let cold = solver.solve(&a, &b, &cost).unwrap();
        assert!(cold.status.iterations() > 10);
        let warm = solver
            .clone()
            .warm_start(cold.f.clone(), cold.g.clone())
            .solve(&a, &b, &cost)
            .unwrap();
        assert!(warm.status.is_converged());
        assert_eq!(warm.status.iterations(), 1);
        assert!((warm.transport_cost - cold.transport_cost).abs() < 1e-9);
    }

    #[test]
    fn eps_scaling_does_not_change_the_answer() {
        // Truth: the entropic problem has a unique solution; both paths stop at the tolerance 1e-11
        // on the marginals, so plans agree to about that (1e-9 leaves room for the conditioning).
        let (a, b, cost) = random_problem(25, 35, 4);
        let solver = Sinkhorn::new(0.01).tolerance(1e-11).max_iter(100_000);
        let scaled = solver.clone().solve(&a, &b, &cost).unwrap();
        let plain = solver.eps_scaling(false).solve(&a, &b, &cost).unwrap();
        assert!(scaled.status.is_converged() && plain.status.is_converged());
        assert!(max_abs_diff(scaled.plan.as_slice(), plain.plan.as_slice()) < 1e-9);
        assert!((scaled.objective - plain.objective).abs() < 1e-9);
    }

    #[test]
    fn tiny_eps_stays_finite() {
        // Truth: stability, not a value. At ε = 1e-3 mean(C) most kernel entries underflow and
        // Sinkhorn converges slowly; with or without ε-scaling the result must be finite, its rows
        // exactly matched, and (n = 6, brute force) its cost within `entropic_gap_bound` of the exact
        // cost for whatever marginal error it reached.
        let n = 6;
        let (_, _, cost) = random_problem(n, n, 11);
        let w = crate::marginal::uniform(n);
        let exact = brute_force_ot(&cost);
        let eps = 1e-3 * cost.as_slice().iter().sum::<f64>() / (n * n) as f64;
        for scaling in [true, false] {
            let solver = Sinkhorn::new(eps)
                .tolerance(1e-9)
                .max_iter(20_000)
                .eps_scaling(scaling);
            let sol = solver.solve(&w, &w, &cost).unwrap();
            assert!(!matches!(sol.status, Status::Diverged { .. }));
            assert!(sol.f.iter().chain(&sol.g).all(|v| v.is_finite()));
            assert!(sol.plan.as_slice().iter().all(|v| v.is_finite()));
            assert!(max_abs_diff(&sol.plan.row_sums(), &w) < 1e-14);
            let bound = entropic_gap_bound(&cost, eps, sol.status.error());
            assert!((sol.transport_cost - exact).abs() <= bound);
        }
        // A larger cloud at the same relative ε, iteration-capped: still finite.
        let (a, b, cost) = random_problem(200, 150, 12);
        let eps = 1e-3 * cost.as_slice().iter().sum::<f64>() / (200 * 150) as f64;
        for scaling in [true, false] {
            let sol = Sinkhorn::new(eps)
                .max_iter(300)
                .eps_scaling(scaling)
                .solve(&a, &b, &cost)
                .unwrap();
            assert!(!matches!(sol.status, Status::Diverged { .. }));
            assert!(sol.f.iter().chain(&sol.g).all(|v| v.is_finite()));
            assert!(sol.transport_cost.is_finite() && sol.objective.is_finite());
            assert!(max_abs_diff(&sol.plan.row_sums(), &a) < 1e-14);
        }
    }

    #[test]
    fn zero_weights_are_excluded_and_get_finite_potentials() {
        // Truth: points of zero weight carry no mass, so the plan on the others equals the plan of
        // the problem without them (same tolerance on both); their potential is the soft
        // c-transform −ε log Σ_j b_j exp((g_j − C_ij)/ε), evaluated here directly.
        let (mut a, mut b, cost) = random_problem(12, 10, 5);
        let eps = 0.05;
        a[3] = 0.0;
        b[0] = 0.0;
        b[7] = 0.0;
        let (mass_a, mass_b) = (a.iter().sum::<f64>(), b.iter().sum::<f64>());
        a.iter_mut().for_each(|v| *v /= mass_a);
        b.iter_mut().for_each(|v| *v /= mass_b);
        let solver = Sinkhorn::new(eps).tolerance(1e-12);
        let sol = solver.solve(&a, &b, &cost).unwrap();
        assert!(sol.status.is_converged());
        assert!(sol.f.iter().chain(&sol.g).all(|v| v.is_finite()));
        let (rows, cols): (Vec<usize>, Vec<usize>) = (
            (0..12).filter(|&i| i != 3).collect(),
            (0..10).filter(|&j| j != 0 && j != 7).collect(),
        );
        let sub_cost = Matrix::from_fn(rows.len(), cols.len(), |i, j| cost.get(rows[i], cols[j]));
        let sub_a: Vec<f64> = rows.iter().map(|&i| a[i]).collect();
        let sub_b: Vec<f64> = cols.iter().map(|&j| b[j]).collect();
        let sub = solver.solve(&sub_a, &sub_b, &sub_cost).unwrap();
        for (r, &i) in rows.iter().enumerate() {
            for (c, &j) in cols.iter().enumerate() {
                assert!((sol.plan.get(i, j) - sub.plan.get(r, c)).abs() < 1e-12);
            }
            assert_eq!(sol.plan.get(i, 0), 0.0);
        }
        assert!(sol.plan.row(3).iter().all(|&p| p == 0.0));
        let c_transform = -eps
            * (0..10)
                .map(|j| b[j] * ((sol.g[j] - cost.get(3, j)) / eps).exp())
                .sum::<f64>()
                .ln();
        assert!((sol.f[3] - c_transform).abs() < 1e-12);
        assert!((sol.transport_cost - sub.transport_cost).abs() < 1e-12);
    }

    #[test]
    fn bad_inputs_are_errors() {
        let (a, b, cost) = random_problem(4, 3, 10);
        let option = |s: Sinkhorn| match s.solve(&a, &b, &cost) {
            Err(OtError::InvalidOption { name, .. }) => name,
            other => panic!("expected InvalidOption, got {other:?}"),
        };
        assert_eq!(option(Sinkhorn::new(0.0)), "eps");
        assert_eq!(option(Sinkhorn::new(-1.0)), "eps");
        assert_eq!(option(Sinkhorn::new(f64::NAN)), "eps");
        assert_eq!(option(Sinkhorn::new(f64::INFINITY)), "eps");
        assert_eq!(option(Sinkhorn::new(0.1).tolerance(-1.0)), "tolerance");
        assert_eq!(option(Sinkhorn::new(0.1).max_iter(0)), "max_iter");
        assert_eq!(option(Sinkhorn::new(0.1).unbalanced(0.0)), "rho");
        assert_eq!(option(Sinkhorn::new(0.1).unbalanced(f64::INFINITY)), "rho");
        let s = Sinkhorn::new(0.1);
        assert!(matches!(
            s.solve(&a[..3], &b, &cost),
            Err(OtError::Shape { .. })
        ));
        assert!(matches!(
            s.solve(&a, &[0.5, 0.5], &cost),
            Err(OtError::Shape { .. })
        ));
        assert!(matches!(
            s.solve(&[], &[], &Matrix::zeros(0, 0)),
            Err(OtError::Empty { .. })
        ));
        let mut bad = a.clone();
        bad[1] = -bad[1];
        assert!(matches!(
            s.solve(&bad, &b, &cost),
            Err(OtError::NegativeWeight { index: 1, .. })
        ));
        bad[1] = f64::NAN;
        assert!(matches!(
            s.solve(&bad, &b, &cost),
            Err(OtError::NonFinite { .. })
        ));
        assert!(matches!(
            s.solve(&[0.0; 4], &b, &cost),
            Err(OtError::ZeroMass { .. })
        ));
        let mut nan_cost = cost.clone();
        nan_cost.set(2, 1, f64::NAN);
        assert!(matches!(
            s.solve(&a, &b, &nan_cost),
            Err(OtError::NonFinite { index: 7, .. })
        ));
        let warm = |f: Vec<f64>, g: Vec<f64>| s.clone().warm_start(f, g).solve(&a, &b, &cost);
        assert!(matches!(
            warm(vec![0.0; 3], vec![0.0; 3]),
            Err(OtError::Shape { .. })
        ));
        assert!(matches!(
            warm(vec![0.0; 4], vec![0.0, f64::INFINITY, 0.0]),
            Err(OtError::NonFinite { .. })
        ));
    }
}
