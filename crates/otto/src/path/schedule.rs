//! Noise schedules of affine Gaussian paths `x_t = α_t x1 + σ_t x0`, written in otto's time
//! convention (t = 0 noise, t = 1 data; see [`crate::path`]). The usual diffusion time is
//! s = 1 − t.
//!
//! | schedule | α_t | σ_t | source |
//! |---|---|---|---|
//! | [`CondOt`] | t | 1 − (1 − σ_min) t | Lipman et al. 2023, eq. (20); σ_min = 0 is rectified flow (Liu et al. 2023) |
//! | [`VpTrig`] | sin(πt/2) | cos(πt/2) | the cosine VP path of Albergo & Vanden-Eijnden 2023 / torchcfm's VP-CFM |
//! | [`VpLinear`] | exp(−¼ s²(β1 − β0) − ½ s β0) | √(1 − α_t²) | Song et al. 2021 (VP SDE), β0 = 0.1, β1 = 20 |
//! | [`VpCosine`] | cos(θ_s)/cos(θ_0), θ_s = (s + ε)/(1 + ε)·π/2 | √(1 − α_t²) | Nichol & Dhariwal 2021 (iDDPM, ᾱ = α²), ε = 0.008 |
//! | [`SubVp`] | as [`VpLinear`] | 1 − α_t² | Song et al. 2021 (sub-VP SDE) |
//! | [`Ve`] | 1 | σ_min (σ_max/σ_min)^s | Song et al. 2021 (VE SDE), σ_min = 0.01, σ_max = 50 |
//! | [`Edm`] | 1 | (σ_max^{1/ρ} + t(σ_min^{1/ρ} − σ_max^{1/ρ}))^ρ | Karras et al. 2022: uniform t is the EDM σ grid; σ_min = 0.002, σ_max = 80, ρ = 7 |
//!
//! Every schedule also exposes the log signal-to-noise ratio λ_t = log(α_t/σ_t) (increasing in t)
//! with its closed-form inverse, EDM's noise level σ/α = e^{−λ}, and the coefficients of its
//! forward (noising) SDE in diffusion time, `dX = f(t) X ds + g(t) dW_s`: since
//! `x_t = α_t x1 + σ_t ε`, `f = d log α/ds = −α̇_t/α_t` and `g² = dσ²/ds − 2fσ² = 2σ_t² λ̇_t`
//! (Kingma et al. 2021, eq. (A.4); Song et al. 2021, eq. (5)). VP: f = −½β, g = √β; VE: f = 0,
//! g = σ √(2 ln(σ_max/σ_min)).

use std::f64::consts::FRAC_PI_2;
use std::fmt;
use std::str::FromStr;

use crate::error::{ensure, Error, Result};

/// The schedule of an affine path `x_t = α_t x1 + σ_t x0`: the signal coefficient α_t, the noise
/// coefficient σ_t, their exact time derivatives α̇_t, σ̇_t for t ∈ [0, 1], the log-SNR and its
/// inverse, and the forward SDE (module documentation).
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
    /// The log signal-to-noise ratio λ_t = log(α_t/σ_t), increasing from the noise to the data.
    fn log_snr(&self, t: f64) -> f64 {
        (self.alpha(t) / self.sigma(t)).ln()
    }
    /// dλ_t/dt = α̇_t/α_t − σ̇_t/σ_t.
    fn d_log_snr(&self, t: f64) -> f64 {
        self.d_alpha(t) / self.alpha(t) - self.d_sigma(t) / self.sigma(t)
    }
    /// The time t with λ_t = `lambda` (closed form for every schedule here). Values of λ beyond the
    /// schedule's range give times outside [0, 1] where the formula extends, else the nearest end.
    fn time_of_log_snr(&self, lambda: f64) -> f64;
    /// The forward SDE's drift coefficient f(t) = −α̇_t/α_t in diffusion time (the drift is f·x).
    fn drift(&self, t: f64) -> f64 {
        -self.d_alpha(t) / self.alpha(t)
    }
    /// The forward SDE's diffusion coefficient g(t) = σ_t √(2 λ̇_t) in diffusion time.
    fn diffusion(&self, t: f64) -> f64 {
        (2.0 * self.sigma(t).powi(2) * self.d_log_snr(t))
            .max(0.0)
            .sqrt()
    }
    /// The interval [t_start, t_end] a diffusion sampler runs over before its final step to
    /// σ = 0: where α > 0 and σ > 0, so that λ is finite. Schedules that reach α = 0 at t = 0 start
    /// at 10⁻³; those that reach σ = 0 at t = 1 stop at 1 − 10⁻³ (the truncation ε of Song et al.
    /// 2021's VP samplers).
    fn sampling_interval(&self) -> (f64, f64) {
        let start = if self.alpha(0.0) > 1e-12 { 0.0 } else { 1e-3 };
        let end = if self.sigma(1.0) > 1e-12 {
            1.0
        } else {
            1.0 - 1e-3
        };
        (start, end)
    }
}

/// A boxed schedule is a schedule (so that `GmmField<Box<dyn Schedule>>` takes one chosen at run
/// time, e.g. by [`ScheduleKind::build`]); every method forwards, overrides included.
impl<S: Schedule + ?Sized> Schedule for Box<S> {
    fn alpha(&self, t: f64) -> f64 {
        (**self).alpha(t)
    }
    fn sigma(&self, t: f64) -> f64 {
        (**self).sigma(t)
    }
    fn d_alpha(&self, t: f64) -> f64 {
        (**self).d_alpha(t)
    }
    fn d_sigma(&self, t: f64) -> f64 {
        (**self).d_sigma(t)
    }
    fn sigma_d_sigma(&self, t: f64) -> f64 {
        (**self).sigma_d_sigma(t)
    }
    fn log_snr(&self, t: f64) -> f64 {
        (**self).log_snr(t)
    }
    fn d_log_snr(&self, t: f64) -> f64 {
        (**self).d_log_snr(t)
    }
    fn time_of_log_snr(&self, lambda: f64) -> f64 {
        (**self).time_of_log_snr(lambda)
    }
    fn drift(&self, t: f64) -> f64 {
        (**self).drift(t)
    }
    fn diffusion(&self, t: f64) -> f64 {
        (**self).diffusion(t)
    }
    fn sampling_interval(&self) -> (f64, f64) {
        (**self).sampling_interval()
    }
}

/// A schedule evaluated at one time: the noise level of a sampler's grid. `sigma = 0` is the
/// data end (the final step of a diffusion sampler returns the denoised x̂1 there).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Level {
    /// The time t (the network's time input).
    pub t: f64,
    /// α_t.
    pub alpha: f64,
    /// σ_t.
    pub sigma: f64,
}

impl Level {
    /// The level of `schedule` at time t.
    pub fn at<S: Schedule + ?Sized>(schedule: &S, t: f64) -> Self {
        Self {
            t,
            alpha: schedule.alpha(t),
            sigma: schedule.sigma(t),
        }
    }

    /// The noise-free data end at time t: α = 1, σ = 0.
    pub fn data(t: f64) -> Self {
        Self {
            t,
            alpha: 1.0,
            sigma: 0.0,
        }
    }

    /// λ = log(α/σ) (+∞ at σ = 0).
    pub fn log_snr(&self) -> f64 {
        (self.alpha / self.sigma).ln()
    }

    /// EDM's noise level σ/α = e^{−λ} (Karras et al. 2022, the variance-exploding form).
    pub fn sigma_edm(&self) -> f64 {
        self.sigma / self.alpha
    }
}

/// The schedules otto knows by name, with their published default parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScheduleKind {
    /// [`CondOt`] with σ_min = 0.
    CondOt,
    /// [`VpTrig`].
    VpTrig,
    /// [`VpLinear`] with β0 = 0.1, β1 = 20.
    VpLinear,
    /// [`VpCosine`] with ε = 0.008.
    VpCosine,
    /// [`SubVp`] with β0 = 0.1, β1 = 20.
    SubVp,
    /// [`Ve`] with σ_min = 0.01, σ_max = 50.
    Ve,
    /// [`Edm`] with σ_min = 0.002, σ_max = 80, ρ = 7, σ_data = 0.5.
    Edm,
}

impl ScheduleKind {
    /// Every schedule, in the order of the module table.
    pub const ALL: [ScheduleKind; 7] = [
        ScheduleKind::CondOt,
        ScheduleKind::VpTrig,
        ScheduleKind::VpLinear,
        ScheduleKind::VpCosine,
        ScheduleKind::SubVp,
        ScheduleKind::Ve,
        ScheduleKind::Edm,
    ];

    /// The command-line name (`cond-ot`, `vp-trig`, `vp-linear`, `vp-cosine`, `sub-vp`, `ve`, `edm`).
    pub fn name(&self) -> &'static str {
        match self {
            ScheduleKind::CondOt => "cond-ot",
            ScheduleKind::VpTrig => "vp-trig",
            ScheduleKind::VpLinear => "vp-linear",
            ScheduleKind::VpCosine => "vp-cosine",
            ScheduleKind::SubVp => "sub-vp",
            ScheduleKind::Ve => "ve",
            ScheduleKind::Edm => "edm",
        }
    }

    /// The schedule with its default parameters.
    pub fn build(&self) -> Box<dyn Schedule> {
        match self {
            ScheduleKind::CondOt => Box::new(CondOt::default()),
            ScheduleKind::VpTrig => Box::new(VpTrig),
            ScheduleKind::VpLinear => Box::new(VpLinear::default()),
            ScheduleKind::VpCosine => Box::new(VpCosine::default()),
            ScheduleKind::SubVp => Box::new(SubVp::default()),
            ScheduleKind::Ve => Box::new(Ve::default()),
            ScheduleKind::Edm => Box::new(Edm::default()),
        }
    }
}

/// A named schedule with an optional largest noise level σ_max (for [`Ve`] and [`Edm`]; the
/// others have none): what a run's configuration chooses.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScheduleChoice {
    kind: ScheduleKind,
    sigma_max: Option<f64>,
}

impl ScheduleChoice {
    /// The choice, checking that σ_max (if given) belongs to a schedule that has one and is
    /// larger than its σ_min.
    pub fn new(kind: ScheduleKind, sigma_max: Option<f64>) -> Result<Self> {
        let choice = Self { kind, sigma_max };
        choice.try_build()?;
        Ok(choice)
    }

    fn try_build(&self) -> Result<Box<dyn Schedule>> {
        Ok(match (self.kind, self.sigma_max) {
            (kind, None) => kind.build(),
            (ScheduleKind::Ve, Some(max)) => Box::new(Ve::new(Ve::default().sigma_min, max)?),
            (ScheduleKind::Edm, Some(max)) => {
                let d = Edm::default();
                Box::new(Edm::new(d.sigma_min, max, d.rho, d.sigma_data)?)
            }
            (_, Some(max)) => {
                return Err(Error::InvalidOption {
                    name: "sigma_max",
                    value: max.to_string(),
                    reason: "only the ve and edm schedules have a largest noise level",
                })
            }
        })
    }

    /// The named schedule.
    pub fn kind(&self) -> ScheduleKind {
        self.kind
    }

    /// σ_max of [`Ve`] or [`Edm`] (`None`: the published default).
    pub fn sigma_max(&self) -> Option<f64> {
        self.sigma_max
    }

    /// The schedule (validated by [`ScheduleChoice::new`]).
    pub fn build(&self) -> Box<dyn Schedule> {
        self.try_build()
            .expect("a ScheduleChoice is validated at construction")
    }
}

impl fmt::Display for ScheduleKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ScheduleKind {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        ScheduleKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| Error::InvalidOption {
                name: "schedule",
                value: s.to_string(),
                reason: "expected one of cond-ot, vp-trig, vp-linear, vp-cosine, sub-vp, ve, edm",
            })
    }
}

/// Conditional optimal transport (Lipman et al. 2023, eq. 20): α_t = t, σ_t = 1 − (1 − σ_min) t.
/// With σ_min = 0 (the default) it is the rectified-flow / I-CFM straight line from noise to data.
/// λ_t = log(t/(1 − (1 − σ_min)t)), so t = 1/(e^{−λ} + 1 − σ_min).
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
    fn time_of_log_snr(&self, lambda: f64) -> f64 {
        1.0 / ((-lambda).exp() + 1.0 - self.sigma_min)
    }
}

/// The trigonometric variance-preserving schedule α_t = sin(πt/2), σ_t = cos(πt/2)
/// (α² + σ² = 1; torchcfm's VP-CFM path, MATH.md §2). λ_t = log tan(πt/2), t = (2/π) atan(e^λ).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct VpTrig;

impl Schedule for VpTrig {
    fn alpha(&self, t: f64) -> f64 {
        (FRAC_PI_2 * t).sin()
    }
    fn sigma(&self, t: f64) -> f64 {
        (FRAC_PI_2 * t).cos()
    }
    fn d_alpha(&self, t: f64) -> f64 {
        FRAC_PI_2 * (FRAC_PI_2 * t).cos()
    }
    fn d_sigma(&self, t: f64) -> f64 {
        -FRAC_PI_2 * (FRAC_PI_2 * t).sin()
    }
    fn time_of_log_snr(&self, lambda: f64) -> f64 {
        lambda.exp().atan() / FRAC_PI_2
    }
}

/// The variance-preserving SDE with a linear β (Song et al. 2021, VP SDE; Ho et al. 2020 in the
/// continuous limit), written in otto's time t = 1 − s of the diffusion time s:
/// `log α_t = −¼ s² (β1 − β0) − ½ s β0`, `σ_t = √(1 − α_t²)`, so
/// `α̇_t = ½ β(s) α_t` with `β(s) = β0 + s (β1 − β0)` and `σ̇_t = −α_t α̇_t / σ_t`; forward SDE
/// f = −½β(s), g = √β(s). λ has the closed-form inverse (MATH.md §4)
/// `s(λ) = 2L/(√(β0² + 2(β1 − β0)L) + β0)`, `L = log(1 + e^{−2λ})`.
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

    /// 1 − α_t² = −expm1(2 log α), accurate where α → 1.
    fn one_minus_alpha_squared(&self, t: f64) -> f64 {
        (-(2.0 * self.log_alpha(t)).exp_m1()).max(0.0)
    }

    /// The time at which −2 log α_t = `l` ≥ 0: the root s of ½(β1 − β0)s² + β0 s = l, written
    /// without cancellation.
    fn time_of_log_alpha(&self, l: f64) -> f64 {
        let (b0, b1) = (self.beta0, self.beta1);
        1.0 - 2.0 * l / ((b0 * b0 + 2.0 * (b1 - b0) * l).sqrt() + b0)
    }
}

/// log(1 + e^x) without overflow.
fn softplus(x: f64) -> f64 {
    if x > 30.0 {
        x + (-x).exp().ln_1p()
    } else {
        x.exp().ln_1p()
    }
}

impl Schedule for VpLinear {
    fn alpha(&self, t: f64) -> f64 {
        self.log_alpha(t).exp()
    }
    fn sigma(&self, t: f64) -> f64 {
        self.one_minus_alpha_squared(t).sqrt()
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
    fn log_snr(&self, t: f64) -> f64 {
        self.log_alpha(t) - 0.5 * self.one_minus_alpha_squared(t).ln()
    }
    fn d_log_snr(&self, t: f64) -> f64 {
        0.5 * self.beta(t) / self.one_minus_alpha_squared(t)
    }
    fn time_of_log_snr(&self, lambda: f64) -> f64 {
        // 1/α² = 1 + σ²/α² = 1 + e^{−2λ}.
        self.time_of_log_alpha(softplus(-2.0 * lambda))
    }
    fn drift(&self, t: f64) -> f64 {
        -0.5 * self.beta(t)
    }
    fn diffusion(&self, t: f64) -> f64 {
        self.beta(t).sqrt()
    }
}

/// The cosine schedule of improved DDPM (Nichol & Dhariwal 2021, eq. 17) in continuous time:
/// ᾱ(s) = f(s)/f(0), f(s) = cos²((s + ε)/(1 + ε)·π/2), α = √ᾱ, σ = √(1 − α²). In otto's time,
/// with φ_t = t π/(2(1 + ε)): `α_t = sin φ_t / sin φ_1` (exactly 0 at t = 0, 1 at t = 1),
/// `α̇_t = φ̇ cos φ_t / sin φ_1`; forward SDE f = −α̇/α, g = √(2α̇/α). Inverse of λ:
/// α² = 1/(1 + e^{−2λ}), φ = asin(α sin φ_1). (iDDPM clips the discrete β at 0.999; the
/// continuous schedule needs no clipping: samplers start at t = 10⁻³.)
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VpCosine {
    epsilon: f64,
}

impl Default for VpCosine {
    /// ε = 0.008 (Nichol & Dhariwal 2021).
    fn default() -> Self {
        Self { epsilon: 0.008 }
    }
}

impl VpCosine {
    /// The schedule with offset `epsilon ≥ 0` (finite).
    pub fn new(epsilon: f64) -> Result<Self> {
        ensure(
            epsilon >= 0.0 && epsilon.is_finite(),
            "epsilon",
            epsilon,
            "the offset must be non-negative and finite",
        )?;
        Ok(Self { epsilon })
    }

    /// dφ/dt = π/(2(1 + ε)).
    fn rate(&self) -> f64 {
        FRAC_PI_2 / (1.0 + self.epsilon)
    }

    /// 1 − α_t = (sin φ_1 − sin φ_t)/sin φ_1 = 2 cos((φ_1 + φ_t)/2) sin((φ_1 − φ_t)/2)/sin φ_1.
    fn one_minus_alpha(&self, t: f64) -> f64 {
        let (phi, phi1) = (self.rate() * t, self.rate());
        2.0 * (0.5 * (phi1 + phi)).cos() * (0.5 * (phi1 - phi)).sin() / phi1.sin()
    }

    fn one_minus_alpha_squared(&self, t: f64) -> f64 {
        let a = self.one_minus_alpha(t);
        (a * (2.0 - a)).max(0.0)
    }
}

impl Schedule for VpCosine {
    fn alpha(&self, t: f64) -> f64 {
        ((self.rate() * t).sin() / self.rate().sin()).min(1.0)
    }
    fn sigma(&self, t: f64) -> f64 {
        self.one_minus_alpha_squared(t).sqrt()
    }
    fn d_alpha(&self, t: f64) -> f64 {
        self.rate() * (self.rate() * t).cos() / self.rate().sin()
    }
    fn d_sigma(&self, t: f64) -> f64 {
        -self.alpha(t) * self.d_alpha(t) / self.sigma(t)
    }
    fn sigma_d_sigma(&self, t: f64) -> f64 {
        -self.alpha(t) * self.d_alpha(t)
    }
    fn log_snr(&self, t: f64) -> f64 {
        self.alpha(t).ln() - 0.5 * self.one_minus_alpha_squared(t).ln()
    }
    fn d_log_snr(&self, t: f64) -> f64 {
        self.d_alpha(t) / (self.alpha(t) * self.one_minus_alpha_squared(t))
    }
    fn time_of_log_snr(&self, lambda: f64) -> f64 {
        let alpha = (-0.5 * softplus(-2.0 * lambda)).exp();
        (alpha * self.rate().sin()).asin() / self.rate()
    }
    fn diffusion(&self, t: f64) -> f64 {
        (2.0 * self.d_alpha(t) / self.alpha(t)).sqrt()
    }
}

/// The sub-variance-preserving SDE (Song et al. 2021, eq. 29): the mean coefficient α_t of
/// [`VpLinear`] with standard deviation σ_t = 1 − α_t² (not its square root), so σ̇ = −2αα̇;
/// forward SDE f = −½β(s), g = √(β(s)(1 − α_t⁴)). Inverse of λ: α/(1 − α²) = e^λ gives
/// α = 2/(e^{−λ} + √(e^{−2λ} + 4)), then [`VpLinear`]'s quadratic in s.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SubVp {
    vp: VpLinear,
}

impl SubVp {
    /// The schedule with [`VpLinear::new`]'s β0, β1 (same constraints).
    pub fn new(beta0: f64, beta1: f64) -> Result<Self> {
        Ok(Self {
            vp: VpLinear::new(beta0, beta1)?,
        })
    }
}

impl Schedule for SubVp {
    fn alpha(&self, t: f64) -> f64 {
        self.vp.alpha(t)
    }
    fn sigma(&self, t: f64) -> f64 {
        self.vp.one_minus_alpha_squared(t)
    }
    fn d_alpha(&self, t: f64) -> f64 {
        self.vp.d_alpha(t)
    }
    fn d_sigma(&self, t: f64) -> f64 {
        -2.0 * self.alpha(t) * self.d_alpha(t)
    }
    fn log_snr(&self, t: f64) -> f64 {
        self.vp.log_alpha(t) - self.sigma(t).ln()
    }
    fn d_log_snr(&self, t: f64) -> f64 {
        let half_beta = 0.5 * self.vp.beta(t);
        half_beta + 2.0 * half_beta * self.alpha(t).powi(2) / self.sigma(t)
    }
    fn time_of_log_snr(&self, lambda: f64) -> f64 {
        let e = (-lambda).exp();
        let alpha = 2.0 / (e + (e * e + 4.0).sqrt());
        self.vp.time_of_log_alpha(-2.0 * alpha.ln())
    }
    fn drift(&self, t: f64) -> f64 {
        self.vp.drift(t)
    }
    fn diffusion(&self, t: f64) -> f64 {
        (self.vp.beta(t) * (1.0 - self.alpha(t).powi(4))).sqrt()
    }
}

/// The variance-exploding SDE (Song et al. 2021, eq. 30; NCSN): α = 1,
/// σ_t = σ_min (σ_max/σ_min)^{1 − t}; λ = −log σ, t = 1 + (λ + log σ_min)/log(σ_max/σ_min);
/// forward SDE f = 0, g = σ_t √(2 log(σ_max/σ_min)). p_0 ≈ N(0, σ_max² I): samplers start from
/// σ_max·z.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ve {
    sigma_min: f64,
    sigma_max: f64,
}

impl Default for Ve {
    /// σ_min = 0.01, σ_max = 50 (score_sde's 2-D and CIFAR-10 settings use 0.01 and 50).
    fn default() -> Self {
        Self {
            sigma_min: 0.01,
            sigma_max: 50.0,
        }
    }
}

impl Ve {
    /// The schedule with `0 < sigma_min < sigma_max` (finite).
    pub fn new(sigma_min: f64, sigma_max: f64) -> Result<Self> {
        ensure(
            sigma_min > 0.0 && sigma_min.is_finite(),
            "sigma_min",
            sigma_min,
            "must be positive and finite",
        )?;
        ensure(
            sigma_max > sigma_min && sigma_max.is_finite(),
            "sigma_max",
            sigma_max,
            "must be finite and larger than sigma_min",
        )?;
        Ok(Self {
            sigma_min,
            sigma_max,
        })
    }

    /// log(σ_max/σ_min).
    fn log_ratio(&self) -> f64 {
        (self.sigma_max / self.sigma_min).ln()
    }
}

impl Schedule for Ve {
    fn alpha(&self, _t: f64) -> f64 {
        1.0
    }
    fn sigma(&self, t: f64) -> f64 {
        self.sigma_min * ((1.0 - t) * self.log_ratio()).exp()
    }
    fn d_alpha(&self, _t: f64) -> f64 {
        0.0
    }
    fn d_sigma(&self, t: f64) -> f64 {
        -self.log_ratio() * self.sigma(t)
    }
    fn log_snr(&self, t: f64) -> f64 {
        -self.sigma_min.ln() - (1.0 - t) * self.log_ratio()
    }
    fn d_log_snr(&self, _t: f64) -> f64 {
        self.log_ratio()
    }
    fn time_of_log_snr(&self, lambda: f64) -> f64 {
        1.0 + (lambda + self.sigma_min.ln()) / self.log_ratio()
    }
    fn drift(&self, _t: f64) -> f64 {
        0.0
    }
}

/// The EDM noise levels (Karras et al. 2022, eq. 5 and Table 1) as a schedule: α = 1,
/// `σ_t = (σ_max^{1/ρ} + t(σ_min^{1/ρ} − σ_max^{1/ρ}))^ρ`, so a uniform grid in t *is* EDM's σ
/// grid (MATH.md §4); λ = −log σ, `t = (e^{−λ/ρ} − σ_max^{1/ρ})/(σ_min^{1/ρ} − σ_max^{1/ρ})`;
/// forward SDE f = 0, g = √(−2σσ̇) (EDM's σ(t) = t form, reparameterized). σ_data is the data
/// scale of EDM's preconditioning.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Edm {
    sigma_min: f64,
    sigma_max: f64,
    rho: f64,
    sigma_data: f64,
}

impl Default for Edm {
    /// σ_min = 0.002, σ_max = 80, ρ = 7, σ_data = 0.5 (Karras et al. 2022).
    fn default() -> Self {
        Self {
            sigma_min: 0.002,
            sigma_max: 80.0,
            rho: 7.0,
            sigma_data: 0.5,
        }
    }
}

impl Edm {
    /// The schedule with `0 < sigma_min < sigma_max`, `rho > 0`, `sigma_data > 0` (finite).
    pub fn new(sigma_min: f64, sigma_max: f64, rho: f64, sigma_data: f64) -> Result<Self> {
        let ve = Ve::new(sigma_min, sigma_max)?;
        ensure(
            rho > 0.0 && rho.is_finite(),
            "rho",
            rho,
            "must be positive and finite",
        )?;
        ensure(
            sigma_data > 0.0 && sigma_data.is_finite(),
            "sigma_data",
            sigma_data,
            "must be positive and finite",
        )?;
        Ok(Self {
            sigma_min: ve.sigma_min,
            sigma_max: ve.sigma_max,
            rho,
            sigma_data,
        })
    }

    /// σ_data, the data standard deviation assumed by the preconditioning.
    pub fn sigma_data(&self) -> f64 {
        self.sigma_data
    }

    /// (σ_max^{1/ρ}, σ_min^{1/ρ}).
    fn ends(&self) -> (f64, f64) {
        (
            self.sigma_max.powf(1.0 / self.rho),
            self.sigma_min.powf(1.0 / self.rho),
        )
    }

    /// σ_t^{1/ρ}.
    fn root(&self, t: f64) -> f64 {
        let (a, b) = self.ends();
        a + t * (b - a)
    }
}

impl Schedule for Edm {
    fn alpha(&self, _t: f64) -> f64 {
        1.0
    }
    fn sigma(&self, t: f64) -> f64 {
        self.root(t).powf(self.rho)
    }
    fn d_alpha(&self, _t: f64) -> f64 {
        0.0
    }
    fn d_sigma(&self, t: f64) -> f64 {
        let (a, b) = self.ends();
        self.rho * (b - a) * self.root(t).powf(self.rho - 1.0)
    }
    fn log_snr(&self, t: f64) -> f64 {
        -self.rho * self.root(t).ln()
    }
    fn d_log_snr(&self, t: f64) -> f64 {
        let (a, b) = self.ends();
        -self.rho * (b - a) / self.root(t)
    }
    fn time_of_log_snr(&self, lambda: f64) -> f64 {
        let (a, b) = self.ends();
        ((-lambda / self.rho).exp() - a) / (b - a)
    }
    fn drift(&self, _t: f64) -> f64 {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedules() -> Vec<(&'static str, Box<dyn Schedule>)> {
        let mut all: Vec<(&'static str, Box<dyn Schedule>)> = ScheduleKind::ALL
            .iter()
            .map(|k| (k.name(), k.build()))
            .collect();
        all.push(("cond-ot σmin", Box::new(CondOt::new(0.01).unwrap())));
        all.push((
            "vp-linear β 1,5",
            Box::new(VpLinear::new(1.0, 5.0).unwrap()),
        ));
        all
    }

    /// The fourth-order central difference (f(t−2h) − 8f(t−h) + 8f(t+h) − f(t+2h))/(12h).
    fn fd(f: &dyn Fn(f64) -> f64, t: f64, h: f64) -> f64 {
        (f(t - 2.0 * h) - 8.0 * f(t - h) + 8.0 * f(t + h) - f(t + 2.0 * h)) / (12.0 * h)
    }

    #[test]
    fn derivatives_match_central_differences() {
        // Truth: fourth-order central differences, truncation h⁴|f⁽⁵⁾|/30: at h = 1e-4 the stiffest
        // case, λ = log t − log(1 − t) at t = 0.05 (f⁽⁵⁾ = 24/t⁵ ≈ 8e7), gives 3e-10; round-off
        // ≈ 1e-16·|f|/h ≤ 1e-10 (EDM's σ ≤ 80). Tolerance 1e-7 relative to max(1, |f'|).
        let h = 1e-4;
        for (name, s) in schedules() {
            for k in 1..20 {
                let t = k as f64 / 20.0;
                let checks = [
                    ("α̇", fd(&|t| s.alpha(t), t, h), s.d_alpha(t)),
                    ("σ̇", fd(&|t| s.sigma(t), t, h), s.d_sigma(t)),
                    ("λ̇", fd(&|t| s.log_snr(t), t, h), s.d_log_snr(t)),
                ];
                for (what, numeric, exact) in checks {
                    assert!(
                        (numeric - exact).abs() < 1e-7 * exact.abs().max(1.0),
                        "{name} t={t}: {what} {exact} vs fd {numeric}"
                    );
                }
                assert!(
                    (s.sigma_d_sigma(t) - s.sigma(t) * s.d_sigma(t)).abs()
                        < 1e-12 * s.sigma_d_sigma(t).abs().max(1.0)
                );
                let lambda = (s.alpha(t) / s.sigma(t)).ln();
                assert!(
                    (s.log_snr(t) - lambda).abs() < 1e-12 * lambda.abs().max(1.0),
                    "{name} t={t}: λ {} vs log(α/σ) {lambda}",
                    s.log_snr(t)
                );
            }
        }
    }

    #[test]
    fn log_snr_round_trips() {
        // Truth: t(λ(t)) = t and λ(t(λ)) = λ over each sampling interval. The closed-form inverses
        // lose at most a few ulps times the condition number |λ'|·|t| (≲ 10³ near the ends):
        // tolerance 1e-10.
        for (name, s) in schedules() {
            let (start, end) = s.sampling_interval();
            for k in 0..=40 {
                let t = start + (end - start) * k as f64 / 40.0;
                let back = s.time_of_log_snr(s.log_snr(t));
                assert!((back - t).abs() < 1e-10, "{name}: t {t} → λ → {back}");
                let lambda = s.log_snr(t);
                let again = s.log_snr(s.time_of_log_snr(lambda));
                assert!(
                    (again - lambda).abs() < 1e-10 * lambda.abs().max(1.0),
                    "{name}: λ {lambda} → t → {again}"
                );
            }
        }
    }

    #[test]
    fn the_forward_sde_has_the_schedules_marginals() {
        // Truth: the moments of the linear SDE dX = f X ds + g dW_s started at a fixed data point
        // x1 solve dm/ds = f m, dv/ds = 2 f v + g² (Särkkä & Solin 2019, eq. 6.2); the schedule
        // claims m = α_t x1 and v = σ_t². Integrate them with RK4 (4000 steps, error ≲ 1e-12) from
        // the data end of the sampling interval, where they are set to the schedule's values, down
        // to t = 0.02, and compare with α_t, σ_t² at every 10th of the way. Tolerance 1e-8 relative.
        for (name, s) in schedules() {
            let (_, end) = s.sampling_interval();
            let (t_stop, steps) = (0.02, 4000);
            let h = (end - t_stop) / steps as f64;
            // In diffusion time ds = −dt: d(m, v)/dt = −(f m, 2 f v + g²).
            let rhs = |t: f64, (m, v): (f64, f64)| {
                let (f, g) = (s.drift(t), s.diffusion(t));
                (-f * m, -(2.0 * f * v + g * g))
            };
            let (mut t, mut y) = (end, (s.alpha(end), s.sigma(end).powi(2)));
            for i in 1..=steps {
                let k1 = rhs(t, y);
                let k2 = rhs(t - h / 2.0, (y.0 - h / 2.0 * k1.0, y.1 - h / 2.0 * k1.1));
                let k3 = rhs(t - h / 2.0, (y.0 - h / 2.0 * k2.0, y.1 - h / 2.0 * k2.1));
                let k4 = rhs(t - h, (y.0 - h * k3.0, y.1 - h * k3.1));
                y.0 -= h / 6.0 * (k1.0 + 2.0 * k2.0 + 2.0 * k3.0 + k4.0);
                y.1 -= h / 6.0 * (k1.1 + 2.0 * k2.1 + 2.0 * k3.1 + k4.1);
                t = end - i as f64 * h;
                if i % (steps / 10) == 0 {
                    let (alpha, var) = (s.alpha(t), s.sigma(t).powi(2));
                    assert!(
                        (y.0 - alpha).abs() < 1e-8 * alpha,
                        "{name} t={t}: mean {} vs α {alpha}",
                        y.0
                    );
                    assert!(
                        (y.1 - var).abs() < 1e-8 * var,
                        "{name} t={t}: variance {} vs σ² {var}",
                        y.1
                    );
                }
            }
        }
    }

    #[test]
    fn endpoints() {
        // Truth: the defining formulas at t = 0 and 1, and the published parameter values.
        let c = CondOt::new(0.01).unwrap();
        assert_eq!((c.alpha(0.0), c.sigma(0.0)), (0.0, 1.0));
        assert!((c.sigma(1.0) - 0.01).abs() < 1e-15);
        assert!(VpTrig.alpha(0.0).abs() < 1e-15 && (VpTrig.alpha(1.0) - 1.0).abs() < 1e-15);
        let v = VpLinear::default();
        assert!((v.alpha(0.0) - (-(0.1 + 20.0) / 4.0f64).exp()).abs() < 1e-15);
        assert_eq!((v.alpha(1.0), v.sigma(1.0)), (1.0, 0.0));
        // σ̇ → −∞ at t = 1 but σσ̇ = −α α̇ = −β0/2 is finite; g = √β, f = −β/2.
        assert!((v.sigma_d_sigma(1.0) + 0.05).abs() < 1e-15);
        assert!((v.diffusion(0.0) - 20f64.sqrt()).abs() < 1e-14);
        assert!((v.drift(1.0) + 0.05).abs() < 1e-15);
        for t in [0.0, 0.3, 0.999_999] {
            assert!((v.alpha(t).powi(2) + v.sigma(t).powi(2) - 1.0).abs() < 1e-14);
        }
        let cosine = VpCosine::default();
        assert_eq!(cosine.alpha(0.0), 0.0);
        assert!((cosine.alpha(1.0) - 1.0).abs() < 1e-15 && cosine.sigma(1.0) < 1e-7);
        // iDDPM: ᾱ(s) = cos²((s + ε)/(1 + ε)·π/2)/cos²(ε/(1 + ε)·π/2) at s = 0.3.
        let theta = |s: f64| (s + 0.008) / 1.008 * FRAC_PI_2;
        let abar = (theta(0.3).cos() / theta(0.0).cos()).powi(2);
        assert!((cosine.alpha(0.7).powi(2) - abar).abs() < 1e-14);
        let sub = SubVp::default();
        assert!((sub.sigma(0.4) - (1.0 - v.alpha(0.4).powi(2))).abs() < 1e-15);
        let ve = Ve::default();
        assert!((ve.sigma(0.0) - 50.0).abs() < 1e-12 && (ve.sigma(1.0) - 0.01).abs() < 1e-15);
        // score_sde: g = σ √(2 ln(σ_max/σ_min)).
        assert!((ve.diffusion(0.5) - ve.sigma(0.5) * (2.0 * 5000f64.ln()).sqrt()).abs() < 1e-12);
        let edm = Edm::default();
        assert!((edm.sigma(0.0) - 80.0).abs() < 1e-12 && (edm.sigma(1.0) - 0.002).abs() < 1e-15);
        assert_eq!(edm.sampling_interval(), (0.0, 1.0));
        assert_eq!(v.sampling_interval(), (0.0, 0.999));
        assert_eq!(CondOt::default().sampling_interval(), (1e-3, 0.999));
    }

    #[test]
    fn edm_uniform_times_are_the_karras_grid() {
        // Truth: Karras et al. 2022, eq. (5): σ_i = (σ_max^{1/ρ} + i/(N−1)(σ_min^{1/ρ} −
        // σ_max^{1/ρ}))^ρ, written out directly for N = 18.
        let edm = Edm::default();
        for i in 0..18 {
            let (a, b) = (80f64.powf(1.0 / 7.0), 0.002f64.powf(1.0 / 7.0));
            let karras = (a + i as f64 / 17.0 * (b - a)).powi(7);
            assert!((edm.sigma(i as f64 / 17.0) - karras).abs() < 1e-12 * karras);
        }
    }

    #[test]
    fn names_round_trip_and_unknown_names_list_the_valid_ones() {
        for kind in ScheduleKind::ALL {
            assert_eq!(kind.name().parse::<ScheduleKind>().unwrap(), kind);
        }
        let err = "vp-cos".parse::<ScheduleKind>().unwrap_err().to_string();
        assert!(
            err.contains("vp-cos") && err.contains("vp-cosine, sub-vp, ve, edm"),
            "{err}"
        );
    }

    #[test]
    fn a_chosen_sigma_max_sets_the_prior_scale() {
        // Truth: the definitions — VE and EDM start at σ_0 = σ_max; other schedules have none.
        let ve = ScheduleChoice::new(ScheduleKind::Ve, Some(9.0))
            .unwrap()
            .build();
        assert!((ve.sigma(0.0) - 9.0).abs() < 1e-12 && (ve.sigma(1.0) - 0.01).abs() < 1e-15);
        let edm = ScheduleChoice::new(ScheduleKind::Edm, Some(20.0))
            .unwrap()
            .build();
        assert!((edm.sigma(0.0) - 20.0).abs() < 1e-12);
        assert!(ScheduleChoice::new(ScheduleKind::VpLinear, Some(9.0)).is_err());
        assert!(ScheduleChoice::new(ScheduleKind::Ve, Some(0.001)).is_err());
        let default = ScheduleChoice::new(ScheduleKind::Ve, None).unwrap();
        assert_eq!(default.build().sigma(0.0), Ve::default().sigma(0.0));
    }

    #[test]
    fn invalid_options_are_named() {
        let name = |e: Error| match e {
            Error::InvalidOption { name, .. } => name,
            other => panic!("{other:?}"),
        };
        assert_eq!(name(CondOt::new(1.0).unwrap_err()), "sigma_min");
        assert_eq!(name(CondOt::new(-0.1).unwrap_err()), "sigma_min");
        assert_eq!(name(VpLinear::new(0.1, 0.05).unwrap_err()), "beta1");
        assert_eq!(name(VpLinear::new(f64::NAN, 1.0).unwrap_err()), "beta0");
        assert_eq!(name(Ve::new(1.0, 0.5).unwrap_err()), "sigma_max");
        assert_eq!(name(Edm::new(0.002, 80.0, 0.0, 0.5).unwrap_err()), "rho");
        assert_eq!(
            name(Edm::new(0.002, 80.0, 7.0, -1.0).unwrap_err()),
            "sigma_data"
        );
        assert_eq!(name(VpCosine::new(-1.0).unwrap_err()), "epsilon");
    }
}
