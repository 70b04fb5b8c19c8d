//! The stabilized Gibbs kernel of Schmitzer (2019), *Stabilized sparse scaling algorithms for
//! entropy regularized transport problems*, SIAM J. Sci. Comput. 41:
//! Sinkhorn's scaling iteration run on a kernel that has absorbed the dual potentials,
//!
//! `K̃_ij = exp((f̃_i + g̃_j − C_ij)/ε)`,   `π_ij = a_i u_i K̃_ij v_j b_j`,
//!
//! so that the current potentials are `f = f̃ + ε log u`, `g = g̃ + ε log v`. The scalings `u`, `v`
//! stay near 1 and are iterated in the normal domain (two mat-vecs per iteration, no logarithm per
//! entry); when one leaves `[e^−τ, e^τ]` it is absorbed into its potential and the kernel rebuilt.
//! This is the log-domain iteration (Peyré & Cuturi 2019, §4.4) up to round-off, and stays
//! finite for any ε: an update whose sum under- or overflows is redone exactly in the log domain.
//!
//! One iteration is one pass over `K̃`: each row block computes `s = K̃(b∘v)` row by row, the new
//! `u_i`, and — while the row is still in cache — adds `a_i u_i K̃_i·` to a block-local column
//! accumulator; the accumulators are then summed into `t = K̃ᵀ(a∘u)` for the column update.

use rayon::prelude::*;

use super::unbalanced::Prox;
use crate::matrix::Matrix;

/// `e^τ`: a scaling outside `[e^−τ, e^τ]` (τ ≈ 41) is absorbed into its potential. Kernel entries
/// that matter then stay within `e^±τ` of their natural size, far inside the range of `f64`.
const ABSORB_BOUND: f64 = 1e18;
/// Largest exponent written into the kernel; only reached by absurd warm starts, whose rows and
/// columns are then redone in the log domain.
const EXP_CAP: f64 = 700.0;
/// Kernel entries below `e^−460 ≈ 10⁻²⁰⁰` are stored as 0: they are negligible next to the
/// entries that carry the plan (after absorption `Σ_j K̃_ij b_j v_j` lies in `[e^−τ, e^τ]`), and products
/// of them with the scalings would be subnormal, which slows every pass severalfold.
const FLUSH_LOG: f64 = -460.0;
/// The same threshold before squaring: `(10⁻¹⁰⁰)² = 10⁻²⁰⁰ ≈ e^−460`.
const FLUSH_SQRT: f64 = 1e-100;
/// A column sum `t_j` outside `[SUM_SAFE, 1/SUM_SAFE]` is redone in the log domain instead of being
/// absorbed, since its value has lost precision (or is 0 or ∞).
const SUM_SAFE: f64 = 1e-280;
/// Row blocks per rayon thread, for load balance.
const BLOCKS_PER_THREAD: usize = 4;
/// Fewest kernel entries per row block (about 10 µs of work): smaller problems run in fewer
/// blocks, down to one, which rayon runs on the calling thread without scheduling overhead.
const MIN_BLOCK_ENTRIES: usize = 1 << 14;

/// True when a scaling lies in `[e^−τ, e^τ]` (false for NaN).
#[inline]
fn in_range(scaling: f64) -> bool {
    (1.0 / ABSORB_BOUND..=ABSORB_BOUND).contains(&scaling)
}

/// A kernel entry `exp(x)`, flushed to 0 below [`FLUSH_LOG`] and capped at [`EXP_CAP`].
#[inline]
fn gibbs(x: f64) -> f64 {
    if x < FLUSH_LOG {
        0.0
    } else {
        x.min(EXP_CAP).exp()
    }
}

/// `Σ_k x_k y_k` with eight independent accumulators, so that the loop vectorizes.
#[inline]
fn dot(x: &[f64], y: &[f64]) -> f64 {
    let mut acc = [0.0; 8];
    let (xc, yc) = (x.chunks_exact(8), y.chunks_exact(8));
    let tail: f64 = xc
        .remainder()
        .iter()
        .zip(yc.remainder())
        .map(|(p, q)| p * q)
        .sum();
    for (p, q) in xc.zip(yc) {
        for k in 0..8 {
            acc[k] += p[k] * q[k];
        }
    }
    (acc[0] + acc[4]) + (acc[1] + acc[5]) + (acc[2] + acc[6]) + (acc[3] + acc[7]) + tail
}

/// `y += c x`.
#[inline]
fn axpy(y: &mut [f64], c: f64, x: &[f64]) {
    for (yk, xk) in y.iter_mut().zip(x) {
        *yk += c * xk;
    }
}

/// `log Σ_k exp(z_k)`, shifted by the maximum; `z` holds at least one finite entry.
fn log_sum_exp(z: impl Iterator<Item = f64> + Clone) -> f64 {
    let max = z.clone().fold(f64::NEG_INFINITY, f64::max);
    max + z.map(|zk| (zk - max).exp()).sum::<f64>().ln()
}

/// Sums the block accumulators `partial` (blocks × m) into `t`.
fn reduce_blocks(partial: &[f64], t: &mut [f64]) {
    let m = t.len();
    t.copy_from_slice(&partial[..m]);
    for block in partial[m..].chunks_exact(m) {
        for (tj, pj) in t.iter_mut().zip(block) {
            *tj += pj;
        }
    }
}

/// Rewrites every row `i` of the n×m `kernel` with `write(i, row)` in parallel blocks of
/// `rows_per_block` rows, and sets `t = K̃ᵀ a` (the column sums for `u = 1`), using `partial` for the
/// block accumulators.
fn rewrite_rows(
    kernel: &mut [f64],
    a: &[f64],
    rows_per_block: usize,
    partial: &mut [f64],
    t: &mut [f64],
    write: impl Fn(usize, &mut [f64]) + Sync,
) {
    let m = t.len();
    kernel
        .par_chunks_mut(rows_per_block * m)
        .zip(partial.par_chunks_mut(m))
        .enumerate()
        .for_each(|(block, (kb, acc))| {
            acc.fill(0.0);
            for (r, krow) in kb.chunks_exact_mut(m).enumerate() {
                let i = block * rows_per_block + r;
                write(i, krow);
                if a[i] != 0.0 {
                    axpy(acc, a[i], krow);
                }
            }
        });
    reduce_blocks(partial, t);
}

/// The state of a stabilized Sinkhorn run: kernel, absorbed potentials and scalings.
pub(crate) struct StabilizedKernel<'a> {
    cost: &'a Matrix,
    a: &'a [f64],
    b: &'a [f64],
    rho: Option<f64>,
    eps: f64,
    prox: Prox,
    /// `K̃`, n×m row-major.
    kernel: Vec<f64>,
    /// Absorbed potentials f̃ (n) and g̃ (m).
    f: Vec<f64>,
    g: Vec<f64>,
    /// Scalings u (n) and v (m).
    u: Vec<f64>,
    v: Vec<f64>,
    /// `b ∘ v`, the vector the row update multiplies `K̃` with.
    bv: Vec<f64>,
    /// `t = K̃ᵀ(a ∘ u)`, the column sums of the last pass.
    t: Vec<f64>,
    /// One column accumulator per row block.
    partial: Vec<f64>,
    rows_per_block: usize,
}

impl<'a> StabilizedKernel<'a> {
    /// Builds the kernel at `eps` from initial potentials `f`, `g`. Inputs are validated by the
    /// caller: shapes agree, everything finite, weights non-negative with positive mass.
    pub(crate) fn new(
        cost: &'a Matrix,
        a: &'a [f64],
        b: &'a [f64],
        rho: Option<f64>,
        eps: f64,
        f: Vec<f64>,
        g: Vec<f64>,
    ) -> Self {
        let (n, m) = cost.shape();
        let blocks = (BLOCKS_PER_THREAD * rayon::current_num_threads())
            .min(n * m / MIN_BLOCK_ENTRIES)
            .clamp(1, n);
        let rows_per_block = n.div_ceil(blocks);
        let mut state = Self {
            cost,
            a,
            b,
            rho,
            eps,
            prox: Prox::new(rho, eps),
            kernel: vec![0.0; n * m],
            f,
            g,
            u: vec![1.0; n],
            v: vec![1.0; m],
            bv: b.to_vec(),
            t: vec![0.0; m],
            partial: vec![0.0; n.div_ceil(rows_per_block) * m],
            rows_per_block,
        };
        state.rebuild(eps);
        state
    }

    /// The current regularization ε.
    pub(crate) fn eps(&self) -> f64 {
        self.eps
    }

    /// Absorbs the scalings into the potentials (`f̃ ← f̃ + ε log u`, `g̃ ← g̃ + ε log v`, `u = v = 1`),
    /// switches to `eps` and rebuilds `K̃`, computing `t = K̃ᵀ a` on the way.
    ///
    /// Halving ε (ε-scaling) needs no exponential: `(f + g − C)/(ε/2) = 2 log(u_i K̃_ij v_j)`, so the
    /// new kernel is `(u_i K̃_ij v_j)²`. Each halving doubles the relative round-off of the entries,
    /// about 10⁻¹³ after ten stages, i.e. a perturbation of `C` by 10⁻¹³ ε.
    pub(crate) fn rebuild(&mut self, eps: f64) {
        let m = self.cost.cols();
        let inv_eps = 1.0 / eps;
        let halving = 2.0 * eps == self.eps;
        if !halving {
            self.absorb();
        }
        let (f, g, u, v, cost) = (&self.f, &self.g, &self.u, &self.v, self.cost.as_slice());
        let (kernel, partial, t) = (&mut self.kernel, &mut self.partial, &mut self.t);
        if halving {
            rewrite_rows(
                kernel,
                self.a,
                self.rows_per_block,
                partial,
                t,
                |i, krow| {
                    for (k, &vj) in krow.iter_mut().zip(v) {
                        let x = u[i] * *k * vj;
                        *k = if x < FLUSH_SQRT { 0.0 } else { x * x };
                    }
                },
            );
            self.absorb();
        } else {
            rewrite_rows(
                kernel,
                self.a,
                self.rows_per_block,
                partial,
                t,
                |i, krow| {
                    let crow = &cost[i * m..(i + 1) * m];
                    for ((k, &c), &gj) in krow.iter_mut().zip(crow).zip(g) {
                        *k = gibbs((f[i] + gj - c) * inv_eps);
                    }
                },
            );
        }
        self.eps = eps;
        self.prox = Prox::new(self.rho, eps);
    }

    /// `f̃ ← f̃ + ε log u`, `g̃ ← g̃ + ε log v`, `u = v = 1`.
    fn absorb(&mut self) {
        let eps = self.eps;
        for (fi, ui) in self.f.iter_mut().zip(&mut self.u) {
            *fi += eps * ui.ln();
            *ui = 1.0;
        }
        for (gj, vj) in self.g.iter_mut().zip(&mut self.v) {
            *gj += eps * vj.ln();
            *vj = 1.0;
        }
        self.bv.copy_from_slice(self.b);
    }

    /// Column update `v ← prox(t)` from the sums of the last pass (or rebuild). A scaling that leaves
    /// `[e^−τ, e^τ]` triggers an absorption; a sum that under- or overflowed is first replaced by
    /// the exact log-domain update `g_j = −λ ε log Σ_i a_i exp((f_i − C_ij)/ε)`.
    pub(crate) fn update_columns(&mut self) {
        // Two rounds suffice: after an absorption the recomputed sums are 1 (balanced) or the
        // prox fixed point, both in range.
        for _ in 0..2 {
            let prox = self.prox;
            let mut stable = true;
            for (((vj, bvj), (&tj, &gj)), &bj) in self
                .v
                .iter_mut()
                .zip(&mut self.bv)
                .zip(self.t.iter().zip(&self.g))
                .zip(self.b)
            {
                *vj = prox.scaling(tj, gj);
                *bvj = bj * *vj;
                stable &= in_range(*vj);
            }
            if stable {
                return;
            }
            self.absorb_columns();
        }
    }

    /// Unbalanced only: the optimal translation `(f, g) ← (f + k, g − k)` of the dual, which leaves
    /// the plan and the kernel unchanged (they depend on `f_i + g_j`) and maximizes the dual
    /// `−ρ⟨a, e^{−f/ρ}⟩ − ρ⟨b, e^{−g/ρ}⟩ + …` over k in closed form,
    /// `k = (ρ/2) log(⟨a, e^{−f/ρ}⟩ / ⟨b, e^{−g/ρ}⟩)` (Séjourné, Vialard & Peyré 2022, *Faster
    /// unbalanced optimal transport: translation invariant Sinkhorn and 1-D Frank–Wolfe*, AISTATS).
    /// Without it the mode `f + k, g − k` contracts only by `(ρ/(ρ+ε))²` per iteration, so
    /// Sinkhorn stalls when ρ ≫ ε.
    pub(crate) fn translate(&mut self) {
        let Some(rho) = self.rho else { return };
        let eps = self.eps;
        let log_mass = |w: &[f64], absorbed: &[f64], scaling: &[f64]| {
            let terms = w
                .iter()
                .zip(absorbed.iter().zip(scaling))
                .map(|(wi, (pi, si))| wi.ln() - (pi + eps * si.ln()) / rho);
            log_sum_exp(terms)
        };
        let k =
            0.5 * rho * (log_mass(self.a, &self.f, &self.u) - log_mass(self.b, &self.g, &self.v));
        self.f.iter_mut().for_each(|fi| *fi += k);
        self.g.iter_mut().for_each(|gj| *gj -= k);
    }

    /// Redoes under- or overflowed column sums in the log domain, then absorbs and rebuilds.
    fn absorb_columns(&mut self) {
        let lost: Vec<usize> = (0..self.t.len())
            .filter(|&j| {
                !(SUM_SAFE..=1.0 / SUM_SAFE).contains(&self.t[j]) || !self.v[j].is_normal()
            })
            .collect();
        if !lost.is_empty() {
            let eps = self.eps;
            let (n, m) = self.cost.shape();
            // z_i = log a_i + f_i/ε with the current f = f̃ + ε log u; −∞ where a_i = 0.
            let z: Vec<f64> = (0..n)
                .map(|i| (self.a[i] * self.u[i]).ln() + self.f[i] / eps)
                .collect();
            let cost = self.cost.as_slice();
            let exact: Vec<f64> = lost
                .par_iter()
                .map(|&j| {
                    let terms = z
                        .iter()
                        .enumerate()
                        .map(|(i, zi)| zi - cost[i * m + j] / eps);
                    self.prox.potential(log_sum_exp(terms), eps)
                })
                .collect();
            for (&j, gj) in lost.iter().zip(exact) {
                self.g[j] = gj;
                self.v[j] = 1.0;
            }
        }
        self.rebuild(self.eps);
    }

    /// One Sinkhorn iteration's pass over `K̃`: the row update `u ← prox(K̃(b∘v))`, rows exactly
    /// matched afterwards when balanced, and the column sums `t = K̃ᵀ(a∘u)` for the next column
    /// update. A row whose scaling leaves `[e^−τ, e^τ]` is redone exactly in the log domain,
    /// `f_i = −λ ε log Σ_j b_j exp((g_j − C_ij)/ε)`, and its kernel row rewritten (absorbed).
    pub(crate) fn update_rows(&mut self) {
        let (m, rb) = (self.cost.cols(), self.rows_per_block);
        let (bv, prox) = (&self.bv, self.prox);
        let unstable = self
            .kernel
            .par_chunks(rb * m)
            .zip(self.u.par_chunks_mut(rb))
            .zip(self.f.par_chunks(rb))
            .zip(self.a.par_chunks(rb))
            .zip(self.partial.par_chunks_mut(m))
            .map(|((((kb, ub), fb), ab), acc)| {
                acc.fill(0.0);
                let mut unstable = false;
                for (((krow, ui), &fi), &ai) in kb.chunks_exact(m).zip(ub).zip(fb).zip(ab) {
                    let u = prox.scaling(dot(krow, bv), fi);
                    if in_range(u) {
                        *ui = u;
                        if ai != 0.0 {
                            axpy(acc, ai * u, krow);
                        }
                    } else {
                        *ui = f64::NAN;
                        unstable = true;
                    }
                }
                unstable
            })
            .reduce(|| false, |p, q| p || q);
        reduce_blocks(&self.partial, &mut self.t);
        if unstable {
            self.redo_rows_exactly();
        }
    }

    /// The log-domain update of the rows marked NaN by [`Self::update_rows`], which rewrites their
    /// kernel rows with the new potential (`u_i = 1`) and adds their column sums to `t`.
    fn redo_rows_exactly(&mut self) {
        let (m, rb, eps) = (self.cost.cols(), self.rows_per_block, self.eps);
        let inv_eps = 1.0 / eps;
        // h_j = log b_j + g_j/ε with the current g = g̃ + ε log v; −∞ where b_j = 0.
        let h: Vec<f64> = self
            .bv
            .iter()
            .zip(&self.g)
            .map(|(bvj, gj)| bvj.ln() + gj * inv_eps)
            .collect();
        let (g, prox) = (&self.g, self.prox);
        self.kernel
            .par_chunks_mut(rb * m)
            .zip(self.cost.as_slice().par_chunks(rb * m))
            .zip(self.u.par_chunks_mut(rb))
            .zip(self.f.par_chunks_mut(rb))
            .zip(self.a.par_chunks(rb))
            .zip(self.partial.par_chunks_mut(m))
            .for_each(|(((((kb, cb), ub), fb), ab), acc)| {
                acc.fill(0.0);
                let rows = kb.chunks_exact_mut(m).zip(cb.chunks_exact(m));
                for (((krow, crow), ui), (fi, &ai)) in rows.zip(ub).zip(fb.iter_mut().zip(ab)) {
                    if !ui.is_nan() {
                        continue;
                    }
                    let terms = h.iter().zip(crow).map(|(hj, c)| hj - c * inv_eps);
                    *fi = prox.potential(log_sum_exp(terms), eps);
                    *ui = 1.0;
                    for ((k, &c), &gj) in krow.iter_mut().zip(crow).zip(g) {
                        *k = gibbs((*fi + gj - c) * inv_eps);
                    }
                    if ai != 0.0 {
                        axpy(acc, ai, krow);
                    }
                }
            });
        let mut extra = vec![0.0; m];
        reduce_blocks(&self.partial, &mut extra);
        for (tj, ej) in self.t.iter_mut().zip(extra) {
            *tj += ej;
        }
    }

    /// The stopping criterion after a row update: `‖πᵀ1 − b̃‖₂` with `πᵀ1 = b ∘ v ∘ t` and the
    /// column marginal the optimality conditions ask for, `b̃ = b` when balanced and
    /// `b̃ = b ∘ exp(−g/ρ)` when unbalanced (the first-order optimality condition of the penalty, Chizat et al. 2018).
    pub(crate) fn column_error(&self) -> f64 {
        let marginal = self.bv.iter().zip(&self.t).map(|(bvj, tj)| bvj * tj);
        let squared: f64 = match self.rho {
            None => marginal
                .zip(self.b)
                .map(|(pj, bj)| (pj - bj) * (pj - bj))
                .sum(),
            Some(rho) => marginal
                .zip(self.b.iter().zip(self.v.iter().zip(&self.g)))
                .map(|(pj, (bj, (vj, gj)))| {
                    let target = bj * (-(gj + self.eps * vj.ln()) / rho).exp();
                    (pj - target) * (pj - target)
                })
                .sum(),
        };
        squared.sqrt()
    }

    /// The current potentials `f = f̃ + ε log u`, `g = g̃ + ε log v`, and the plan
    /// `π_ij = a_i u_i K̃_ij v_j b_j` written over the kernel's buffer.
    pub(crate) fn into_plan(self) -> (Vec<f64>, Vec<f64>, Matrix) {
        let (n, m) = self.cost.shape();
        let eps = self.eps;
        let f = self
            .f
            .iter()
            .zip(&self.u)
            .map(|(fi, ui)| fi + eps * ui.ln())
            .collect();
        let g = self
            .g
            .iter()
            .zip(&self.v)
            .map(|(gj, vj)| gj + eps * vj.ln())
            .collect();
        let mut plan = self.kernel;
        let (a, u, bv) = (self.a, &self.u, &self.bv);
        plan.par_chunks_mut(m).enumerate().for_each(|(i, row)| {
            let scale = a[i] * u[i];
            for (p, bvj) in row.iter_mut().zip(bv) {
                *p *= scale * bvj;
            }
        });
        let plan = Matrix::new(n, m, plan).expect("the kernel buffer is n×m");
        (f, g, plan)
    }
}

#[cfg(test)]
mod tests {
    use super::super::oracle::{log_domain_reference, plan, random_problem};
    use crate::entropic::Sinkhorn;

    #[test]
    fn stabilized_iteration_matches_log_domain_reference() {
        // Truth: the log-domain iteration run to its fixed point (5000 iterations of a problem
        // whose Sinkhorn error contracts by ≥ 2× every few iterations, so converged to round-off).
        // The stabilized solver at tolerance 1e-13 must give the same plan (balanced; potentials
        // are only defined up to f + k, g − k) and the same potentials (unbalanced, unique), to
        // 1e-10 — the tolerance times the Lipschitz constant of plan and potentials in the marginals.
        let (a, b, cost) = random_problem(9, 6, 21);
        let eps = 0.1;
        for rho in [None, Some(0.7)] {
            let (f, g) = log_domain_reference(&a, &b, &cost, eps, rho, 5000);
            let mut solver = Sinkhorn::new(eps).tolerance(1e-13);
            if let Some(rho) = rho {
                solver = solver.unbalanced(rho);
            }
            let sol = solver.solve(&a, &b, &cost).unwrap();
            assert!(sol.status.is_converged());
            let reference = plan(&a, &b, &cost, eps, &f, &g);
            for (p, q) in sol.plan.as_slice().iter().zip(&reference) {
                assert!((p - q).abs() < 1e-10, "{rho:?}: {p} vs {q}");
            }
            if rho.is_some() {
                for (p, q) in sol.f.iter().zip(&f).chain(sol.g.iter().zip(&g)) {
                    assert!((p - q).abs() < 1e-10, "{p} vs {q}");
                }
            }
        }
    }

    #[test]
    fn absurd_warm_start_is_repaired_in_the_log_domain() {
        // Truth: the solution does not depend on the starting point. Potentials of ±1e4 (with ε =
        // 0.05) overflow or underflow every kernel entry; the exact log-domain fallback of rows and
        // columns must recover the cold-start plan.
        let (a, b, cost) = random_problem(12, 8, 22);
        let solver = Sinkhorn::new(0.05).tolerance(1e-12);
        let cold = solver.solve(&a, &b, &cost).unwrap();
        for (f0, g0) in [(1e4, 1e4), (-1e4, -1e4), (1e4, -3e4)] {
            let warm = solver
                .clone()
                .warm_start(vec![f0; 12], vec![g0; 8])
                .solve(&a, &b, &cost)
                .unwrap();
            assert!(warm.status.is_converged(), "{:?}", warm.status);
            for (p, q) in warm.plan.as_slice().iter().zip(cold.plan.as_slice()) {
                assert!((p - q).abs() < 1e-11);
            }
        }
    }
}
