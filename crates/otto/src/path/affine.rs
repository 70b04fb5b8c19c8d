//! The paths of flow matching and diffusion, all affine in (x0, x1, ε) (see [`crate::path`]):
//! the affine Gaussian path from noise (MATH.md §1) and torchcfm's source-to-target interpolants
//! with extra noise (MATH.md §2).

use otto_ot::Matrix;

use super::parameterization::Parameterization;
use super::schedule::Schedule;
use super::{ConditionalPath, PathCoefficients, PathSample};
use crate::error::{ensure, Result};

/// The affine Gaussian path `x_t = α_t x1 + σ_t x0`, x0 ~ N(0, I) (Lipman et al. 2023 §4;
/// Kingma et al. 2021; MATH.md §1), with the schedule `S`. The source x0 is the noise (ε = x0).
///
/// Conditional velocity (the time derivative at fixed x0, x1):
/// `u_t(x | x1) = α̇_t x1 + σ̇_t x0 = (σ̇_t/σ_t)(x − α_t x1) + α̇_t x1`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct AffinePath<S> {
    schedule: S,
}

impl<S: Schedule> AffinePath<S> {
    /// The path with schedule `schedule`.
    pub fn new(schedule: S) -> Self {
        Self { schedule }
    }

    /// The schedule.
    pub fn schedule(&self) -> &S {
        &self.schedule
    }

    /// The conditional regression target of `parameterization` for every row of `sample`: the
    /// parameterization's affine map `a_t x_t + b_t x̂1` ([`Parameterization::coefficients`]) with
    /// the denoised estimate x̂1 replaced by the true x1. Because x_t = α_t x1 + σ_t x0 this is
    /// x1 (data), x0 (noise), −x0/σ_t (score: denoising score matching, Vincent 2011) and
    /// α̇_t x1 + σ̇_t x0 (velocity: [`ConditionalPath::conditional_velocity`]); the regression's
    /// minimizer is the marginal quantity.
    pub fn target(&self, parameterization: Parameterization, sample: &PathSample) -> Matrix {
        let (n, d) = sample.xt.shape();
        let mut out = Matrix::zeros(n, d);
        for (i, &t) in sample.t.iter().enumerate() {
            let c = parameterization.coefficients(&self.schedule, t);
            let (xt, x1) = (sample.xt.row(i), sample.x1.row(i));
            for (j, o) in out.row_mut(i).iter_mut().enumerate() {
                *o = c.xt * xt[j] + c.data * x1[j];
            }
        }
        out
    }
}

impl<S: Schedule> ConditionalPath for AffinePath<S> {
    fn coefficients(&self, t: f64) -> PathCoefficients {
        let s = &self.schedule;
        PathCoefficients {
            source: 0.0,
            target: s.alpha(t),
            noise: s.sigma(t),
            d_source: 0.0,
            d_target: s.d_alpha(t),
            d_noise: s.d_sigma(t),
        }
    }

    fn noise_is_source(&self) -> bool {
        true
    }
}

/// How the noise of an [`Interpolant`] scales with time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InterpolantNoise {
    /// σ_t = σ: I-CFM and OT-CFM (Tong et al. 2024, Table 1).
    Constant,
    /// σ_t = σ √(t(1 − t)), the Brownian bridge between x0 and x1 with diffusion σ: SB-CFM and
    /// SF2M (Tong et al. 2024, Table 1; AISTATS 2024).
    BrownianBridge,
}

/// torchcfm's source-to-target interpolant `x_t = (1 − t) x0 + t x1 + σ_t ε` (MATH.md §2), ε drawn
/// independently of the coupled pair. Conditional velocity `u_t = x1 − x0 + σ̇_t ε`:
/// - constant σ_t: `u_t = x1 − x0`;
/// - Brownian bridge: `σ̇_t ε = (1 − 2t)/(2 t (1 − t)) (x_t − μ_t)`, infinite at t ∈ {0, 1}
///   (the objectives draw t ~ U(0, 1), which avoids them almost surely).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interpolant {
    sigma: f64,
    noise: InterpolantNoise,
}

impl Interpolant {
    /// The interpolant with noise level `sigma ≥ 0` (finite) scaled as `noise` says.
    pub fn new(noise: InterpolantNoise, sigma: f64) -> Result<Self> {
        ensure(
            sigma >= 0.0 && sigma.is_finite(),
            "sigma",
            sigma,
            "the noise level must be non-negative and finite",
        )?;
        Ok(Self { sigma, noise })
    }

    /// Constant noise σ (I-CFM, OT-CFM; torchcfm uses σ = 0.1 in MATH.md §2's protocol).
    pub fn constant(sigma: f64) -> Result<Self> {
        Self::new(InterpolantNoise::Constant, sigma)
    }

    /// Brownian-bridge noise σ√(t(1 − t)) (SB-CFM, SF2M; σ = 1 in MATH.md §2's protocol).
    pub fn brownian_bridge(sigma: f64) -> Result<Self> {
        Self::new(InterpolantNoise::BrownianBridge, sigma)
    }

    /// The noise level σ.
    pub fn sigma(&self) -> f64 {
        self.sigma
    }

    /// How the noise scales with time.
    pub fn noise(&self) -> InterpolantNoise {
        self.noise
    }
}

impl ConditionalPath for Interpolant {
    fn coefficients(&self, t: f64) -> PathCoefficients {
        let (noise, d_noise) = match self.noise {
            InterpolantNoise::Constant => (self.sigma, 0.0),
            InterpolantNoise::BrownianBridge => {
                let root = (t * (1.0 - t)).sqrt();
                (
                    self.sigma * root,
                    self.sigma * (1.0 - 2.0 * t) / (2.0 * root),
                )
            }
        };
        PathCoefficients {
            source: 1.0 - t,
            target: t,
            noise,
            d_source: -1.0,
            d_target: 1.0,
            d_noise,
        }
    }

    fn noise_is_source(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::error::Error;
    use crate::path::{CondOt, VpLinear, VpTrig};

    fn batch() -> (Matrix, Matrix) {
        let x0 = Matrix::from_fn(64, 3, |i, j| ((i * 3 + j) as f64 * 0.37).sin());
        let x1 = Matrix::from_fn(64, 3, |i, j| 2.0 + ((i + 5 * j) as f64 * 0.11).cos());
        (x0, x1)
    }

    fn close(a: &Matrix, b: &Matrix, tol: f64) -> bool {
        a.as_slice()
            .iter()
            .zip(b.as_slice())
            .all(|(x, y)| (x - y).abs() <= tol * y.abs().max(1.0))
    }

    fn check_affine<S: Schedule + Copy>(schedule: S) {
        // Truth: the definitions x_t = α x1 + σ x0 and, by substituting it, the targets x1, x0,
        // −x0/σ and α̇ x1 + σ̇ x0; the velocity also equals MATH.md §1's
        // u = (σ̇/σ)(x − α x1) + α̇ x1. Round-off only: 1e-12 relative.
        let path = AffinePath::new(schedule);
        let (x0, x1) = batch();
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let sample = path.sample(&x0, &x1, &mut rng).unwrap();
        assert_eq!(sample.noise, x0);
        let at = |m: &Matrix, f: &dyn Fn(f64, f64, f64) -> f64| {
            Matrix::from_fn(m.rows(), m.cols(), |i, j| {
                f(sample.t[i], sample.x0.get(i, j), sample.x1.get(i, j))
            })
        };
        let s = schedule;
        let xt = at(&x0, &|t, a, b| s.alpha(t) * b + s.sigma(t) * a);
        assert!(close(&sample.xt, &xt, 1e-12));
        let velocity = path.conditional_velocity(&sample);
        let lipman = Matrix::from_fn(64, 3, |i, j| {
            let t = sample.t[i];
            let (x, b) = (sample.xt.get(i, j), sample.x1.get(i, j));
            s.d_sigma(t) / s.sigma(t) * (x - s.alpha(t) * b) + s.d_alpha(t) * b
        });
        assert!(close(&velocity, &lipman, 1e-10));
        let expected = [
            (Parameterization::Data, at(&x0, &|_, _, b| b)),
            (Parameterization::Noise, at(&x0, &|_, a, _| a)),
            (Parameterization::Score, at(&x0, &|t, a, _| -a / s.sigma(t))),
            (
                Parameterization::Velocity,
                at(&x0, &|t, a, b| s.d_alpha(t) * b + s.d_sigma(t) * a),
            ),
        ];
        for (p, truth) in &expected {
            assert!(close(&path.target(*p, &sample), truth, 1e-10), "{p:?}");
        }
        assert!(close(
            &path.conditional_score(&sample),
            &expected[2].1,
            1e-12
        ));
        assert!(close(&velocity, &expected[3].1, 1e-12));
    }

    #[test]
    fn affine_samples_and_targets() {
        check_affine(CondOt::new(0.01).unwrap());
        check_affine(VpTrig);
        check_affine(VpLinear::default());
    }

    #[test]
    fn interpolant_velocities_are_time_derivatives() {
        // Truth 1: torchcfm's formulas (MATH.md §2): u = x1 − x0 for constant σ,
        // u = (1 − 2t)/(2t(1 − t)) (x_t − μ_t) + x1 − x0 for the Brownian bridge, and SF2M's score
        // (μ_t − x_t)/(σ² t(1 − t)); round-off only, 1e-10.
        // Truth 2: u is d x_t/dt at fixed (x0, x1, ε): central difference with h = 1e-6
        // (truncation ≈ h²|x⃛_t| ≲ 1e-9 for t ∈ [0.05, 0.95], round-off ≈ 1e-10). Tolerance 1e-6.
        let (x0, x1) = batch();
        let times: Vec<f64> = (0..64).map(|i| 0.05 + 0.9 * i as f64 / 63.0).collect();
        for path in [
            Interpolant::constant(0.1).unwrap(),
            Interpolant::brownian_bridge(1.0).unwrap(),
        ] {
            let mut rng = ChaCha8Rng::seed_from_u64(11);
            let sample = path.sample_at(&x0, &x1, times.clone(), &mut rng).unwrap();
            assert_ne!(sample.noise, x0);
            let u = path.conditional_velocity(&sample);
            let score = path.conditional_score(&sample);
            let sigma = path.sigma();
            for (i, &t) in times.iter().enumerate() {
                for j in 0..3 {
                    let (a, b, e) = (x0.get(i, j), x1.get(i, j), sample.noise.get(i, j));
                    let mu = t * b + (1.0 - t) * a;
                    let x = sample.xt.get(i, j);
                    let (torchcfm, sf2m) = match path.noise() {
                        InterpolantNoise::Constant => (b - a, (mu - x) / (sigma * sigma)),
                        InterpolantNoise::BrownianBridge => (
                            (1.0 - 2.0 * t) / (2.0 * t * (1.0 - t)) * (x - mu) + b - a,
                            (mu - x) / (sigma * sigma * t * (1.0 - t)),
                        ),
                    };
                    assert!((u.get(i, j) - torchcfm).abs() < 1e-10 * torchcfm.abs().max(1.0));
                    assert!((score.get(i, j) - sf2m).abs() < 1e-10 * sf2m.abs().max(1.0));
                    let h = 1e-6;
                    let xt = |t: f64| {
                        let c = path.coefficients(t);
                        c.source * a + c.target * b + c.noise * e
                    };
                    let fd = (xt(t + h) - xt(t - h)) / (2.0 * h);
                    assert!(
                        (u.get(i, j) - fd).abs() < 1e-6,
                        "t={t}: {} vs {fd}",
                        u.get(i, j)
                    );
                }
            }
        }
    }

    #[test]
    fn sampling_is_seeded_and_checked() {
        // Truth: the same seed gives the same batch; t ~ U(0, 1) has mean ½ (standard error
        // 1/√(12·4096) ≈ 4.5e-3; tolerance 0.02); bad shapes and times are named errors.
        let path = Interpolant::brownian_bridge(1.0).unwrap();
        let x0 = Matrix::from_fn(4096, 2, |i, j| (i + j) as f64 * 1e-3);
        let x1 = Matrix::from_fn(4096, 2, |i, j| (i * j) as f64 * 1e-3);
        let draw = |seed| {
            path.sample(&x0, &x1, &mut ChaCha8Rng::seed_from_u64(seed))
                .unwrap()
        };
        let a = draw(5);
        assert_eq!(a, draw(5));
        assert_ne!(a, draw(6));
        let mean_t = a.t.iter().sum::<f64>() / 4096.0;
        assert!((mean_t - 0.5).abs() < 0.02 && a.t.iter().all(|t| (0.0..1.0).contains(t)));
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let short = Matrix::zeros(3, 2);
        assert!(matches!(
            path.sample(&x0, &short, &mut rng),
            Err(Error::Shape { .. })
        ));
        let err = path
            .sample_at(&short, &short, vec![0.5, 1.5, 0.2], &mut rng)
            .unwrap_err();
        assert!(
            matches!(err, Error::InvalidOption { name: "t", .. }),
            "{err}"
        );
        assert!(Interpolant::constant(-1.0).is_err());
    }
}
