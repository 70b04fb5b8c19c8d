//! The objective axis: which regression the network is trained on. Every objective here is a
//! (weighted) regression of the network output onto a target computed without gradients
//! (DESIGN.md "Networks"): it turns a coupled batch (x0, x1) into a [`Regression`] — the network's
//! time input, its point input, the target and per-sample weights — so the trainer and the network
//! know no method.
//!
//! - [`Objective::FlowMatching`]: the conditional velocity `u_t = ȧ_t x0 + ḃ_t x1 + ċ_t ε` on any
//!   conditional path (Lipman et al. 2023, eq. 9; Tong et al. 2024, Table 1).
//! - [`Objective::Denoising`]: on an affine Gaussian path `x_t = α_t x1 + σ_t ε`, the conditional
//!   value of any [`Parameterization`] — the parameterization's affine map `a_t x_t + b_t x̂1` with
//!   x̂1 replaced by the true x1: ε (Ho et al. 2020, eq. 14), the score −ε/σ_t (denoising score
//!   matching, Vincent 2011), x1, the flow velocity, or Salimans & Ho's v — with a [`Weighting`] λ(t):
//!   uniform, σ_t² (Song et al. 2021: `‖σ_t s_θ + ε‖²`), or the likelihood weighting g(t)² (Song,
//!   Durkan et al. 2021, "Maximum likelihood training of score-based diffusion models", Thm. 1).
//!   t ~ U(0, 1).
//! - [`Objective::Edm`]: EDM's training (Karras et al. 2022, §5 and Table 1): ln σ ~ N(P_mean,
//!   P_std²), y = x1 + σ ε, the network F sees `c_in y` at time `c_noise(σ)` and regresses onto
//!   `(x1 − c_skip y)/c_out` with unit weight ([`EdmPreconditioning`]).

use std::fmt;
use std::str::FromStr;

use otto_ot::Matrix;
use rand::{Rng, RngCore};
use rand_distr::StandardNormal;

use crate::error::{Error, Result};
use crate::path::{ConditionalPath, EdmPreconditioning, Parameterization, Schedule};

/// The per-sample weight λ(t) of a denoising regression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Weighting {
    /// λ = 1.
    Uniform,
    /// λ = σ_t² (with a score target: `‖σ_t s_θ + ε‖²`, Song et al. 2021).
    SigmaSquared,
    /// λ = g(t)², the forward SDE's squared diffusion (likelihood weighting).
    Likelihood,
}

impl Weighting {
    /// Every weighting.
    pub const ALL: [Weighting; 3] = [
        Weighting::Uniform,
        Weighting::SigmaSquared,
        Weighting::Likelihood,
    ];

    /// The command-line name (`uniform`, `sigma2`, `likelihood`).
    pub fn name(&self) -> &'static str {
        match self {
            Weighting::Uniform => "uniform",
            Weighting::SigmaSquared => "sigma2",
            Weighting::Likelihood => "likelihood",
        }
    }

    /// λ(t) on `schedule`.
    pub fn at(&self, schedule: &dyn Schedule, t: f64) -> f64 {
        match self {
            Weighting::Uniform => 1.0,
            Weighting::SigmaSquared => schedule.sigma(t).powi(2),
            Weighting::Likelihood => schedule.diffusion(t).powi(2),
        }
    }
}

impl fmt::Display for Weighting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Weighting {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Weighting::ALL
            .into_iter()
            .find(|w| w.name() == s)
            .ok_or_else(|| Error::InvalidOption {
                name: "weighting",
                value: s.to_string(),
                reason: "expected one of uniform, sigma2, likelihood",
            })
    }
}

/// What one training step regresses: row i of the network's input is (`time[i]`, `input` row i),
/// its output is pulled towards `target` row i with weight `weight[i]` (1 when `None`). f32, as
/// the engine trains.
#[derive(Debug, Clone, PartialEq)]
pub struct Regression {
    /// The network's time input per row (t, or EDM's c_noise(σ)).
    pub time: Vec<f32>,
    /// The network's point input (n × d, row-major).
    pub input: Vec<f32>,
    /// The regression target (n × d, row-major).
    pub target: Vec<f32>,
    /// Per-sample weights.
    pub weight: Option<Vec<f32>>,
    /// SF2M's second regression, of a separate score network on the same inputs.
    pub score: Option<ScoreRegression>,
}

/// SF2M's score regression (Tong et al. 2024, eq. 13; torchcfm's SF2M example): the score
/// network s_θ(t, x_t) ≈ (σ²/2)∇log p_t with the loss `‖λ(t) s_θ + ε‖² = λ(t)²‖s_θ + ε/λ(t)‖²`,
/// `λ(t) = 2σ_t/σ²` — the target `−ε/λ(t)` with the per-sample weight `λ(t)²`.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreRegression {
    /// `−ε/λ(t)` (n × d, row-major).
    pub target: Vec<f32>,
    /// `λ(t)²` per sample.
    pub weight: Vec<f32>,
}

/// A regression objective (module documentation).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Objective {
    /// Velocity regression (flow matching) on any conditional path.
    FlowMatching,
    /// Denoising regression onto a parameterization's conditional value, weighted.
    Denoising {
        /// What the network predicts.
        target: Parameterization,
        /// λ(t).
        weighting: Weighting,
    },
    /// SF2M (Tong et al. 2024, AISTATS, "Simulation-free Schrödinger bridges via score and flow
    /// matching", eq. 9–10; MATH.md §8) on the Brownian-bridge interpolant, as one regression of a
    /// flow network onto the conditional velocity and, as the paper does, a separate score
    /// network s_θ ≈ (σ²/2)∇log p_t with the loss `‖λ(t) s_θ + ε‖²`, `λ(t) = 2σ_t/σ²`
    /// ([`ScoreRegression`]; read by [`crate::field::NetworkField::with_score_network`]).
    Sf2m {
        /// The bridge's σ.
        sigma: f64,
    },
    /// EDM's preconditioned denoiser training.
    Edm {
        /// c_skip, c_out, c_in, c_noise.
        preconditioning: EdmPreconditioning,
        /// Mean of ln σ (−1.2 in the paper).
        p_mean: f64,
        /// Standard deviation of ln σ (1.2 in the paper).
        p_std: f64,
    },
}

fn to_f32(m: &Matrix) -> Vec<f32> {
    m.as_slice().iter().map(|&v| v as f32).collect()
}

impl Objective {
    /// What the trained network's output means (EDM: the data, through its preconditioning).
    pub fn parameterization(&self) -> Parameterization {
        match self {
            Objective::FlowMatching | Objective::Sf2m { .. } => Parameterization::Velocity,
            Objective::Denoising { target, .. } => *target,
            Objective::Edm { .. } => Parameterization::Data,
        }
    }

    /// The regression of one step for the coupled batch `x0`, `x1` (for the affine and EDM
    /// objectives x0 is the Gaussian noise), drawing times and noise from `rng`.
    ///
    /// Errors: as [`ConditionalPath::sample`]; [`Error::InvalidOption`] when a denoising objective
    /// has no `schedule` (its path is not affine Gaussian).
    pub fn regression(
        &self,
        path: &dyn ConditionalPath,
        schedule: Option<&dyn Schedule>,
        x0: &Matrix,
        x1: &Matrix,
        rng: &mut dyn RngCore,
    ) -> Result<Regression> {
        match self {
            Objective::FlowMatching => {
                let sample = path.sample(x0, x1, rng)?;
                let target = path.conditional_velocity(&sample);
                Ok(Regression {
                    time: sample.t.iter().map(|&t| t as f32).collect(),
                    input: to_f32(&sample.xt),
                    target: to_f32(&target),
                    weight: None,
                    score: None,
                })
            }
            Objective::Sf2m { sigma } => {
                let sample = path.sample(x0, x1, rng)?;
                let velocity = path.conditional_velocity(&sample);
                let mut score = ScoreRegression {
                    target: Vec::with_capacity(sample.noise.as_slice().len()),
                    weight: Vec::with_capacity(sample.t.len()),
                };
                for (i, &t) in sample.t.iter().enumerate() {
                    // λ(t) = 2σ_t/σ², kept off 0 at the ends, where the weight vanishes anyway.
                    let lambda = (2.0 * (t * (1.0 - t)).sqrt() / sigma).max(1e-6);
                    score.weight.push((lambda * lambda) as f32);
                    let noise = sample.noise.row(i);
                    score
                        .target
                        .extend(noise.iter().map(|&e| (-e / lambda) as f32));
                }
                Ok(Regression {
                    time: sample.t.iter().map(|&t| t as f32).collect(),
                    input: to_f32(&sample.xt),
                    target: to_f32(&velocity),
                    weight: None,
                    score: Some(score),
                })
            }
            Objective::Denoising { target, weighting } => {
                let schedule = schedule.ok_or(Error::InvalidOption {
                    name: "objective",
                    value: target.name().into(),
                    reason: "a denoising objective needs an affine Gaussian path with a schedule",
                })?;
                let sample = path.sample(x0, x1, rng)?;
                let (n, d) = sample.xt.shape();
                let mut values = Vec::with_capacity(n * d);
                for (i, &t) in sample.t.iter().enumerate() {
                    let c = target.coefficients(schedule, t);
                    let (xt, x1) = (sample.xt.row(i), sample.x1.row(i));
                    values.extend(
                        xt.iter()
                            .zip(x1)
                            .map(|(x, y)| (c.xt * x + c.data * y) as f32),
                    );
                }
                let weight = (*weighting != Weighting::Uniform).then(|| {
                    sample
                        .t
                        .iter()
                        .map(|&t| weighting.at(schedule, t) as f32)
                        .collect()
                });
                Ok(Regression {
                    time: sample.t.iter().map(|&t| t as f32).collect(),
                    input: to_f32(&sample.xt),
                    target: values,
                    weight,
                    score: None,
                })
            }
            Objective::Edm {
                preconditioning: p,
                p_mean,
                p_std,
            } => {
                crate::path::check_batch(x0, x1)?;
                let (n, d) = x1.shape();
                let (mut time, mut input, mut target) = (
                    Vec::with_capacity(n),
                    Vec::with_capacity(n * d),
                    Vec::with_capacity(n * d),
                );
                for i in 0..n {
                    let z: f64 = rng.sample(StandardNormal);
                    let sigma = (p_mean + p_std * z).exp();
                    let (c_skip, c_out, c_in) = (p.c_skip(sigma), p.c_out(sigma), p.c_in(sigma));
                    time.push(p.c_noise(sigma) as f32);
                    for (eps, y1) in x0.row(i).iter().zip(x1.row(i)) {
                        let y = y1 + sigma * eps;
                        input.push((c_in * y) as f32);
                        target.push(((y1 - c_skip * y) / c_out) as f32);
                    }
                }
                Ok(Regression {
                    time,
                    input,
                    target,
                    weight: None,
                    score: None,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Toy;
    use crate::path::{AffinePath, ScheduleKind};
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn batch(n: usize) -> (Matrix, Matrix) {
        (
            Toy::Gaussian { dim: 2 }.sample(n, 1),
            Toy::Moons.sample(n, 2),
        )
    }

    #[test]
    fn denoising_targets_are_the_conditional_values() {
        // Truth: the definitions written directly in the drawn noise ε = x0 and data x1 — noise ε,
        // data x1, score −ε/σ_t, Salimans & Ho's v = α_t ε − σ_t x1, flow velocity α̇ x1 + σ̇ ε —
        // and the weights σ_t², g(t)². f32 storage: tolerance 1e-5 relative.
        let (x0, x1) = batch(64);
        for kind in [
            ScheduleKind::VpLinear,
            ScheduleKind::Ve,
            ScheduleKind::VpCosine,
        ] {
            let schedule = kind.build();
            let path = AffinePath::new(kind.build());
            for target in Parameterization::ALL {
                for weighting in Weighting::ALL {
                    let objective = Objective::Denoising { target, weighting };
                    let mut rng = ChaCha8Rng::seed_from_u64(3);
                    let r = objective
                        .regression(&path, Some(schedule.as_ref()), &x0, &x1, &mut rng)
                        .unwrap();
                    for i in 0..64 {
                        let t = r.time[i] as f64;
                        let (a, s) = (schedule.alpha(t), schedule.sigma(t));
                        let (da, ds) = (schedule.d_alpha(t), schedule.d_sigma(t));
                        for j in 0..2 {
                            let (e, y) = (x0.get(i, j), x1.get(i, j));
                            let expected = match target {
                                Parameterization::Noise => e,
                                Parameterization::Data => y,
                                Parameterization::Score => -e / s,
                                Parameterization::V => a * e - s * y,
                                Parameterization::Velocity => da * y + ds * e,
                            };
                            let got = r.target[i * 2 + j] as f64;
                            assert!(
                                (got - expected).abs() < 1e-5 * expected.abs().max(1.0),
                                "{kind} {target:?}: {got} vs {expected} at t={t}"
                            );
                            let input = r.input[i * 2 + j] as f64;
                            assert!((input - (a * y + s * e)).abs() < 1e-5 * input.abs().max(1.0));
                        }
                        let w = r.weight.as_ref().map_or(1.0, |w| w[i] as f64);
                        let expected = match weighting {
                            Weighting::Uniform => 1.0,
                            Weighting::SigmaSquared => s * s,
                            Weighting::Likelihood => schedule.diffusion(t).powi(2),
                        };
                        assert!((w - expected).abs() < 1e-5 * expected.max(1.0));
                    }
                }
            }
        }
    }

    #[test]
    fn edm_regression_reproduces_the_data_and_draws_log_normal_levels() {
        // Truth: Karras et al. 2022, eq. 7 — the preconditioned denoiser with F equal to the
        // target returns x1 exactly: c_skip y + c_out F = x1 with y = c_in⁻¹·input; and
        // ln σ = 4 c_noise ~ N(−1.2, 1.2²): over 20 000 rows the sample mean and standard
        // deviation lie within 4 standard errors (1.2/√n = 0.0085; 1.2/√(2n) = 0.006).
        let n = 20_000;
        let (x0, x1) = batch(n);
        let p = EdmPreconditioning::default();
        let objective = Objective::Edm {
            preconditioning: p,
            p_mean: -1.2,
            p_std: 1.2,
        };
        let path = AffinePath::new(ScheduleKind::Edm.build());
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let r = objective
            .regression(&path, None, &x0, &x1, &mut rng)
            .unwrap();
        let log_sigma: Vec<f64> = r.time.iter().map(|&c| 4.0 * c as f64).collect();
        let mean = log_sigma.iter().sum::<f64>() / n as f64;
        let sd = (log_sigma.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / n as f64).sqrt();
        assert!((mean + 1.2).abs() < 4.0 * 0.0085, "mean {mean}");
        assert!((sd - 1.2).abs() < 4.0 * 0.006, "sd {sd}");
        for (i, log_sigma) in log_sigma.iter().enumerate().take(100) {
            let sigma = log_sigma.exp();
            for j in 0..2 {
                let y = r.input[i * 2 + j] as f64 / p.c_in(sigma);
                let d = p.c_skip(sigma) * y + p.c_out(sigma) * r.target[i * 2 + j] as f64;
                assert!((d - x1.get(i, j)).abs() < 1e-4 * x1.get(i, j).abs().max(1.0));
                assert!(
                    (y - (x1.get(i, j) + sigma * x0.get(i, j))).abs() < 1e-4 * y.abs().max(1.0)
                );
            }
        }
        assert!(r.weight.is_none());
    }

    #[test]
    fn sf2m_regresses_the_bridge_velocity_and_the_scaled_score() {
        // Truth: MATH.md §8 — on the Brownian bridge x_t = (1 − t)x0 + t x1 + σ√(t(1 − t)) ε the
        // flow target is u = (1 − 2t)/(2t(1 − t))(x_t − μ_t) + x1 − x0, and the score network's
        // loss ‖λ s_θ + ε‖² with λ = 2σ√(t(1 − t))/σ² is λ²‖s_θ − (−ε/λ)‖²: target −ε/λ, weight
        // λ²; all written out directly from x_t, x0, x1.
        use crate::path::Interpolant;
        let (x0, x1) = batch(32);
        let sigma = 0.7;
        let path = Interpolant::brownian_bridge(sigma).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let r = Objective::Sf2m { sigma }
            .regression(&path, None, &x0, &x1, &mut rng)
            .unwrap();
        let score = r.score.expect("SF2M has a score regression");
        assert_eq!(
            (r.target.len(), score.target.len(), score.weight.len()),
            (64, 64, 32)
        );
        for i in 0..32 {
            let t = r.time[i] as f64;
            let lambda = 2.0 * sigma * (t * (1.0 - t)).sqrt() / (sigma * sigma);
            assert!((score.weight[i] as f64 - lambda * lambda).abs() < 1e-5 * lambda * lambda);
            for j in 0..2 {
                let mu = (1.0 - t) * x0.get(i, j) + t * x1.get(i, j);
                let xt = r.input[i * 2 + j] as f64;
                let eps = (xt - mu) / (sigma * (t * (1.0 - t)).sqrt());
                let u = (1.0 - 2.0 * t) / (2.0 * t * (1.0 - t)) * (xt - mu) + x1.get(i, j)
                    - x0.get(i, j);
                let (got_u, got_s) = (r.target[i * 2 + j] as f64, score.target[i * 2 + j] as f64);
                assert!(
                    (got_u - u).abs() < 1e-3 * u.abs().max(1.0),
                    "u {got_u} vs {u}"
                );
                let want = -eps / lambda;
                assert!(
                    (got_s - want).abs() < 1e-3 * want.abs().max(1.0),
                    "−ε/λ {got_s} vs {want}"
                );
            }
        }
    }

    #[test]
    fn names_round_trip_and_a_denoiser_needs_a_schedule() {
        for w in Weighting::ALL {
            assert_eq!(w.name().parse::<Weighting>().unwrap(), w);
        }
        let err = "sigma".parse::<Weighting>().unwrap_err().to_string();
        assert!(err.contains("uniform, sigma2, likelihood"), "{err}");
        let (x0, x1) = batch(4);
        let objective = Objective::Denoising {
            target: Parameterization::Noise,
            weighting: Weighting::Uniform,
        };
        let path = AffinePath::new(ScheduleKind::Ve.build());
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        assert!(objective
            .regression(&path, None, &x0, &x1, &mut rng)
            .is_err());
    }
}
