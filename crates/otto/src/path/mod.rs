//! The path axis: how a point x_t is built from a coupled pair (x0, x1) and Gaussian noise, and the
//! conditional quantities (velocity, score) the objectives regress onto.
//!
//! # Time convention (the one place it is written down)
//!
//! **t = 0 is the source (noise, or the first data set), t = 1 is the target (data)**, as in
//! torchcfm and facebookresearch/flow_matching. Time always runs in [0, 1] and samplers integrate
//! from 0 to 1 to generate. Diffusion schedules are rewritten in this convention: the usual
//! diffusion time s (s = 0 data, s = 1 noise) is s = 1 − t, so a variance-preserving α_t *rises*
//! from ≈ 0 to 1 (see [`schedule::VpLinear`]). Other conventions (EDM's noise level σ = σ_t/α_t,
//! the diffusion time s, log-SNR λ = log(α_t/σ_t)) are converted at the edges of the library, never
//! inside paths or samplers.
//!
//! # Paths
//!
//! Every path here is affine in its three inputs:
//! `x_t = a_t x0 + b_t x1 + c_t ε`, `ε ~ N(0, I)`, with conditional velocity
//! `u_t = ȧ_t x0 + ḃ_t x1 + ċ_t ε` (the time derivative at fixed x0, x1, ε) and conditional score
//! `∇ log p_t(x_t | ·) = −ε / c_t` (the score of the Gaussian N(a_t x0 + b_t x1, c_t² I)).
//! - [`AffinePath`]: the affine Gaussian path `x_t = α_t x1 + σ_t x0` of diffusion and flow matching
//!   from noise (MATH.md §1). Its source x0 ~ N(0, I) *is* the noise: ε = x0, a_t = 0, b_t = α_t,
//!   c_t = σ_t, and it conditions on x1 only.
//! - [`Interpolant`]: torchcfm's source-to-target interpolants (MATH.md §2): `μ_t = t x1 + (1 − t) x0`
//!   plus fresh noise `σ_t ε`, σ_t constant (I-CFM / OT-CFM) or `σ √(t(1 − t))` (Brownian bridge,
//!   SB-CFM / SF2M). x0 is a data point, ε is drawn independently.
//!
//! In a [`PathSample`], `x0` is always the source point as given, `x1` the target point and `noise`
//! the ε above (a copy of `x0` for [`AffinePath`]).

pub mod affine;
pub mod parameterization;
pub mod preconditioning;
pub mod schedule;

pub use affine::{AffinePath, Interpolant, InterpolantNoise};
pub use parameterization::{Coefficients, Conversion, Parameterization, SchedulePoint};
pub use preconditioning::EdmPreconditioning;
pub use schedule::{
    CondOt, Edm, Level, Schedule, ScheduleChoice, ScheduleKind, SubVp, Ve, VpCosine, VpLinear,
    VpTrig,
};

use otto_ot::Matrix;
use rand::{Rng, RngCore};
use rand_distr::StandardNormal;

use crate::error::{check_finite, Error, Result};

/// A batch of training points drawn along a path: row i holds `x_t` at time `t[i]` built from the
/// coupled pair (`x0` row i, `x1` row i) and the standard normal `noise` row i (see the module
/// documentation for what `noise` is on each path).
#[derive(Debug, Clone, PartialEq)]
pub struct PathSample {
    /// The time of each row, in [0, 1].
    pub t: Vec<f64>,
    /// `x_t = a_t x0 + b_t x1 + c_t ε`.
    pub xt: Matrix,
    /// The source points.
    pub x0: Matrix,
    /// The target points.
    pub x1: Matrix,
    /// The standard normal ε of each row.
    pub noise: Matrix,
}

/// The coefficients of `x_t = a_t x0 + b_t x1 + c_t ε` at one time, and their time derivatives.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PathCoefficients {
    /// a_t, the weight of the source point.
    pub source: f64,
    /// b_t, the weight of the target point.
    pub target: f64,
    /// c_t, the noise scale.
    pub noise: f64,
    /// ȧ_t.
    pub d_source: f64,
    /// ḃ_t.
    pub d_target: f64,
    /// ċ_t.
    pub d_noise: f64,
}

/// A conditional probability path `x_t = a_t x0 + b_t x1 + c_t ε` (module documentation).
pub trait ConditionalPath: Send + Sync {
    /// a_t, b_t, c_t and their derivatives at time t.
    fn coefficients(&self, t: f64) -> PathCoefficients;

    /// True when the source point is itself the Gaussian noise (ε = x0, affine Gaussian paths);
    /// false when ε is drawn independently of x0.
    fn noise_is_source(&self) -> bool;

    /// Draws a [`PathSample`] at the given times: `t[i]` for row i of the coupled batch `x0`, `x1`
    /// (both n×d), with fresh noise from `rng` unless [`ConditionalPath::noise_is_source`].
    ///
    /// Errors: [`Error::Shape`] when the shapes disagree, [`Error::Empty`] for an empty batch,
    /// [`Error::NonFinite`] for non-finite inputs, [`Error::InvalidOption`] for a time outside [0, 1].
    fn sample_at(
        &self,
        x0: &Matrix,
        x1: &Matrix,
        t: Vec<f64>,
        rng: &mut dyn RngCore,
    ) -> Result<PathSample> {
        check_batch(x0, x1)?;
        let (n, d) = x0.shape();
        if t.len() != n {
            return Err(Error::Shape {
                what: "times t",
                expected: format!("{n} entries (one per row of x0)"),
                got: format!("{} entries", t.len()),
            });
        }
        if let Some(&bad) = t.iter().find(|t| !(0.0..=1.0).contains(*t)) {
            return Err(Error::InvalidOption {
                name: "t",
                value: bad.to_string(),
                reason: "times must lie in [0, 1]",
            });
        }
        let noise = if self.noise_is_source() {
            x0.clone()
        } else {
            Matrix::from_fn(n, d, |_, _| rng.sample(StandardNormal))
        };
        let mut sample = PathSample {
            t,
            xt: Matrix::zeros(n, d),
            x0: x0.clone(),
            x1: x1.clone(),
            noise,
        };
        sample.xt = per_row(self, &sample, |c, x0, x1, eps| {
            c.source * x0 + c.target * x1 + c.noise * eps
        });
        Ok(sample)
    }

    /// Draws a [`PathSample`] with `t ~ U(0, 1)` independently per row (torchcfm, Lipman et al.
    /// 2023), then noise as [`ConditionalPath::sample_at`] does. Same errors.
    fn sample(&self, x0: &Matrix, x1: &Matrix, rng: &mut dyn RngCore) -> Result<PathSample> {
        let t = (0..x0.rows()).map(|_| rng.gen::<f64>()).collect();
        self.sample_at(x0, x1, t, rng)
    }

    /// The conditional velocity `u_t = ȧ_t x0 + ḃ_t x1 + ċ_t ε` of every row: the flow-matching
    /// regression target (Lipman et al. 2023, eq. 9; Tong et al. 2024, Table 1).
    fn conditional_velocity(&self, sample: &PathSample) -> Matrix {
        per_row(self, sample, |c, x0, x1, eps| {
            c.d_source * x0 + c.d_target * x1 + c.d_noise * eps
        })
    }

    /// The conditional score `∇ log p_t(x_t | x0, x1) = −ε / c_t` of every row (for
    /// [`Interpolant`] with the Brownian bridge this is SF2M's score target
    /// `(μ_t − x_t)/(σ² t(1 − t))`, Tong et al. 2024, eq. 9). Infinite where c_t = 0.
    fn conditional_score(&self, sample: &PathSample) -> Matrix {
        per_row(self, sample, |c, _, _, eps| -eps / c.noise)
    }
}

/// Checks that the coupled batch `x0`, `x1` is non-empty, equally shaped and finite (errors as
/// [`ConditionalPath::sample_at`]).
pub(crate) fn check_batch(x0: &Matrix, x1: &Matrix) -> Result<()> {
    if x0.shape() != x1.shape() {
        return Err(Error::Shape {
            what: "coupled batch x1",
            expected: format!("{}×{} (the shape of x0)", x0.rows(), x0.cols()),
            got: format!("{}×{}", x1.rows(), x1.cols()),
        });
    }
    if x0.rows() == 0 || x0.cols() == 0 {
        return Err(Error::Empty { what: "x0" });
    }
    check_finite("x0", x0.as_slice())?;
    check_finite("x1", x1.as_slice())
}

/// Builds the matrix whose entry (i, j) is `f(coefficients(t_i), x0_ij, x1_ij, ε_ij)`.
fn per_row<P: ConditionalPath + ?Sized>(
    path: &P,
    sample: &PathSample,
    f: impl Fn(&PathCoefficients, f64, f64, f64) -> f64,
) -> Matrix {
    let (n, d) = sample.xt.shape();
    let mut out = Matrix::zeros(n, d);
    for (i, &t) in sample.t.iter().enumerate() {
        let c = path.coefficients(t);
        let (x0, x1, eps) = (sample.x0.row(i), sample.x1.row(i), sample.noise.row(i));
        for (j, o) in out.row_mut(i).iter_mut().enumerate() {
            *o = f(&c, x0[j], x1[j], eps[j]);
        }
    }
    out
}
