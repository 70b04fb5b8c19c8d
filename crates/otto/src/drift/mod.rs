//! Drift fields: batch estimators V(x; y⁺, y⁻) of the velocity that moves generated points x
//! toward data y⁺ and away from negatives y⁻ (by default the generated points themselves). A
//! drifting model (Deng, Li, Li, Du & He 2026, "Generative Modeling via Drifting", arXiv
//! 2602.04770) trains a one-step generator f by regressing f(ε) onto sg(f(ε) + V(f(ε))); read as
//! particle flows x ← x + ηV(x), the fields are Wasserstein gradient flows or approximations of
//! them (Gretton et al. 2026, arXiv 2605.05118). Every variant is antisymmetric: V_{p,p} = 0.
//!
//! | variant | field | source |
//! |---|---|---|
//! | `deng` | Alg. 2: Laplace kernel exp(−‖x − y‖/τ), A = √(softmax_row · softmax_col) over [y⁺ ∣ y⁻] jointly, V = m⁻ A⁺y⁺ − m⁺ A⁻y⁻ | Deng et al., Alg. 2 |
//! | `official` | the release's `drift_loss`: distances over one feature scale, temperatures R each normalized to unit RMS and summed, affinity floor 10⁻³ | lambertae/drifting `drift_loss.py` |
//! | `sinkhorn-proxy` | as `deng`, y⁺ and y⁻ normalized separately | Gretton et al. 2026 |
//! | `mmd` | E_{y⁺}∇ₓk(x, y) − E_{y⁻}∇ₓk(x, y), Gaussian or Laplace k | the MMD flow (Arbel et al. 2019) |
//! | `kde-score` | σ²(∇log p_σ − ∇log q_σ), Gaussian Parzen estimates | MATH.md §5 |
//! | `sinkhorn-divergence` | T^ε_{q→p}(x) − T^ε_{q→q}(x), barycentric projections of entropic plans | Feydy et al. 2019 |
//!
//! Formulas and the differences between the paper and the release: MATH.md §5. Points are f32,
//! row-major (the network's precision); the kernel variants stream their pairwise work
//! (`affinity`), so memory stays O((N + M)·d); `sinkhorn-divergence` solves two dense entropic
//! problems with [`otto_ot`] (O(N·M) memory).

mod affinity;
mod mmd;
mod sinkhorn_divergence;
#[cfg(test)]
mod tests;

use affinity::{Affinity, Block, Columns, Normalization, Profile, Side, Sums};

/// Why a drift field cannot be evaluated.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DriftError {
    /// An unknown variant name.
    #[error("unknown drift variant '{0}'; valid variants are: {valid}", valid = Variant::ALL.map(|v| v.name()).join(", "))]
    UnknownVariant(String),
    /// An unknown MMD kernel name.
    #[error("unknown kernel '{0}'; valid kernels are: gaussian, laplace")]
    UnknownKernel(String),
    /// A temperature is not positive and finite.
    #[error("temperature must be positive and finite, got {0}")]
    Temperature(f64),
    /// A variant that takes one temperature got several (or none).
    #[error(
        "the {variant} field takes exactly one temperature, got {got}; only official sums several"
    )]
    TemperatureCount {
        /// The variant.
        variant: &'static str,
        /// How many were given.
        got: usize,
    },
    /// A point set is too small, or its length is not a multiple of the dimension.
    #[error("{what}: {reason}")]
    Points {
        /// x, positives or negatives.
        what: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// Guidance needs a field whose negatives can carry weights.
    #[error("classifier-free guidance weights the negatives of deng, official or sinkhorn-proxy, not {0}")]
    Guidance(&'static str),
    /// The guidance scale is below 1.
    #[error("the guidance scale α must be ≥ 1 and finite, got {0}")]
    Alpha(f64),
    /// An entropic problem of `sinkhorn-divergence` did not converge.
    #[error("sinkhorn-divergence: {0}")]
    Sinkhorn(String),
}

/// A drift field's kind; see the module table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Variant {
    /// The paper's Alg. 2.
    Deng,
    /// The official release's multi-temperature, feature-normalized field.
    Official,
    /// Alg. 2 with positives and negatives normalized separately.
    SinkhornProxy,
    /// The MMD gradient flow's velocity.
    Mmd,
    /// Difference of Gaussian kernel-density scores, times σ².
    KdeScore,
    /// The Sinkhorn divergence's gradient flow velocity.
    SinkhornDivergence,
}

impl Variant {
    /// Every variant.
    pub const ALL: [Variant; 6] = [
        Variant::Deng,
        Variant::Official,
        Variant::SinkhornProxy,
        Variant::Mmd,
        Variant::KdeScore,
        Variant::SinkhornDivergence,
    ];

    /// The command-line name.
    pub fn name(&self) -> &'static str {
        match self {
            Variant::Deng => "deng",
            Variant::Official => "official",
            Variant::SinkhornProxy => "sinkhorn-proxy",
            Variant::Mmd => "mmd",
            Variant::KdeScore => "kde-score",
            Variant::SinkhornDivergence => "sinkhorn-divergence",
        }
    }

    /// The default temperatures: the release's R ∈ {0.02, 0.05, 0.2} for `official` (relative to
    /// the feature scale); the notebook's τ = 0.05 for `deng` and `sinkhorn-proxy` (absolute; data
    /// in [−1, 1]); bandwidth 0.1 for `mmd` and `kde-score`; ε = 0.01 for `sinkhorn-divergence`.
    pub fn default_temperatures(&self) -> &'static [f64] {
        match self {
            Variant::Official => &[0.02, 0.05, 0.2],
            Variant::Deng | Variant::SinkhornProxy => &[0.05],
            Variant::Mmd | Variant::KdeScore => &[0.1],
            Variant::SinkhornDivergence => &[0.01],
        }
    }
}

impl std::str::FromStr for Variant {
    type Err = DriftError;

    fn from_str(s: &str) -> Result<Self, DriftError> {
        Variant::ALL
            .into_iter()
            .find(|v| v.name() == s)
            .ok_or_else(|| DriftError::UnknownVariant(s.to_string()))
    }
}

/// The kernel of the `mmd` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MmdKernel {
    /// k = exp(−‖x − y‖²/(2h²)), h the temperature.
    #[default]
    Gaussian,
    /// k = exp(−‖x − y‖/τ).
    Laplace,
}

impl std::str::FromStr for MmdKernel {
    type Err = DriftError;

    fn from_str(s: &str) -> Result<Self, DriftError> {
        match s {
            "gaussian" => Ok(MmdKernel::Gaussian),
            "laplace" => Ok(MmdKernel::Laplace),
            _ => Err(DriftError::UnknownKernel(s.to_string())),
        }
    }
}

/// A field evaluated on a batch.
#[derive(Debug, Clone)]
pub struct Drift {
    /// V(x_i), row-major n × d, in the data's units.
    pub velocity: Vec<f32>,
    /// The drifting loss weight: the regression ‖f − sg(x + V)‖² is multiplied by it. 1, except
    /// `official`, whose loss lives in coordinates divided by the feature scale s/√D (weight
    /// D/s²), so that with one temperature the loss is exactly 1.
    pub loss_weight: f32,
    /// Per temperature, the drift magnitude: `official`'s λ_R² = mean F_R² in normalized
    /// coordinates (the quantity that falls during training), otherwise mean V² (the loss).
    pub magnitudes: Vec<f64>,
    /// `official`'s feature scale s (mean distance from x to all targets).
    pub feature_scale: Option<f64>,
    /// Rows whose field is lost to round-off: m⁺m⁻ below f32's ε (V = m⁺m⁻(bary⁺ − bary⁻) is
    /// then under ε times the data's diameter, so x + V rounds to x: the kernel exp(−d/τ) has
    /// underflowed at the data's scale); mmd: the largest kernel value toward the positives
    /// below ε (no attraction left).
    pub dead_rows: usize,
    /// When rows are dead, a temperature at which none would be (τ scaled so that the worst
    /// row's largest exponent is −8).
    pub suggested_temperature: Option<f64>,
}

/// A drift field: variant, temperatures and (for `mmd`) kernel.
#[derive(Debug, Clone, PartialEq)]
pub struct DriftField {
    variant: Variant,
    temperatures: Vec<f64>,
    kernel: MmdKernel,
}

/// The distance penalty that masks x_i's own column in the paper (`dist_neg += eye · 1e6`).
const DENG_MASK: f32 = 1e6;
/// The release's mask on the normalized distance (`mask_val = 100`).
const OFFICIAL_MASK: f32 = 100.0;
/// The release's floor √(10⁻⁶) on the affinity.
const OFFICIAL_FLOOR: f32 = 1e-3;

impl DriftField {
    /// The field of `variant` at its default temperatures.
    pub fn new(variant: Variant) -> Self {
        Self {
            variant,
            temperatures: variant.default_temperatures().to_vec(),
            kernel: MmdKernel::default(),
        }
    }

    /// Sets the temperatures (τ, bandwidths or ε; `official`'s R relative to the feature scale).
    pub fn temperatures(mut self, temperatures: &[f64]) -> Result<Self, DriftError> {
        if let Some(&bad) = temperatures.iter().find(|t| !(**t > 0.0 && t.is_finite())) {
            return Err(DriftError::Temperature(bad));
        }
        if self.variant != Variant::Official && temperatures.len() != 1 || temperatures.is_empty() {
            return Err(DriftError::TemperatureCount {
                variant: self.variant.name(),
                got: temperatures.len(),
            });
        }
        self.temperatures = temperatures.to_vec();
        Ok(self)
    }

    /// Sets the kernel of the `mmd` field (ignored by the others).
    pub fn kernel(mut self, kernel: MmdKernel) -> Self {
        self.kernel = kernel;
        self
    }

    /// The variant.
    pub fn variant(&self) -> Variant {
        self.variant
    }

    /// The temperatures.
    pub fn temperature_list(&self) -> &[f64] {
        &self.temperatures
    }

    /// V at the rows of `x` (n × dim) toward `positives` (m⁺ × dim) and away from `negatives`
    /// (m⁻ × dim), or, when `negatives` is `None`, away from the other rows of x (self-masked).
    /// `official` always counts x's own rows (self-masked) among the negatives, as released, and
    /// adds `negatives` to them.
    ///
    /// Errors: fewer than 2 points in a set, lengths not multiples of `dim`, non-finite
    /// coordinates, or (sinkhorn-divergence) an entropic problem that does not converge.
    pub fn evaluate(
        &self,
        x: &[f32],
        positives: &[f32],
        negatives: Option<&[f32]>,
        dim: usize,
    ) -> Result<Drift, DriftError> {
        self.evaluate_with(x, positives, negatives, None, dim)
    }

    /// Drifting's classifier-free guidance (Deng et al. 2026, §CFG; MATH.md §5): the negatives of
    /// a class are the generated points x themselves (self-masked) and `unconditional` data
    /// points of any class, each of weight w = (α − 1)(N_neg − 1)/N_unc, multiplying its
    /// affinities after the softmaxes (as released), so that the field targets the mixture
    /// q̃ = (1 − γ)q + γ p(·|∅) with α = 1/(1 − γ). `deng`, `official` and `sinkhorn-proxy`.
    pub fn evaluate_guided(
        &self,
        x: &[f32],
        positives: &[f32],
        unconditional: &[f32],
        alpha: f64,
        dim: usize,
    ) -> Result<Drift, DriftError> {
        if !matches!(
            self.variant,
            Variant::Deng | Variant::Official | Variant::SinkhornProxy
        ) {
            return Err(DriftError::Guidance(self.variant.name()));
        }
        check_points("unconditional", unconditional, dim)?;
        if !(alpha >= 1.0 && alpha.is_finite()) {
            return Err(DriftError::Alpha(alpha));
        }
        let (own, unc) = ((x.len() / dim) as f64, (unconditional.len() / dim) as f64);
        let weight = ((alpha - 1.0) * (own - 1.0) / unc) as f32;
        self.evaluate_with(x, positives, None, Some((unconditional, weight)), dim)
    }

    fn evaluate_with(
        &self,
        x: &[f32],
        positives: &[f32],
        negatives: Option<&[f32]>,
        guidance: Option<(&[f32], f32)>,
        dim: usize,
    ) -> Result<Drift, DriftError> {
        check_points("x", x, dim)?;
        check_points("positives", positives, dim)?;
        if let Some(neg) = negatives {
            check_points("negatives", neg, dim)?;
        }
        let temperatures: Vec<f32> = self.temperatures.iter().map(|&t| t as f32).collect();
        let mut blocks = vec![Block {
            points: positives,
            side: Side::Positive,
            offsets: None,
            self_masked: false,
            weight: 1.0,
        }];
        let own = Block {
            points: x,
            side: Side::Negative,
            offsets: None,
            self_masked: true,
            weight: 1.0,
        };
        let given = |points, weight| Block {
            points,
            side: Side::Negative,
            offsets: None,
            self_masked: false,
            weight,
        };
        match (guidance, self.variant, negatives) {
            (Some((unconditional, weight)), ..) => {
                blocks.extend([own, given(unconditional, weight)])
            }
            (None, Variant::Official, Some(neg)) => blocks.extend([own, given(neg, 1.0)]),
            (None, _, Some(neg)) => blocks.push(given(neg, 1.0)),
            (None, _, None) => blocks.push(own),
        }
        let joint = |normalization, profile, penalty, floor, temperatures: &[f32]| {
            Affinity {
                profile,
                normalization,
                temperatures,
                floor,
                penalty,
            }
            .sums(x, &Columns::new(&blocks, dim))
        };
        let drift = match self.variant {
            Variant::Deng | Variant::SinkhornProxy => {
                let normalization = if self.variant == Variant::Deng {
                    Normalization::Joint
                } else {
                    Normalization::PerSide
                };
                let sums = joint(
                    normalization,
                    Profile::Distance { scale: 1.0 },
                    DENG_MASK,
                    0.0,
                    &temperatures,
                );
                finish(
                    mean_shift_difference(&sums[0]),
                    &sums[0],
                    self.temperatures[0],
                )
            }
            Variant::Official => {
                let scale = affinity::mean_distance(x, &Columns::new(&blocks, dim)) as f64;
                let sums = joint(
                    Normalization::Joint,
                    Profile::Distance {
                        scale: 1.0 / scale.max(1e-3) as f32,
                    },
                    OFFICIAL_MASK,
                    OFFICIAL_FLOOR,
                    &temperatures,
                );
                official(&sums, scale, dim)
            }
            Variant::KdeScore => {
                // The Parzen window N(0, σ²): logits −d²/(2σ²), i.e. temperature σ².
                let sigma = self.temperatures[0] as f32;
                let sums = joint(
                    Normalization::Row,
                    Profile::HalfSquared,
                    f32::INFINITY,
                    0.0,
                    &[sigma * sigma],
                );
                finish(
                    barycenter_difference(&sums[0]),
                    &sums[0],
                    self.temperatures[0],
                )
            }
            Variant::Mmd => mmd::field(x, &blocks, dim, self.kernel, temperatures[0]),
            Variant::SinkhornDivergence => {
                sinkhorn_divergence::field(x, positives, negatives, dim, self.temperatures[0])?
            }
        };
        Ok(drift)
    }
}

/// Fails unless `points` holds at least 2 finite rows of `dim` coordinates.
fn check_points(what: &'static str, points: &[f32], dim: usize) -> Result<(), DriftError> {
    let bad = |reason: String| Err(DriftError::Points { what, reason });
    if dim == 0 || !points.len().is_multiple_of(dim) {
        return bad(format!(
            "{} numbers are not rows of dimension {dim}",
            points.len()
        ));
    }
    if points.len() / dim < 2 {
        return bad(format!(
            "{} point(s); a drift field needs at least 2",
            points.len() / dim
        ));
    }
    if let Some(k) = points.iter().position(|v| !v.is_finite()) {
        return bad(format!(
            "row {} holds a non-finite value ({})",
            k / dim,
            points[k]
        ));
    }
    Ok(())
}

/// V_i = m⁻_i s⁺_i − m⁺_i s⁻_i (Alg. 2's W⁺y⁺ − W⁻y⁻).
fn mean_shift_difference(sums: &Sums) -> Vec<f32> {
    combine(sums, |mp, mn| (mn, mp))
}

/// V_i = s⁺_i/m⁺_i − s⁻_i/m⁻_i (difference of barycenters).
fn barycenter_difference(sums: &Sums) -> Vec<f32> {
    combine(sums, |mp, mn| (1.0 / mp, 1.0 / mn))
}

/// V_i = c⁺ s⁺_i − c⁻ s⁻_i with (c⁺, c⁻) = `coefficients(m⁺_i, m⁻_i)`.
fn combine(sums: &Sums, coefficients: impl Fn(f32, f32) -> (f32, f32)) -> Vec<f32> {
    let d = sums.dim;
    let mut v = vec![0.0f32; sums.n * d];
    for (i, vi) in v.chunks_exact_mut(d).enumerate() {
        let (cp, cn) = coefficients(sums.mass[0][i], sums.mass[1][i]);
        for (k, vik) in vi.iter_mut().enumerate() {
            *vik = cp * sums.moment[0][i * d + k] - cn * sums.moment[1][i * d + k];
        }
    }
    v
}

/// Mean of the squares of `v`.
fn mean_square(v: &[f32]) -> f64 {
    v.iter().map(|&x| (x as f64) * (x as f64)).sum::<f64>() / v.len().max(1) as f64
}

/// A one-temperature field with its loss (mean V²) and dead rows.
fn finish(velocity: Vec<f32>, sums: &Sums, temperature: f64) -> Drift {
    let dead: Vec<bool> = (0..sums.n)
        .map(|i| sums.mass[0][i] * sums.mass[1][i] < f32::EPSILON)
        .collect();
    one_temperature(velocity, &dead, &sums.top_exponent, (temperature, 1))
}

/// A one-temperature field: its loss (mean V²), its `dead` rows and the temperature that would
/// revive them from their `exponents` (which scale as τ^(−power)).
fn one_temperature(
    velocity: Vec<f32>,
    dead: &[bool],
    exponents: &[f32],
    (temperature, power): (f64, i32),
) -> Drift {
    let (dead_rows, suggested_temperature) = dead_rows(dead, exponents, temperature, power);
    Drift {
        magnitudes: vec![mean_square(&velocity)],
        velocity,
        loss_weight: 1.0,
        feature_scale: None,
        dead_rows,
        suggested_temperature,
    }
}

/// The exponent a suggested temperature lifts the worst dead row to.
const LIVELY_EXPONENT: f64 = -8.0;

/// The count of the `dead` rows and, if any, the temperature that would lift the worst of their
/// `exponents` (which scale as τ^(−power)) to e^−8.
fn dead_rows(
    dead: &[bool],
    exponents: &[f32],
    temperature: f64,
    power: i32,
) -> (usize, Option<f64>) {
    let worst = dead
        .iter()
        .zip(exponents)
        .filter(|(d, _)| **d)
        .fold(None, |w: Option<f64>, (_, &e)| {
            Some(w.map_or(-(e as f64), |w| w.max(-(e as f64))))
        });
    let count = dead.iter().filter(|d| **d).count();
    let suggested = worst.map(|worst| {
        if worst.is_finite() {
            temperature * (worst / -LIVELY_EXPONENT).max(1.0).powf(1.0 / power as f64)
        } else {
            f64::INFINITY
        }
    });
    (count, suggested)
}

/// The release's field: per temperature R, F_R = m⁻s⁺ − m⁺s⁻, λ_R² = max(mean (F_R/c)², 10⁻⁸)
/// in coordinates divided by c = max(s/√D, 10⁻³), and V = Σ_R F_R/λ_R; the loss weight 1/c².
fn official(sums: &[Sums], scale: f64, dim: usize) -> Drift {
    let coordinate_scale = (scale / (dim as f64).sqrt()).max(1e-3);
    let mut velocity = vec![0.0f32; sums[0].n * dim];
    let mut magnitudes = Vec::with_capacity(sums.len());
    for s in sums {
        let f = mean_shift_difference(s);
        let lambda2 = mean_square(&f) / (coordinate_scale * coordinate_scale);
        magnitudes.push(lambda2);
        let inv = (1.0 / lambda2.max(1e-8).sqrt()) as f32;
        velocity
            .iter_mut()
            .zip(&f)
            .for_each(|(v, fi)| *v += fi * inv);
    }
    Drift {
        velocity,
        loss_weight: (1.0 / (coordinate_scale * coordinate_scale)) as f32,
        magnitudes,
        feature_scale: Some(scale),
        dead_rows: 0,
        suggested_temperature: None,
    }
}
