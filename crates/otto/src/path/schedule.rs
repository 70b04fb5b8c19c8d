//! Noise schedules of affine Gaussian paths `x_t = α_t x1 + σ_t x0`, written in otto's time
//! convention (t = 0 noise, t = 1 data; see [`crate::path`]).
//!
//! | schedule | α_t | σ_t | source |
//! |---|---|---|---|
//! | [`CondOt`] | t | 1 − (1 − σ_min) t | Lipman et al. 2023, eq. (20); σ_min = 0 is rectified flow (Liu et al. 2023) |
//! | [`VpTrig`] | sin(πt/2) | cos(πt/2) | the cosine VP path of Albergo & Vanden-Eijnden 2023 / torchcfm's VP-CFM |
//! | [`VpLinear`] | exp(−¼ s²(β1 − β0) − ½ s β0), s = 1 − t | √(1 − α_t²) | Song et al. 2021 (VP SDE), β0 = 0.1, β1 = 20 |

use crate::error::{ensure, Result};

/// The schedule of an affine path `x_t = α_t x1 + σ_t x0`: the signal coefficient α_t, the noise
/// coefficient σ_t and their exact time derivatives α̇_t, σ̇_t, for t ∈ [0, 1].
pub trait Schedule: Send + Sync {
    /// The signal coefficient α_t.
    fn alpha(&self, t: f64) -> f64;
    /// The noise coefficient σ_t.
    fn sigma(&self, t: f64) -> f64;
    /// dα_t/dt.
    fn d_alpha(&self, t: f64) -> f64;
    /// dσ_t/dt.
    fn d_sigma(&self, t: f64) -> f64;
    /// σ_t σ̇_t = ½ d(σ_t²)/dt, the only combination of σ̇ the marginal velocity of a Gaussian mixture
    /// needs (MATH.md §1). Schedules where σ̇ is infinite while σ = 0 (VP-linear at t = 1) override
    /// it with its finite limit.
    fn sigma_d_sigma(&self, t: f64) -> f64 {
        self.sigma(t) * self.d_sigma(t)
    }
}

/// Conditional optimal transport (Lipman et al. 2023, eq. 20): α_t = t, σ_t = 1 − (1 − σ_min) t.
/// With σ_min = 0 (the default) it is the rectified-flow / I-CFM straight line from noise to data.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct CondOt {
    sigma_min: f64,
}

impl CondOt {
    /// The schedule with final noise level `0 ≤ sigma_min < 1`.
    pub fn new(sigma_min: f64) -> Result<Self> {
        ensure(
            (0.0..1.0).contains(&sigma_min),
            "sigma_min",
            sigma_min,
            "the final noise level must lie in [0, 1)",
        )?;
        Ok(Self { sigma_min })
    }

    /// σ_min = σ_1.
    pub fn sigma_min(&self) -> f64 {
        self.sigma_min
    }
}

impl Schedule for CondOt {
    fn alpha(&self, t: f64) -> f64 {
        t
    }
    fn sigma(&self, t: f64) -> f64 {
        1.0 - (1.0 - self.sigma_min) * t
    }
    fn d_alpha(&self, _t: f64) -> f64 {
        1.0
    }
    fn d_sigma(&self, _t: f64) -> f64 {
        -(1.0 - self.sigma_min)
    }
}

/// The trigonometric variance-preserving schedule α_t = sin(πt/2), σ_t = cos(πt/2)
/// (α² + σ² = 1; torchcfm's VP-CFM path, MATH.md §2).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct VpTrig;

impl Schedule for VpTrig {
    fn alpha(&self, t: f64) -> f64 {
        (std::f64::consts::FRAC_PI_2 * t).sin()
    }
    fn sigma(&self, t: f64) -> f64 {
        (std::f64::consts::FRAC_PI_2 * t).cos()
    }
    fn d_alpha(&self, t: f64) -> f64 {
        std::f64::consts::FRAC_PI_2 * (std::f64::consts::FRAC_PI_2 * t).cos()
    }
    fn d_sigma(&self, t: f64) -> f64 {
        -std::f64::consts::FRAC_PI_2 * (std::f64::consts::FRAC_PI_2 * t).sin()
    }
}

/// The variance-preserving SDE with a linear β (Song et al. 2021, VP SDE; Ho et al. 2020 in the
/// continuous limit), written in otto's time t = 1 − s of the diffusion time s:
/// `log α_t = −¼ s² (β1 − β0) − ½ s β0`, `σ_t = √(1 − α_t²)`, so
/// `α̇_t = ½ β(s) α_t` with `β(s) = β0 + s (β1 − β0)` and `σ̇_t = −α_t α̇_t / σ_t`.
///
/// α_0 = exp(−(β0 + β1)/4) ≈ 6.4e-3 for the defaults: small but **not zero**, so p_0 is N(0, I) only
/// approximately (σ_0² = 1 − α_0² ≈ 1 − 4e-5). At t = 1, σ = 0 and σ̇ = −∞ (σ ≈ √(β0 s));
/// [`Schedule::sigma_d_sigma`] = −α α̇ stays finite there.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VpLinear {
    beta0: f64,
    beta1: f64,
}

impl Default for VpLinear {
    /// β0 = 0.1, β1 = 20 (Song et al. 2021).
    fn default() -> Self {
        Self {
            beta0: 0.1,
            beta1: 20.0,
        }
    }
}

impl VpLinear {
    /// The schedule with `0 ≤ beta0 ≤ beta1`, `beta1 > 0` (finite).
    pub fn new(beta0: f64, beta1: f64) -> Result<Self> {
        ensure(
            beta0 >= 0.0 && beta0.is_finite(),
            "beta0",
            beta0,
            "must be non-negative and finite",
        )?;
        ensure(
            beta1 >= beta0 && beta1 > 0.0 && beta1.is_finite(),
            "beta1",
            beta1,
            "must be finite, positive and at least beta0",
        )?;
        Ok(Self { beta0, beta1 })
    }

    /// β0, the noise rate at the data end (t = 1).
    pub fn beta0(&self) -> f64 {
        self.beta0
    }

    /// β1, the noise rate at the noise end (t = 0).
    pub fn beta1(&self) -> f64 {
        self.beta1
    }

    /// log α_t.
    fn log_alpha(&self, t: f64) -> f64 {
        let s = 1.0 - t;
        -0.25 * s * s * (self.beta1 - self.beta0) - 0.5 * s * self.beta0
    }

    /// β(s) at s = 1 − t.
    fn beta(&self, t: f64) -> f64 {
        self.beta0 + (1.0 - t) * (self.beta1 - self.beta0)
    }
}

impl Schedule for VpLinear {
    fn alpha(&self, t: f64) -> f64 {
        self.log_alpha(t).exp()
    }
    fn sigma(&self, t: f64) -> f64 {
        // 1 − α² = −expm1(2 log α), accurate where α → 1.
        (-(2.0 * self.log_alpha(t)).exp_m1()).max(0.0).sqrt()
    }
    fn d_alpha(&self, t: f64) -> f64 {
        0.5 * self.beta(t) * self.alpha(t)
    }
    fn d_sigma(&self, t: f64) -> f64 {
        -self.alpha(t) * self.d_alpha(t) / self.sigma(t)
    }
    fn sigma_d_sigma(&self, t: f64) -> f64 {
        -self.alpha(t) * self.d_alpha(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedules() -> Vec<(&'static str, Box<dyn Schedule>)> {
        vec![
            ("cond-ot", Box::new(CondOt::default())),
            ("cond-ot σmin", Box::new(CondOt::new(0.01).unwrap())),
            ("vp-trig", Box::new(VpTrig)),
            ("vp-linear", Box::new(VpLinear::default())),
        ]
    }

    #[test]
    fn derivatives_match_central_differences() {
        // Truth: the fourth-order central difference (f(t−2h) − 8f(t−h) + 8f(t+h) − f(t+2h))/(12h),
        // truncation O(h⁴ f⁽⁵⁾) ≈ 1e-13 at h = 1e-3 for these (VP-linear: f⁽⁵⁾ ≲ 10⁴·α),
        // round-off ≈ 1e-16/h = 1e-13. Tolerance 1e-8 relative to max(1, |f'|).
        let h = 1e-3;
        let fd = |f: &dyn Fn(f64) -> f64, t: f64| {
            (f(t - 2.0 * h) - 8.0 * f(t - h) + 8.0 * f(t + h) - f(t + 2.0 * h)) / (12.0 * h)
        };
        for (name, s) in schedules() {
            for k in 1..20 {
                let t = k as f64 / 20.0;
                let da = fd(&|t| s.alpha(t), t);
                let ds = fd(&|t| s.sigma(t), t);
                assert!(
                    (da - s.d_alpha(t)).abs() < 1e-8 * s.d_alpha(t).abs().max(1.0),
                    "{name} t={t}: α̇ {} vs fd {da}",
                    s.d_alpha(t)
                );
                assert!(
                    (ds - s.d_sigma(t)).abs() < 1e-8 * s.d_sigma(t).abs().max(1.0),
                    "{name} t={t}: σ̇ {} vs fd {ds}",
                    s.d_sigma(t)
                );
                assert!((s.sigma_d_sigma(t) - s.sigma(t) * s.d_sigma(t)).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn endpoints() {
        // Truth: the defining formulas at t = 0 and 1.
        let c = CondOt::new(0.01).unwrap();
        assert_eq!((c.alpha(0.0), c.sigma(0.0)), (0.0, 1.0));
        assert!((c.sigma(1.0) - 0.01).abs() < 1e-15);
        assert!(VpTrig.alpha(0.0).abs() < 1e-15 && (VpTrig.alpha(1.0) - 1.0).abs() < 1e-15);
        let v = VpLinear::default();
        assert!((v.alpha(0.0) - (-(0.1 + 20.0) / 4.0f64).exp()).abs() < 1e-15);
        assert_eq!((v.alpha(1.0), v.sigma(1.0)), (1.0, 0.0));
        // σ̇ → −∞ at t = 1 but σσ̇ = −α α̇ = −β0/2 is finite.
        assert!((v.sigma_d_sigma(1.0) + 0.05).abs() < 1e-15);
        for t in [0.0, 0.3, 0.999_999] {
            assert!((v.alpha(t).powi(2) + v.sigma(t).powi(2) - 1.0).abs() < 1e-14);
        }
    }

    #[test]
    fn invalid_options_are_named() {
        use crate::error::Error;
        let name = |e: Error| match e {
            Error::InvalidOption { name, .. } => name,
            other => panic!("{other:?}"),
        };
        assert_eq!(name(CondOt::new(1.0).unwrap_err()), "sigma_min");
        assert_eq!(name(CondOt::new(-0.1).unwrap_err()), "sigma_min");
        assert_eq!(name(VpLinear::new(0.1, 0.05).unwrap_err()), "beta1");
        assert_eq!(name(VpLinear::new(f64::NAN, 1.0).unwrap_err()), "beta0");
    }
}
