//! What a network predicts on an affine Gaussian path `x_t = α_t x1 + σ_t x0`, and exact conversions
//! between any two choices.
//!
//! Each parameterization is written **once**, as an affine function of x_t and the denoised
//! estimate x̂1 = E[x1 | x_t] (MATH.md §1, Tweedie):
//!
//! | parameterization | value | a_t (of x_t) | b_t (of x̂1) |
//! |---|---|---|---|
//! | [`Parameterization::Data`] | x̂1 | 0 | 1 |
//! | [`Parameterization::Noise`] | ε̂ = E[x0 \| x_t] = (x_t − α_t x̂1)/σ_t | 1/σ_t | −α_t/σ_t |
//! | [`Parameterization::Score`] | ∇log p_t = −ε̂/σ_t | −1/σ_t² | α_t/σ_t² |
//! | [`Parameterization::Velocity`] | u_t = α̇_t x̂1 + σ̇_t ε̂ | σ̇_t/σ_t | α̇_t − σ̇_t α_t/σ_t |
//! | [`Parameterization::V`] | v = α_t ε̂ − σ_t x̂1 | α_t/σ_t | −(α_t² + σ_t²)/σ_t |
//!
//! so every conversion is one composition: invert the source row to get x̂1, apply the target row
//! (facebookresearch/flow_matching's `path/affine.py` writes the six pairwise conversions instead).
//! The same coefficients with x̂1 replaced by the true x1 give the conditional regression targets
//! (x1, x0, −x0/σ_t, α̇_t x1 + σ̇_t x0), see [`crate::path::AffinePath::target`].
//!
//! Conversions are exact for 0 < t < 1 where α_t > 0 and σ_t > 0; at t = 0 (α = 0) x̂1 cannot be
//! recovered from x_t, and at σ_t = 0 the noise, score and velocity rows are singular.

use std::str::FromStr;

use otto_ot::Matrix;

use super::schedule::{Level, Schedule};
use crate::error::Error;

/// The quantity a model outputs at (t, x_t) on an affine Gaussian path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Parameterization {
    /// The marginal velocity u_t(x) (flow matching, Lipman et al. 2023).
    Velocity,
    /// The score ∇ log p_t(x) (score matching, Song et al. 2021).
    Score,
    /// The noise ε̂ = E[x0 | x_t] (ε-prediction, Ho et al. 2020).
    Noise,
    /// The denoised data x̂1 = E[x1 | x_t] (x0-prediction in diffusion's naming; EDM's D).
    Data,
    /// Salimans & Ho's v = α_t ε̂ − σ_t x̂1 ("v-prediction", Salimans & Ho 2022, §4; the flow
    /// velocity is a different quantity: [`Parameterization::Velocity`]).
    V,
}

/// α_t, σ_t and their derivatives at one time: all a parameterization's coefficients read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SchedulePoint {
    /// α_t.
    pub alpha: f64,
    /// σ_t.
    pub sigma: f64,
    /// α̇_t.
    pub d_alpha: f64,
    /// σ̇_t.
    pub d_sigma: f64,
}

impl SchedulePoint {
    /// The schedule's values at time t.
    pub fn at<S: Schedule + ?Sized>(schedule: &S, t: f64) -> Self {
        Self {
            alpha: schedule.alpha(t),
            sigma: schedule.sigma(t),
            d_alpha: schedule.d_alpha(t),
            d_sigma: schedule.d_sigma(t),
        }
    }

    /// The noise level `level` (its α and σ, which a sampler's grid may set apart from the
    /// schedule) with the schedule's derivatives at its time.
    pub fn at_level<S: Schedule + ?Sized>(schedule: &S, level: &Level) -> Self {
        Self {
            alpha: level.alpha,
            sigma: level.sigma,
            d_alpha: schedule.d_alpha(level.t),
            d_sigma: schedule.d_sigma(level.t),
        }
    }
}

/// The affine map `value = xt · x_t + data · x̂1` that defines a parameterization at one time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Coefficients {
    /// a_t, the coefficient of x_t.
    pub xt: f64,
    /// b_t, the coefficient of the denoised estimate x̂1.
    pub data: f64,
}

/// The affine map `output = xt · x_t + value · input` that converts one parameterization's value
/// into another's at one time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Conversion {
    /// The coefficient of x_t.
    pub xt: f64,
    /// The coefficient of the input value.
    pub value: f64,
}

impl Conversion {
    /// Writes `xt · x_t + value · input` into `out` (all three of the same shape).
    ///
    /// Panics if the shapes differ (a programming error, like indexing out of bounds).
    pub fn apply(&self, xt: &Matrix, input: &Matrix, out: &mut Matrix) {
        assert!(
            xt.shape() == input.shape() && xt.shape() == out.shape(),
            "conversion shapes differ: x_t {:?}, input {:?}, out {:?}",
            xt.shape(),
            input.shape(),
            out.shape()
        );
        for ((o, x), v) in out
            .as_mut_slice()
            .iter_mut()
            .zip(xt.as_slice())
            .zip(input.as_slice())
        {
            *o = self.xt * x + self.value * v;
        }
    }
}

impl Parameterization {
    /// All five, in declaration order.
    pub const ALL: [Parameterization; 5] = [
        Parameterization::Velocity,
        Parameterization::Score,
        Parameterization::Noise,
        Parameterization::Data,
        Parameterization::V,
    ];

    /// The lowercase name (`velocity`, `score`, `noise`, `data`, `v`), as parsed by [`FromStr`].
    pub fn name(&self) -> &'static str {
        match self {
            Parameterization::Velocity => "velocity",
            Parameterization::Score => "score",
            Parameterization::Noise => "noise",
            Parameterization::Data => "data",
            Parameterization::V => "v",
        }
    }

    /// The coefficients (a_t, b_t) with `value = a_t x_t + b_t x̂1` (table in the module
    /// documentation).
    pub fn coefficients<S: Schedule + ?Sized>(&self, schedule: &S, t: f64) -> Coefficients {
        self.coefficients_at(&SchedulePoint::at(schedule, t))
    }

    /// The coefficients at given values of α, σ and their derivatives (only
    /// [`Parameterization::Velocity`] reads the derivatives).
    pub fn coefficients_at(&self, p: &SchedulePoint) -> Coefficients {
        let (alpha, sigma) = (p.alpha, p.sigma);
        match self {
            Parameterization::Data => Coefficients { xt: 0.0, data: 1.0 },
            Parameterization::Noise => Coefficients {
                xt: 1.0 / sigma,
                data: -alpha / sigma,
            },
            Parameterization::Score => Coefficients {
                xt: -1.0 / (sigma * sigma),
                data: alpha / (sigma * sigma),
            },
            Parameterization::Velocity => {
                let rate = p.d_sigma / sigma;
                Coefficients {
                    xt: rate,
                    data: p.d_alpha - rate * alpha,
                }
            }
            Parameterization::V => Coefficients {
                xt: alpha / sigma,
                data: -(alpha * alpha + sigma * sigma) / sigma,
            },
        }
    }

    /// The conversion from this parameterization to `to` at time t: with `value = a x_t + b x̂1`
    /// and `target = a' x_t + b' x̂1`, `x̂1 = (value − a x_t)/b`, so
    /// `target = (a' − b' a / b) x_t + (b'/b) value`.
    pub fn conversion<S: Schedule + ?Sized>(
        self,
        to: Parameterization,
        schedule: &S,
        t: f64,
    ) -> Conversion {
        self.conversion_at(to, &SchedulePoint::at(schedule, t))
    }

    /// [`Parameterization::conversion`] at given values of α, σ and their derivatives.
    pub fn conversion_at(self, to: Parameterization, point: &SchedulePoint) -> Conversion {
        if self == to {
            return Conversion {
                xt: 0.0,
                value: 1.0,
            };
        }
        let from = self.coefficients_at(point);
        let to = to.coefficients_at(point);
        Conversion {
            xt: to.xt - to.data * from.xt / from.data,
            value: to.data / from.data,
        }
    }

    /// Converts `value` (this parameterization's output at time t for the points `xt`) into the
    /// parameterization `to`, writing into `out`. Panics if the shapes differ.
    pub fn convert<S: Schedule + ?Sized>(
        self,
        to: Parameterization,
        schedule: &S,
        t: f64,
        xt: &Matrix,
        value: &Matrix,
        out: &mut Matrix,
    ) {
        self.conversion(to, schedule, t).apply(xt, value, out);
    }
}

impl FromStr for Parameterization {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Parameterization::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| Error::InvalidOption {
                name: "prediction target",
                value: s.to_string(),
                reason: "expected one of velocity, score, noise, data, v",
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::gmm::tests::three_component;
    use crate::field::{GmmField, ScoreField, VectorField};
    use crate::path::{CondOt, VpLinear, VpTrig};

    /// Largest |a − b| relative to max(1, |b|) over all entries.
    fn rel_diff(a: &Matrix, b: &Matrix) -> f64 {
        a.as_slice()
            .iter()
            .zip(b.as_slice())
            .map(|(x, y)| (x - y).abs() / y.abs().max(1.0))
            .fold(0.0, f64::max)
    }

    fn check<S: Schedule + Copy>(name: &str, schedule: S) {
        let field = GmmField::new(three_component(), schedule);
        let x = Matrix::from_rows(&[
            vec![0.3, -0.7],
            vec![2.1, 0.4],
            vec![-1.0, 1.5],
            vec![0.0, -2.5],
        ])
        .unwrap();
        let shape = x.shape();
        for t in [0.1, 0.4, 0.7, 0.95] {
            let (alpha, sigma) = (schedule.alpha(t), schedule.sigma(t));
            let (d_alpha, d_sigma) = (schedule.d_alpha(t), schedule.d_sigma(t));
            let mut velocity = Matrix::zeros(shape.0, shape.1);
            let mut score = velocity.clone();
            let mut data = velocity.clone();
            field.velocity(t, &x, &mut velocity);
            field.score(t, &x, &mut score);
            field.denoised(t, &x, &mut data);
            let noise = Matrix::from_fn(shape.0, shape.1, |i, j| -sigma * score.get(i, j));
            // Salimans & Ho's v = α ε̂ − σ x̂1 from the oracle's independent noise and denoiser.
            let v = Matrix::from_fn(shape.0, shape.1, |i, j| {
                alpha * noise.get(i, j) - sigma * data.get(i, j)
            });
            let truth = [
                (Parameterization::Velocity, &velocity),
                (Parameterization::Score, &score),
                (Parameterization::Noise, &noise),
                (Parameterization::Data, &data),
                (Parameterization::V, &v),
            ];

            // Truth 1 (MATH.md §1, Tweedie): the oracle's closed forms agree with each other:
            // E[x0 | x_t] = −σ ∇log p, E[x1 | x_t] = (x + σ² ∇log p)/α (the denoiser is computed
            // independently, from the components' posterior means), and
            // u = (α̇/α) x + (α̇σ²/α − σ̇σ) ∇log p.
            for i in 0..shape.0 {
                for j in 0..shape.1 {
                    let (xi, s) = (x.get(i, j), score.get(i, j));
                    let tweedie_data = (xi + sigma * sigma * s) / alpha;
                    let tweedie_velocity = d_alpha / alpha * xi
                        + (d_alpha * sigma * sigma / alpha - d_sigma * sigma) * s;
                    assert!(
                        (tweedie_data - data.get(i, j)).abs() < 1e-10 * tweedie_data.abs().max(1.0)
                    );
                    assert!(
                        (tweedie_velocity - velocity.get(i, j)).abs()
                            < 1e-10 * tweedie_velocity.abs().max(1.0),
                        "{name} t={t}: Tweedie velocity {tweedie_velocity} vs oracle {}",
                        velocity.get(i, j)
                    );
                }
            }

            // Truth 2: every one of the 25 conversions maps the oracle's value of one
            // parameterization onto the oracle's value of the other. Round-off is amplified by at
            // most |b'/b| ≲ 1/α ≤ 1/sin(π/20) ≈ 6.4 and 1/σ² ≤ 1/cos²(0.95π/2) ≈ 163: 1e-10.
            for (from, value) in truth {
                for (to, expected) in truth {
                    let mut out = Matrix::zeros(shape.0, shape.1);
                    from.convert(to, &schedule, t, &x, value, &mut out);
                    let err = rel_diff(&out, expected);
                    assert!(
                        err < 1e-10,
                        "{name} t={t}: {from:?} → {to:?} off by {err:e}"
                    );
                }
            }

            // Truth 3: around the circle velocity → score → noise → data → v → velocity is the
            // identity (1e-10).
            let mut current = velocity.clone();
            let circle = [
                Parameterization::Velocity,
                Parameterization::Score,
                Parameterization::Noise,
                Parameterization::Data,
                Parameterization::V,
                Parameterization::Velocity,
            ];
            for pair in circle.windows(2) {
                let mut out = Matrix::zeros(shape.0, shape.1);
                pair[0].convert(pair[1], &schedule, t, &x, &current, &mut out);
                current = out;
            }
            assert!(
                rel_diff(&current, &velocity) < 1e-10,
                "{name} t={t}: circle"
            );
        }
    }

    #[test]
    fn conversions_agree_with_the_gmm_closed_forms() {
        check("cond-ot", CondOt::new(1e-3).unwrap());
        check("vp-trig", VpTrig);
        check("vp-linear", VpLinear::default());
    }

    #[test]
    fn names_round_trip() {
        for p in Parameterization::ALL {
            assert_eq!(p.name().parse::<Parameterization>().unwrap(), p);
        }
        assert!("epsilon".parse::<Parameterization>().is_err());
    }
}
