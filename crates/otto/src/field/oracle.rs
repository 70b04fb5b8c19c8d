//! Closed-form oracle fields: the exact marginal velocity and score of an affine Gaussian path
//! `x_t = α_t x1 + σ_t x0` whose target is a Gaussian mixture (MATH.md §1). They satisfy the
//! continuity equation exactly, so samplers are tested on them without any training.

use otto_ot::Matrix;
use rayon::prelude::*;

use super::{Denoiser, Divergence, ScoreField, VectorField};
use crate::data::gmm::{GaussianMixture, NoisedMixture};
use crate::path::{Level, Schedule};

/// The marginal field of the affine path with schedule `S` from N(0, I) (t = 0) to the Gaussian
/// mixture `Σ_k w_k N(m_k, S_k)` (t = 1). Its marginals are
/// `p_t = Σ_k w_k N(α_t m_k, Σ_k(t))`, `Σ_k(t) = α_t² S_k + σ_t² I`, and with the responsibilities
/// γ_k(t, x) and `z_k = Σ_k(t)⁻¹ (x − α_t m_k)` (MATH.md §1):
/// - score `∇ log p_t(x) = −Σ_k γ_k z_k`;
/// - velocity `u_t(x) = Σ_k γ_k [α̇_t m_k + (α̇_t α_t S_k + σ̇_t σ_t I) z_k]`;
/// - denoiser `E[x1 | x_t = x] = Σ_k γ_k [m_k + α_t S_k z_k]`.
///
/// Each is `Σ_k γ_k (c_k + M_k z_k)`, computed by one loop, in parallel over rows. At t = 0 with
/// α_0 = 0 (CondOT, VP-trig) p_0 = N(0, I) exactly; VP-linear's α_0 ≈ 6.4e-3 leaves a tiny offset.
#[derive(Debug, Clone, PartialEq)]
pub struct GmmField<S> {
    mixture: GaussianMixture,
    schedule: S,
}

impl<S: Schedule> GmmField<S> {
    /// The oracle for `mixture` under `schedule`.
    pub fn new(mixture: GaussianMixture, schedule: S) -> Self {
        Self { mixture, schedule }
    }

    /// The target mixture.
    pub fn mixture(&self) -> &GaussianMixture {
        &self.mixture
    }

    /// The schedule.
    pub fn schedule(&self) -> &S {
        &self.schedule
    }

    /// `log p_t(x_i)` for every row of `x` (nats).
    pub fn log_density(&self, t: f64, x: &Matrix) -> Vec<f64> {
        self.noised(t).log_density(x)
    }

    /// The denoiser `E[x1 | x_t = x_i]` for every row, written into `out` (an independent closed
    /// form of what [`crate::path::Parameterization::Data`] predicts).
    pub fn denoised(&self, t: f64, x: &Matrix, out: &mut Matrix) {
        self.denoise(&Level::at(&self.schedule, t), x, out);
    }

    fn noised(&self, t: f64) -> NoisedMixture<'_> {
        self.mixture
            .noised(self.schedule.alpha(t), self.schedule.sigma(t))
    }

    /// `a S_k + b I`, d×d row-major.
    fn scaled_cov(&self, k: usize, a: f64, b: f64) -> Vec<f64> {
        let s = &self.mixture.covariances()[k];
        let d = self.mixture.dim();
        (0..d * d)
            .map(|ij| a * s.as_slice()[ij] + if ij / d == ij % d { b } else { 0.0 })
            .collect()
    }

    /// The terms `(c_k, M_k) = terms(k, m_k)` of every component.
    fn terms(&self, terms: impl Fn(usize, &[f64]) -> (Vec<f64>, Vec<f64>)) -> Terms {
        let (offsets, maps) = (0..self.mixture.components())
            .map(|c| terms(c, self.mixture.means().row(c)))
            .unzip();
        Terms { offsets, maps }
    }

    /// The velocity's terms `c_k = α̇_t m_k`, `M_k = α̇_t α_t S_k + σ̇_t σ_t I`.
    fn velocity_terms(&self, t: f64) -> Terms {
        let s = &self.schedule;
        let (alpha, d_alpha) = (s.alpha(t), s.d_alpha(t));
        let sigma_d_sigma = s.sigma_d_sigma(t);
        self.terms(|k, m| {
            (
                m.iter().map(|v| d_alpha * v).collect(),
                self.scaled_cov(k, d_alpha * alpha, sigma_d_sigma),
            )
        })
    }

    /// Writes `Σ_k γ_k (c_k + M_k z_k)` for every row of `x` into `out`, the mixture seen at
    /// `level`'s α and σ.
    fn mix(&self, level: &Level, x: &Matrix, out: &mut Matrix, terms: &Terms) {
        self.rows(level, x, x, out, terms, |_, row, _, o| {
            o.fill(0.0);
            for (g, w) in row.gamma.iter().zip(row.values.chunks_exact(o.len())) {
                o.iter_mut().zip(w).for_each(|(o, w)| *o += g * w);
            }
        });
    }

    /// Runs `f(noised, row, v_i, out_i)` on every row i in parallel, after writing into `row` the
    /// posterior of x_i (z_k, γ_k) and the component values `w_k = c_k + M_k z_k`.
    fn rows(
        &self,
        level: &Level,
        x: &Matrix,
        v: &Matrix,
        out: &mut Matrix,
        terms: &Terms,
        f: impl Fn(&NoisedMixture<'_>, &mut Row, &[f64], &mut [f64]) + Sync,
    ) {
        let (k, d) = (self.mixture.components(), self.mixture.dim());
        assert!(
            x.cols() == d && out.shape() == x.shape() && v.shape() == x.shape(),
            "oracle field in dimension {d}: x is {:?}, v is {:?}, out is {:?}",
            x.shape(),
            v.shape(),
            out.shape()
        );
        let noised = self.mixture.noised(level.alpha, level.sigma);
        out.as_mut_slice()
            .par_chunks_mut(d)
            .zip(x.as_slice().par_chunks(d).zip(v.as_slice().par_chunks(d)))
            .for_each_init(
                || Row::new(k, d),
                |row, (o, (xi, vi))| {
                    noised.posterior(xi, &mut row.z, &mut row.gamma);
                    for c in 0..k {
                        let z = &row.z[c * d..(c + 1) * d];
                        let w = &mut row.values[c * d..(c + 1) * d];
                        for (a, w) in w.iter_mut().enumerate() {
                            *w = terms.offsets[c][a] + dot(&terms.maps[c][a * d..(a + 1) * d], z);
                        }
                    }
                    f(&noised, row, vi, o);
                },
            );
    }
}

/// The terms `(c_k, M_k)` of a mixture sum `Σ_k γ_k (c_k + M_k z_k)`, M_k d×d row-major.
struct Terms {
    offsets: Vec<Vec<f64>>,
    maps: Vec<Vec<f64>>,
}

/// Per-row scratch of the mixture sums: z_k, γ_k, w_k = c_k + M_k z_k and Σ_k⁻¹ v (K·d each,
/// component-major, except γ: K).
struct Row {
    z: Vec<f64>,
    gamma: Vec<f64>,
    values: Vec<f64>,
    solved: Vec<f64>,
}

impl Row {
    fn new(k: usize, d: usize) -> Self {
        Self {
            z: vec![0.0; k * d],
            gamma: vec![0.0; k],
            values: vec![0.0; k * d],
            solved: vec![0.0; k * d],
        }
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

impl<S: Schedule> VectorField for GmmField<S> {
    fn dim(&self) -> usize {
        self.mixture.dim()
    }

    fn velocity(&self, t: f64, x: &Matrix, out: &mut Matrix) {
        let level = Level::at(&self.schedule, t);
        self.mix(&level, x, out, &self.velocity_terms(t));
    }
}

impl<S: Schedule> Denoiser for GmmField<S> {
    fn dim(&self) -> usize {
        self.mixture.dim()
    }

    /// `E[x1 | α x1 + σ x0 = x]` at the level's α and σ (independent of its t).
    fn denoise(&self, level: &Level, x: &Matrix, out: &mut Matrix) {
        let terms = self.terms(|k, m| (m.to_vec(), self.scaled_cov(k, level.alpha, 0.0)));
        self.mix(level, x, out, &terms);
    }

    fn schedule(&self) -> &dyn Schedule {
        &self.schedule
    }
}

impl<S: Schedule> ScoreField for GmmField<S> {
    fn score(&self, t: f64, x: &Matrix, out: &mut Matrix) {
        let d = self.mixture.dim();
        let terms = self.terms(|k, _| (vec![0.0; d], self.scaled_cov(k, 0.0, -1.0)));
        self.mix(&Level::at(&self.schedule, t), x, out, &terms);
    }
}

impl<S: Schedule> Divergence for GmmField<S> {
    /// The analytic JVP of `u = Σ_k γ_k w_k`, `w_k = c_k + M_k z_k`: with
    /// `∂z_k/∂x = Σ_k(t)⁻¹` and `∇γ_k = γ_k (z̄ − z_k)`, `z̄ = Σ_j γ_j z_j` (the derivative of the
    /// softmax of the log-densities `−½ rᵀ Σ_k⁻¹ r`),
    /// `J v = Σ_k γ_k [M_k Σ_k(t)⁻¹ v + w_k (z̄ − z_k)·v]`.
    fn jvp(&self, t: f64, x: &Matrix, v: &Matrix, out: &mut Matrix) {
        let terms = self.velocity_terms(t);
        let level = Level::at(&self.schedule, t);
        self.rows(&level, x, v, out, &terms, |noised, row, v, o| {
            let d = v.len();
            let mean_zv: f64 = row
                .gamma
                .iter()
                .zip(row.z.chunks_exact(d))
                .map(|(g, z)| g * dot(z, v))
                .sum();
            o.fill(0.0);
            for (c, g) in row.gamma.iter().enumerate() {
                let span = c * d..(c + 1) * d;
                let solved = &mut row.solved[span.clone()];
                solved.copy_from_slice(v);
                noised.solve(c, solved);
                let shift = mean_zv - dot(&row.z[span.clone()], v);
                let (map, w) = (&terms.maps[c], &row.values[span]);
                for (a, o) in o.iter_mut().enumerate() {
                    *o += g * (dot(&map[a * d..(a + 1) * d], solved) + w[a] * shift);
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::gmm::tests::three_component;
    use crate::path::{CondOt, VpLinear, VpTrig};

    fn points() -> Matrix {
        Matrix::from_rows(&[
            vec![0.3, -0.7],
            vec![2.1, 0.4],
            vec![-1.0, 1.5],
            vec![0.0, -2.5],
        ])
        .unwrap()
    }

    /// Writes velocity and score at (t, x), returns log p_t(x).
    type Eval = Box<dyn Fn(f64, &Matrix, &mut Matrix, &mut Matrix) -> Vec<f64>>;

    fn fields() -> Vec<(&'static str, Eval)> {
        fn boxed<S: Schedule + 'static>(s: S) -> Eval {
            let f = GmmField::new(three_component(), s);
            Box::new(move |t, x, v, score| {
                f.velocity(t, x, v);
                f.score(t, x, score);
                f.log_density(t, x)
            })
        }
        vec![
            ("cond-ot", boxed(CondOt::new(1e-3).unwrap())),
            ("vp-trig", boxed(VpTrig)),
            ("vp-linear", boxed(VpLinear::default())),
        ]
    }

    #[test]
    fn score_is_the_gradient_of_the_log_density() {
        // Truth: central differences of log p_t (itself checked against the hand-written mixture
        // density in data/gmm.rs), step 1e-5: truncation ≈ h²|∂³ log p| ≲ 1e-9, round-off
        // ≈ 1e-16·|log p|/h ≈ 1e-10. Tolerance 1e-6.
        let x = points();
        let (n, d) = x.shape();
        let h = 1e-5;
        for (name, f) in fields() {
            for t in [0.1, 0.5, 0.9, 1.0] {
                let (mut v, mut s) = (Matrix::zeros(n, d), Matrix::zeros(n, d));
                f(t, &x, &mut v, &mut s);
                for j in 0..d {
                    let shifted = |delta: f64| {
                        let mut y = x.clone();
                        (0..n).for_each(|i| y.set(i, j, x.get(i, j) + delta));
                        f(t, &y, &mut v.clone(), &mut s.clone())
                    };
                    let (up, down) = (shifted(h), shifted(-h));
                    for i in 0..n {
                        let fd = (up[i] - down[i]) / (2.0 * h);
                        assert!(
                            (fd - s.get(i, j)).abs() < 1e-6 * fd.abs().max(1.0),
                            "{name} t={t}: score {} vs fd {fd}",
                            s.get(i, j)
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn velocity_satisfies_the_continuity_equation() {
        // Truth: ∂_t p_t + ∇·(p_t u_t) = 0, i.e. ∂_t log p + ∇·u + u·∇log p = 0 (MATH.md §1), with
        // ∂_t log p and ∇·u from central differences (h = 1e-5: truncation ≲ 1e-8, round-off
        // ≲ 1e-10·|u|/h). The terms are O(1–100) (VP-linear's α̇ reaches 10 α); tolerance 1e-5
        // relative to the largest of them.
        let x = points();
        let (n, d) = x.shape();
        let h = 1e-5;
        for (name, f) in fields() {
            for t in [0.05, 0.3, 0.6, 0.95] {
                let (mut v, mut s) = (Matrix::zeros(n, d), Matrix::zeros(n, d));
                let eval = |t: f64, y: &Matrix| {
                    let (mut v, mut s) = (Matrix::zeros(n, d), Matrix::zeros(n, d));
                    let logp = f(t, y, &mut v, &mut s);
                    (v, logp)
                };
                f(t, &x, &mut v, &mut s);
                let (later, earlier) = (eval(t + h, &x).1, eval(t - h, &x).1);
                let mut divergence = vec![0.0; n];
                for j in 0..d {
                    let mut up = x.clone();
                    let mut down = x.clone();
                    for i in 0..n {
                        up.set(i, j, x.get(i, j) + h);
                        down.set(i, j, x.get(i, j) - h);
                    }
                    let (vu, vd) = (eval(t, &up).0, eval(t, &down).0);
                    for (i, div) in divergence.iter_mut().enumerate() {
                        *div += (vu.get(i, j) - vd.get(i, j)) / (2.0 * h);
                    }
                }
                for i in 0..n {
                    let dt_logp = (later[i] - earlier[i]) / (2.0 * h);
                    let transport: f64 = (0..d).map(|j| v.get(i, j) * s.get(i, j)).sum();
                    let residual = dt_logp + divergence[i] + transport;
                    let scale = dt_logp
                        .abs()
                        .max(divergence[i].abs())
                        .max(transport.abs())
                        .max(1.0);
                    assert!(
                        residual.abs() < 1e-5 * scale,
                        "{name} t={t} row {i}: residual {residual:e} (scale {scale})"
                    );
                }
            }
        }
    }

    fn check_jvp<S: Schedule>(name: &str, schedule: S) {
        // Truth: central differences of the velocity along v, (u(x + hv) − u(x − hv))/(2h) with
        // h = 1e-5: truncation h²|∂³u|/6 ≲ 1e-9 for these O(1) fields, round-off
        // ≈ 1e-16·|u|/h ≈ 1e-10. Tolerance 1e-6 relative to max(1, |Jv|). The divergence is
        // checked the same way against the sum of the differences along the unit vectors.
        let field = GmmField::new(three_component(), schedule);
        let x = points();
        let (n, d) = x.shape();
        let v = Matrix::from_fn(n, d, |i, j| ((i * d + j) as f64 * 0.7).sin() + 0.2);
        let h = 1e-5;
        let along = |t: f64, dir: &Matrix| {
            let shifted = |s: f64| {
                let y = Matrix::from_fn(n, d, |i, j| x.get(i, j) + s * dir.get(i, j));
                let mut u = Matrix::zeros(n, d);
                field.velocity(t, &y, &mut u);
                u
            };
            let (up, down) = (shifted(h), shifted(-h));
            Matrix::from_fn(n, d, |i, j| (up.get(i, j) - down.get(i, j)) / (2.0 * h))
        };
        for t in [0.05, 0.3, 0.7, 0.95] {
            let mut jv = Matrix::zeros(n, d);
            field.jvp(t, &x, &v, &mut jv);
            let fd = along(t, &v);
            for (a, b) in jv.as_slice().iter().zip(fd.as_slice()) {
                assert!(
                    (a - b).abs() < 1e-6 * b.abs().max(1.0),
                    "{name} t={t}: JVP {a} vs fd {b}"
                );
            }
            let mut div = vec![0.0; n];
            field.divergence(t, &x, &mut div);
            let mut fd_div = vec![0.0; n];
            for j in 0..d {
                let e = Matrix::from_fn(n, d, |_, c| if c == j { 1.0 } else { 0.0 });
                let column = along(t, &e);
                (0..n).for_each(|i| fd_div[i] += column.get(i, j));
            }
            for (a, b) in div.iter().zip(&fd_div) {
                assert!(
                    (a - b).abs() < 1e-6 * b.abs().max(1.0),
                    "{name} t={t}: divergence {a} vs fd {b}"
                );
            }
        }
    }

    #[test]
    fn jvp_and_divergence_match_finite_differences() {
        check_jvp("cond-ot", CondOt::new(1e-3).unwrap());
        check_jvp("vp-trig", VpTrig);
        check_jvp("vp-linear", VpLinear::default());
    }

    #[test]
    fn endpoints_are_the_source_and_the_target() {
        // Truth: at t = 0 (α = 0, σ = 1) p_0 = N(0, I): log p = −‖x‖²/2 − log 2π and the score is
        // −x; at t = 1 with σ_min = 0, p_1 is the mixture itself. Round-off only: 1e-12.
        let f = GmmField::new(three_component(), CondOt::default());
        let x = points();
        let mut s = Matrix::zeros(4, 2);
        f.score(0.0, &x, &mut s);
        let logp0 = f.log_density(0.0, &x);
        let logp1 = f.log_density(1.0, &x);
        let target = f.mixture().log_density(&x);
        for i in 0..4 {
            let r2 = x.get(i, 0).powi(2) + x.get(i, 1).powi(2);
            assert!((logp0[i] + 0.5 * r2 + (2.0 * std::f64::consts::PI).ln()).abs() < 1e-12);
            assert!((logp1[i] - target[i]).abs() < 1e-12);
            for j in 0..2 {
                assert!((s.get(i, j) + x.get(i, j)).abs() < 1e-12);
            }
        }
    }
}
