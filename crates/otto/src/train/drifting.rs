//! A drifting model's training step (Deng et al. 2026, "Generative Modeling via Drifting",
//! Alg. 1): ε ~ N(0, I), x = f(ε), and the regression of f(ε) onto sg(x + V(x; y⁺, x)) with y⁺
//! a fresh data batch and the generated points themselves (self-masked) as negatives.
//!
//! Class-conditional training with classifier-free guidance (MATH.md §5): per class c the
//! generator sees [ε, onehot(c)] and a guidance scale α_c ~ p(α) ∝ α^(−k) on [1, 4] (in the time
//! slot of its input); the field of class c pulls its generated points toward data of class c
//! and pushes them from themselves and from N_unc data points of any class weighted by
//! w = (α_c − 1)(N_c − 1)/N_unc ([`DriftField::evaluate_guided`]). Sampling is one pass with a
//! scalar α.

use otto_ot::Matrix;
use rand::{Rng, RngCore};
use rand_chacha::ChaCha8Rng;

use super::config::TrainConfig;
use super::trainer::TrainError;
use crate::data::split::bootstrap;
use crate::data::{DataSource, Dataset, Labelled};
use crate::drift::{Drift, DriftError, DriftField, MmdKernel, Variant};
use crate::network::{Mlp, Workspace};
use crate::objective::Regression;

/// The fraction of generated points whose field underflowed that stops a run: the kernel has
/// underflowed at the data's scale. Fewer are reported ([`DriftStats`]) and training goes on:
/// the shared generator still moves those points.
pub const DEAD_FRACTION: f64 = 0.5;

/// What one drifting step reports besides its loss.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DriftStats {
    /// Per temperature, the drift magnitude ([`Drift::magnitudes`], averaged over classes).
    pub magnitudes: Vec<f64>,
    /// Generated points whose field underflowed ([`Drift::dead_rows`]).
    pub dead_rows: usize,
    /// A temperature at which none would, when some did.
    pub suggested_temperature: Option<f64>,
}

impl DriftStats {
    /// Adds another class's (or step's) statistics, magnitudes weighted by `share`.
    pub fn add(&mut self, other: &DriftStats, share: f64) {
        self.magnitudes.resize(other.magnitudes.len(), 0.0);
        for (m, v) in self.magnitudes.iter_mut().zip(&other.magnitudes) {
            *m += share * v;
        }
        self.dead_rows += other.dead_rows;
        self.suggested_temperature = match (self.suggested_temperature, other.suggested_temperature)
        {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }
}

impl From<&Drift> for DriftStats {
    fn from(drift: &Drift) -> Self {
        Self {
            magnitudes: drift.magnitudes.clone(),
            dead_rows: drift.dead_rows,
            suggested_temperature: drift.suggested_temperature,
        }
    }
}

/// The largest guidance scale drawn in training (Deng et al.: α ∈ [1, 4]).
pub const ALPHA_MAX: f64 = 4.0;

/// The labelled training and test sets of a class-conditional run.
pub struct Classes {
    /// Rows trained on.
    pub train: Labelled,
    /// Held-out rows (a fresh draw for built-in data sets).
    pub test: Labelled,
    /// The exponent k of p(α) ∝ α^(−k).
    pub alpha_exponent: f64,
}

/// A drifting recipe: the field, the batch sizes and, for class-conditional runs, the classes.
pub struct Drifting {
    /// The drift field.
    pub field: DriftField,
    /// Generated points per step.
    pub gen_batch: usize,
    /// Data points per step.
    pub data_batch: usize,
    /// The labelled data of a class-conditional run.
    pub classes: Option<Classes>,
}

/// Points as the network's f32 rows.
fn to_f32(m: &Matrix) -> Vec<f32> {
    m.as_slice().iter().map(|&v| v as f32).collect()
}

/// A draw of p(α) ∝ α^(−k) on [1, [`ALPHA_MAX`]] by inverting its distribution function
/// F(α) = (1 − α^(1−k))/(1 − A^(1−k)) (k = 1: F = ln α / ln A).
pub fn draw_alpha(k: f64, rng: &mut impl Rng) -> f64 {
    let u: f64 = rng.gen();
    if (k - 1.0).abs() < 1e-12 {
        return ALPHA_MAX.powf(u);
    }
    let top = ALPHA_MAX.powf(1.0 - k);
    (1.0 - u * (1.0 - top)).powf(1.0 / (1.0 - k))
}

impl Drifting {
    /// The recipe of `config`; labelled training data are drawn with `seed`.
    pub(super) fn from_config(config: &TrainConfig, seed: u64) -> Result<Self, TrainError> {
        let bad = |field: &str, e: String| TrainError::Config(format!("{field}: {e}"));
        for (field, value) in [
            ("gen_batch", config.gen_batch),
            ("data_batch", config.data_batch),
        ] {
            if value < 2 {
                return Err(bad(
                    field,
                    format!("a drift field needs at least 2 points per batch, got {value}"),
                ));
            }
        }
        if config.noise_dim == 0 {
            return Err(bad("noise_dim", "must be at least 1".into()));
        }
        let variant: Variant = if config.drift.is_empty() {
            Variant::Deng
        } else {
            config
                .drift
                .parse()
                .map_err(|e: DriftError| bad("drift", e.to_string()))?
        };
        let mut field = DriftField::new(variant);
        if !config.temperatures.is_empty() {
            field = field
                .temperatures(&config.temperatures)
                .map_err(|e| bad("temperatures", e.to_string()))?;
        }
        if !config.kernel.is_empty() {
            let kernel: MmdKernel = config
                .kernel
                .parse()
                .map_err(|e: DriftError| bad("kernel", e.to_string()))?;
            field = field.kernel(kernel);
        }
        let classes = if config.conditional || config.label_column.is_some() {
            if !matches!(
                variant,
                Variant::Deng | Variant::Official | Variant::SinkhornProxy
            ) {
                return Err(bad(
                    "drift",
                    format!("class-conditional training with guidance needs deng, official or sinkhorn-proxy, not {}", variant.name()),
                ));
            }
            if !(config.cfg_exponent.is_finite() && config.cfg_exponent >= 0.0) {
                return Err(bad(
                    "cfg_exponent",
                    format!("must be ≥ 0 and finite, got {}", config.cfg_exponent),
                ));
            }
            Some(Self::labelled(config, seed)?)
        } else {
            None
        };
        if let Some(c) = &classes {
            let k = c.train.classes;
            if config.gen_batch < 2 * k || config.data_batch < 2 * k {
                return Err(bad(
                    "gen_batch",
                    format!("{k} classes need at least 2 generated and 2 data points each per step (gen_batch and data_batch ≥ {})", 2 * k),
                ));
            }
        }
        Ok(Self {
            field,
            gen_batch: config.gen_batch,
            data_batch: config.data_batch,
            classes,
        })
    }

    /// The labelled sets of a conditional configuration: a built-in labelled data set (training
    /// set of `train_size` points, or 100 000, and a fresh test draw) or a file with
    /// `label_column`, split by `test_fraction`.
    fn labelled(config: &TrainConfig, seed: u64) -> Result<Classes, TrainError> {
        let source: DataSource = config
            .target
            .parse()
            .map_err(|e| TrainError::Config(format!("target: {e}")))?;
        let label_error = |e: crate::data::LabelError| TrainError::Config(format!("target: {e}"));
        let n = if config.train_size > 0 {
            config.train_size
        } else {
            100_000
        };
        let (train, test) = match source {
            DataSource::Toy(_) => (
                Labelled::new(&source, config.label_column, n, seed).map_err(label_error)?,
                Labelled::new(&source, config.label_column, 10_000, seed ^ 0x7e57)
                    .map_err(label_error)?,
            ),
            DataSource::File { .. } => {
                let all =
                    Labelled::new(&source, config.label_column, 0, seed).map_err(label_error)?;
                all.split(config.test_fraction, config.seed)
            }
        };
        if let Some(empty) = (0..train.classes).find(|&c| train.labels.iter().all(|&l| l != c)) {
            return Err(TrainError::Data(format!(
                "target: class {empty} of 0..{} has no training rows; labels must be 0..K − 1 with every class present",
                train.classes
            )));
        }
        Ok(Classes {
            train,
            test,
            alpha_exponent: config.cfg_exponent,
        })
    }

    /// The number of classes of a conditional run.
    pub fn class_count(&self) -> Option<usize> {
        self.classes.as_ref().map(|c| c.train.classes)
    }

    /// The target data set of the recipe: the labelled rows of a conditional run (without their
    /// label column), else `target` itself.
    pub(super) fn target(&self, target: Dataset) -> Dataset {
        match &self.classes {
            Some(c) => Dataset::Rows {
                train: c.train.points.clone(),
                test: c.test.points.clone(),
            },
            None => target,
        }
    }

    /// Fails with a message naming a temperature that works when the kernel has underflowed at
    /// the data's scale: at least [`DEAD_FRACTION`] of the rows lost their field.
    fn check_dead_rows(&self, drift: &Drift, n: usize, step: usize) -> Result<(), TrainError> {
        match drift.suggested_temperature {
            Some(tau) if drift.dead_rows as f64 >= DEAD_FRACTION * n as f64 => Err(TrainError::Data(format!(
                "drift: at step {step}, the kernel exp(−d/τ) underflows for {} of the {n} generated points at τ = {} (their drift would silently be 0); the data's scale needs --temperatures {tau:.3} or more, or --drift official, whose temperatures are relative to the data's scale",
                drift.dead_rows,
                self.field.temperature_list()[0],
            ))),
            _ => Ok(()),
        }
    }

    /// One step's regression and drift statistics: noise from `source`, the
    /// generator's output, the field toward a batch of `target` (per class when conditional).
    pub(super) fn regression(
        &self,
        mlp: &Mlp,
        ws: &mut Workspace,
        (source, target): (&Dataset, &Dataset),
        rng: &mut ChaCha8Rng,
        step: usize,
    ) -> Result<(Regression, DriftStats), TrainError> {
        let d = target.dim();
        let drift_error = |e: DriftError| TrainError::Data(format!("drift: {e}"));
        let Some(classes) = &self.classes else {
            let n = self.gen_batch;
            let noise = to_f32(&source.draw(n, rng.next_u64()));
            let time = vec![0.0f32; n];
            let mut x = vec![0.0f32; n * d];
            mlp.forward_cached(&time, &noise, &mut x, ws)?;
            let positives = to_f32(&target.draw(self.data_batch, rng.next_u64()));
            let drift = self
                .field
                .evaluate(&x, &positives, None, d)
                .map_err(drift_error)?;
            self.check_dead_rows(&drift, n, step)?;
            let target: Vec<f32> = x.iter().zip(&drift.velocity).map(|(a, v)| a + v).collect();
            let weight = (drift.loss_weight != 1.0).then(|| vec![drift.loss_weight; n]);
            return Ok((
                Regression {
                    time,
                    input: noise,
                    target,
                    weight,
                    score: None,
                },
                DriftStats::from(&drift),
            ));
        };
        let k = classes.train.classes;
        let (per_class, positives_per_class) = (self.gen_batch / k, self.data_batch / k);
        let n = per_class * k;
        let noise_dim = source.dim();
        let alphas: Vec<f64> = (0..k)
            .map(|_| draw_alpha(classes.alpha_exponent, rng))
            .collect();
        let noise = to_f32(&source.draw(n, rng.next_u64()));
        let input = conditional_input(&noise, noise_dim, k, |row| row / per_class);
        let time: Vec<f32> = (0..n).map(|row| alphas[row / per_class] as f32).collect();
        let mut x = vec![0.0f32; n * d];
        mlp.forward_cached(&time, &input, &mut x, ws)?;
        let mut target = x.clone();
        let mut weight = vec![1.0f32; n];
        let mut stats = DriftStats::default();
        for (c, &alpha) in alphas.iter().enumerate() {
            let rows = c * per_class..(c + 1) * per_class;
            let xc = &x[rows.start * d..rows.end * d];
            let positives = classes
                .train
                .draw_class(c, positives_per_class, rng.next_u64())
                .expect("every class has training rows");
            let unconditional =
                bootstrap(&classes.train.points, positives_per_class, rng.next_u64())
                    .expect("the training set has rows");
            let drift = self
                .field
                .evaluate_guided(xc, &to_f32(&positives), &to_f32(&unconditional), alpha, d)
                .map_err(drift_error)?;
            self.check_dead_rows(&drift, per_class, step)?;
            for (t, v) in target[rows.start * d..rows.end * d]
                .iter_mut()
                .zip(&drift.velocity)
            {
                *t += v;
            }
            weight[rows].fill(drift.loss_weight);
            stats.add(&DriftStats::from(&drift), 1.0 / k as f64);
        }
        let weight = weight.iter().any(|&w| w != 1.0).then_some(weight);
        Ok((
            Regression {
                time,
                input,
                target,
                weight,
                score: None,
            },
            stats,
        ))
    }
}

impl Drifting {
    /// `n` samples of the generator `mlp` with noise drawn from `source` with `seed`: one
    /// network evaluation. A class-conditional generator draws `class`, or every class in equal
    /// shares (rows in class order) when `None`, at guidance scale `alpha` ≥ 1; an unconditional
    /// one accepts only `class = None`, `alpha = 1`. Returns the points and their classes.
    pub fn generate(
        &self,
        mlp: &Mlp,
        source: &Dataset,
        (n, seed): (usize, u64),
        class: Option<usize>,
        alpha: f64,
    ) -> Result<(Matrix, Vec<usize>), TrainError> {
        let noise = to_f32(&source.draw_fresh(n, seed));
        let (input, time, labels) = match self.class_count() {
            None => {
                if class.is_some() || alpha != 1.0 {
                    return Err(TrainError::Config(
                        "--class and --cfg need a class-conditional drifting run (trained with --conditional on labelled data)".into(),
                    ));
                }
                (noise, vec![0.0f32; n], vec![0; n])
            }
            Some(k) => {
                if let Some(c) = class.filter(|&c| c >= k) {
                    return Err(TrainError::Config(format!(
                        "class {c} is out of range; this run has classes 0..{k}"
                    )));
                }
                if !(alpha >= 1.0 && alpha.is_finite()) {
                    return Err(TrainError::Config(format!(
                        "the guidance scale α must be ≥ 1 and finite, got {alpha}"
                    )));
                }
                let labels: Vec<usize> =
                    (0..n).map(|i| class.unwrap_or(i * k / n.max(1))).collect();
                let input = conditional_input(&noise, source.dim(), k, |i| labels[i]);
                (input, vec![alpha as f32; n], labels)
            }
        };
        let d = mlp.config().output_dim;
        let mut out = vec![0.0f32; n * d];
        let mut ws = Workspace::new(mlp, n.max(1));
        mlp.forward(&time, &input, &mut out, &mut ws)?;
        let x = Matrix::new(n, d, out.iter().map(|&v| v as f64).collect()).expect("n × d outputs");
        Ok((x, labels))
    }
}

/// The rows [ε_i, onehot(class(i))] of a class-conditional generator's input.
pub fn conditional_input(
    noise: &[f32],
    noise_dim: usize,
    classes: usize,
    class: impl Fn(usize) -> usize,
) -> Vec<f32> {
    let cols = noise_dim + classes;
    let n = noise.len() / noise_dim;
    let mut input = vec![0.0f32; n * cols];
    for (row, (out, eps)) in input
        .chunks_exact_mut(cols)
        .zip(noise.chunks_exact(noise_dim))
        .enumerate()
    {
        out[..noise_dim].copy_from_slice(eps);
        out[noise_dim + class(row)] = 1.0;
    }
    input
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn guidance_scales_follow_the_power_law() {
        // Truth: p(α) ∝ α^(−k) on [1, 4] has mean (k−1)/(k−2)·(1 − 4^(2−k))/(1 − 4^(1−k)) for
        // k ≠ 1, 2 (k = 3: 1.6); 200 000 draws: standard error ≈ 0.0015.
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let draws: Vec<f64> = (0..200_000).map(|_| draw_alpha(3.0, &mut rng)).collect();
        assert!(draws.iter().all(|&a| (1.0..=ALPHA_MAX).contains(&a)));
        let mean = draws.iter().sum::<f64>() / draws.len() as f64;
        let k: f64 = 3.0;
        let exact = (k - 1.0) / (k - 2.0) * (1.0 - 4f64.powf(2.0 - k)) / (1.0 - 4f64.powf(1.0 - k));
        assert!((mean - exact).abs() < 0.006, "{mean} vs {exact}");
    }
}
