//! The training loop. It knows no method: a [`Recipe`] supplies the data, the coupling, the path
//! and the objective; the loop draws a batch, pairs it, draws a path sample, asks the objective for
//! the regression target, has the network compute loss and gradients, clips them, steps AdamW,
//! updates the EMA, logs and checkpoints. A fixed seed and thread count give a bit-identical run,
//! and a run resumed from a checkpoint continues exactly as the uninterrupted run would have.

use std::time::Instant;

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;

use super::checkpoint::Checkpoint;
use super::config::{Method, TrainConfig};
pub use super::drifting::{DriftStats, Drifting};
use super::lr::LrSchedule;
use super::run::{RunDir, RunError};
use crate::coupling::Coupling;
use crate::data::{DataSource, Dataset, Toy};
use crate::network::{AdamW, Ema, Mlp, MlpConfig, NetworkError, TimeEmbedding, Workspace};
use crate::objective::{Objective, Regression};
use crate::path::{
    AffinePath, ConditionalPath, EdmPreconditioning, Interpolant, ScheduleChoice, ScheduleKind,
};
use otto_ot::Matrix;

/// Why training stopped early or could not start.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The configuration is invalid; the message names the field.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The loss became NaN or infinite; the last good checkpoint is kept.
    #[error("the loss became {loss} at step {step}; stopped, the last good checkpoint (step {checkpoint}) is kept — lower the learning rate or enable --grad-clip")]
    NonFiniteLoss {
        step: usize,
        loss: f32,
        checkpoint: usize,
    },
    /// Reading or writing the run directory failed.
    #[error(transparent)]
    Run(#[from] RunError),
    /// The network rejected its inputs or files.
    #[error(transparent)]
    Network(#[from] NetworkError),
    /// Data, coupling or path errors.
    #[error("{0}")]
    Data(String),
}

/// What one logged step reports to an [`Observer`].
#[derive(Debug, Clone)]
pub struct StepReport {
    /// Steps done so far (1-based).
    pub step: usize,
    /// Total steps of the run.
    pub total: usize,
    /// Mean training loss since the previous report.
    pub loss: f64,
    /// Learning rate of the last step.
    pub lr: f64,
    /// Training throughput since the previous report.
    pub steps_per_sec: f64,
    /// Drifting: the mean drift magnitude per temperature since the previous report (official:
    /// λ_R², the quantity that falls while its loss stays 1; otherwise mean ‖V‖²/d), and the
    /// generated points per step whose field underflowed (the mean over those steps, rounded up);
    /// empty for the other methods.
    pub drift: DriftStats,
}

/// Receives progress from the trainer (a progress bar, a logger, a test).
pub trait Observer {
    /// Called every `log_every` steps and at the end.
    fn on_report(&mut self, report: &StepReport);
}

/// An observer that ignores everything.
pub struct Silent;

impl Observer for Silent {
    fn on_report(&mut self, _: &StepReport) {}
}

/// The method's parts: where the data comes from, how it is paired, the path and the objective.
pub struct Recipe {
    /// Source data (t = 0).
    pub source: Dataset,
    /// Target data (t = 1).
    pub target: Dataset,
    /// Minibatch coupling.
    pub coupling: Coupling,
    /// Conditional path.
    pub path: Box<dyn ConditionalPath>,
    /// Regression objective.
    pub objective: Objective,
    /// The schedule of a diffusion method's affine path (`None` for torchcfm's interpolants).
    pub schedule: Option<ScheduleChoice>,
    /// Training pairs (x0, x1), row i with row i, drawn once (reflow: x1 = the teacher's ODE
    /// image of x0); minibatches then draw rows of both with the same indices.
    pub pairs: Option<(Matrix, Matrix)>,
    /// Drifting: the one-step generator's field and batches. The source is then the generator's
    /// noise N(0, I) in `noise_dim` dimensions, and `coupling`, `path` and `objective` are
    /// unused (the regression target depends on the generator's own output).
    pub drift: Option<Drifting>,
}

/// Reflow's pairs (Liu et al. 2023, "Flow straight and fast", Alg. 1): `n` start points from the
/// teacher run's prior (seeded apart from the run's stream) and their images under the teacher's
/// probability-flow ODE (RK4, 100 steps), with the teacher's source and target data sets.
fn reflow_pairs(config: &TrainConfig) -> Result<(Dataset, Dataset, Matrix, Matrix), TrainError> {
    if config.from.is_empty() {
        return Err(TrainError::Config(
            "from: reflow needs --from RUN, a trained flow-matching run whose ODE gives the pairs"
                .into(),
        ));
    }
    let dir = super::run::RunDir::open(std::path::Path::new(&config.from))
        .map_err(|e| TrainError::Config(format!("from: {e}")))?;
    let teacher = super::trained::TrainedRun::load(&dir, false)
        .map_err(|e| TrainError::Config(format!("from: {e}")))?;
    if teacher.config.method.is_diffusion() {
        return Err(TrainError::Config(format!(
            "from: {} is a {} run; reflow takes a flow-matching run (i-cfm, ot-cfm, sb-cfm, sf2m or reflow)",
            config.from,
            teacher.config.method.name()
        )));
    }
    let n = if config.train_size > 0 {
        config.train_size
    } else {
        10_000
    };
    let x0 = teacher.prior(n, finite_set_seed(config.seed, true) ^ 0x7e_f10e);
    let (t0, t1) = teacher.interval();
    let solution = crate::sampler::OdeSolver::new(crate::sampler::Method::Rk4)
        .steps(100)
        .solve(&teacher.field, &x0, t0, t1)
        .map_err(|e| TrainError::Data(format!("from: {e}")))?;
    if !solution.status.is_completed() {
        return Err(TrainError::Data(format!(
            "from: the teacher's ODE stopped early ({:?})",
            solution.status
        )));
    }
    let recipe = teacher.recipe;
    Ok((recipe.source, recipe.target, x0, solution.x))
}

/// The largest Euclidean distance between two of `x`'s rows.
fn largest_distance(x: &Matrix) -> f64 {
    let mut largest = 0.0f64;
    for i in 0..x.rows() {
        for j in 0..i {
            let d2: f64 = x
                .row(i)
                .iter()
                .zip(x.row(j))
                .map(|(a, b)| (a - b) * (a - b))
                .sum();
            largest = largest.max(d2);
        }
    }
    largest.sqrt()
}

/// The schedule of a diffusion run: `sigma_max` where given; for `ve` without one, the largest
/// distance between 2000 training points (Song & Ermon 2020, "Improved techniques for training
/// score-based generative models", technique 1 — the rule behind score_sde's σ_max = 50 for
/// CIFAR-10), drawn with a seed of its own so that a reloaded run finds the same value.
fn schedule_choice(
    config: &TrainConfig,
    kind: ScheduleKind,
    target: &Dataset,
) -> Result<ScheduleChoice, TrainError> {
    let sigma_max = if config.sigma_max > 0.0 {
        Some(config.sigma_max)
    } else if kind == ScheduleKind::Ve {
        let points = target.draw(2000, finite_set_seed(config.seed, false) ^ 0x5161_0a3a);
        Some(largest_distance(&points))
    } else {
        None
    };
    ScheduleChoice::new(kind, sigma_max).map_err(|e| TrainError::Config(format!("sigma_max: {e}")))
}

/// The diffusion part of a configuration: its schedule and objective (method defaults, then
/// `schedule`, `predict`, `weighting` where given).
fn diffusion_recipe(config: &TrainConfig) -> Result<(ScheduleKind, Objective), TrainError> {
    let config_error = |field: &str, e: String| TrainError::Config(format!("{field}: {e}"));
    let (schedule, predict, weighting) = match config.method {
        Method::Ddpm => ("vp-linear", "noise", "uniform"),
        Method::ScoreVe => ("ve", "score", "sigma2"),
        Method::Edm => ("edm", "data", "uniform"),
        Method::VpV => ("vp-cosine", "v", "uniform"),
        Method::ICfm
        | Method::OtCfm
        | Method::SbCfm
        | Method::Sf2m
        | Method::Reflow
        | Method::Drifting => unreachable!("flow-matching and drifting methods have no schedule"),
    };
    let pick = |given: &str, default: &'static str| {
        if given.is_empty() {
            default.to_string()
        } else {
            given.to_string()
        }
    };
    let schedule: ScheduleKind = pick(&config.schedule, schedule)
        .parse()
        .map_err(|e: crate::Error| config_error("schedule", e.to_string()))?;
    let objective = if config.method == Method::Edm {
        if !config.predict.is_empty() && config.predict != "data" {
            return Err(config_error(
                "predict",
                format!(
                    "edm predicts the data through its preconditioning, not '{}'",
                    config.predict
                ),
            ));
        }
        if !config.weighting.is_empty() {
            return Err(config_error(
                "weighting",
                "edm's loss weight is fixed by its preconditioning (λ c_out² = 1)".into(),
            ));
        }
        if !(config.edm_p_std > 0.0
            && config.edm_p_std.is_finite()
            && config.edm_p_mean.is_finite())
        {
            return Err(config_error(
                "edm_p_std",
                format!(
                    "must be positive and finite, with a finite edm_p_mean (got {}, {})",
                    config.edm_p_std, config.edm_p_mean
                ),
            ));
        }
        Objective::Edm {
            preconditioning: EdmPreconditioning::new(config.sigma_data)
                .map_err(|e| config_error("sigma_data", e.to_string()))?,
            p_mean: config.edm_p_mean,
            p_std: config.edm_p_std,
        }
    } else {
        Objective::Denoising {
            target: pick(&config.predict, predict)
                .parse()
                .map_err(|e: crate::Error| config_error("predict", e.to_string()))?,
            weighting: pick(&config.weighting, weighting)
                .parse()
                .map_err(|e: crate::Error| config_error("weighting", e.to_string()))?,
        }
    };
    Ok((schedule, objective))
}

/// The seed of a finite training set of the source or the target, apart from the run's own
/// stream and from evaluation's held-out seeds.
fn finite_set_seed(seed: u64, is_source: bool) -> u64 {
    seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (0xF1_4173_5E75 + u64::from(is_source))
}

impl Recipe {
    /// The recipe of a configuration: I-CFM and OT-CFM use torchcfm's constant-σ interpolant
    /// and velocity regression; the diffusion methods a N(0, I) source, the affine path of their
    /// schedule and their objective (`ddpm`: VP linear-β, ε; `score-ve`: VE, σ²-weighted score;
    /// `edm`: EDM; `vp-v`: VP cosine, v), each axis overridable by `schedule`, `predict`,
    /// `weighting`.
    pub fn from_config(config: &TrainConfig) -> Result<Self, TrainError> {
        // `train_size` applies to built-in data sets, not to a Gaussian noise source.
        let dataset = |name: &str, is_source: bool| -> Result<Dataset, TrainError> {
            let what = if is_source { "source" } else { "target" };
            let source: DataSource = name
                .parse()
                .map_err(|e| TrainError::Config(format!("{what}: {e}")))?;
            match source {
                DataSource::Toy(toy @ Toy::Gaussian { .. }) if is_source => Ok(Dataset::Toy(toy)),
                DataSource::Toy(toy) => Ok(Dataset::finite(
                    toy,
                    config.train_size,
                    finite_set_seed(config.seed, is_source),
                )),
                DataSource::File { .. } => Dataset::new(&source, config.test_fraction, config.seed)
                    .map_err(|e| TrainError::Data(format!("{what}: {e}"))),
            }
        };
        let target = dataset(&config.target, false)?;
        let mut schedule = None;
        let mut pairs = None;
        let (source, coupling, path, objective) = match config.method {
            Method::ICfm | Method::OtCfm | Method::SbCfm | Method::Sf2m => {
                // `gaussian` without a dimension is noise of the target's dimension.
                let source = if config.source == "gaussian" {
                    dataset(&format!("gaussian:{}", target.dim()), true)?
                } else {
                    dataset(&config.source, true)?
                };
                let default = match config.method {
                    Method::ICfm => "independent",
                    Method::OtCfm | Method::Sf2m => "exact-ot",
                    _ => "sinkhorn",
                };
                let name = if config.coupling.is_empty() {
                    default
                } else {
                    config.coupling.as_str()
                };
                let bridge = matches!(config.method, Method::SbCfm | Method::Sf2m);
                let path = if bridge {
                    if config.sigma <= 0.0 {
                        return Err(TrainError::Config(format!(
                            "sigma: {}'s Brownian bridge needs σ > 0, got {}",
                            config.method.name(),
                            config.sigma
                        )));
                    }
                    Interpolant::brownian_bridge(config.sigma)
                } else {
                    Interpolant::constant(config.sigma)
                }
                .map_err(|e| TrainError::Config(format!("sigma: {e}")))?;
                // ε = 2σ²: the entropic plan is then the Schrödinger bridge's static coupling for
                // the Brownian bridge of noise σ (Tong et al. 2024, Prop. 3.4).
                let coupling = Coupling::parse(name, 2.0 * config.sigma * config.sigma)
                    .map_err(|e| TrainError::Config(format!("coupling: {e}")))?;
                for (field, value) in [
                    ("predict", &config.predict),
                    ("weighting", &config.weighting),
                ] {
                    if !value.is_empty() {
                        return Err(TrainError::Config(format!(
                            "{field}: {} regresses the velocity of torchcfm's interpolant; {field} applies to the diffusion methods (ddpm, score-ve, edm, vp-v)",
                            config.method.name()
                        )));
                    }
                }
                let objective = if config.method == Method::Sf2m {
                    Objective::Sf2m {
                        sigma: config.sigma,
                    }
                } else {
                    Objective::FlowMatching
                };
                (
                    source,
                    coupling,
                    Box::new(path) as Box<dyn ConditionalPath>,
                    objective,
                )
            }
            Method::Reflow => {
                let (source, teacher_target, x0, x1) = reflow_pairs(config)?;
                pairs = Some((x0, x1));
                let path = Interpolant::constant(0.0)
                    .map_err(|e| TrainError::Config(format!("sigma: {e}")))?;
                // Evaluate against the teacher's data: reflow keeps its target distribution.
                return Ok(Self {
                    source,
                    target: teacher_target,
                    coupling: Coupling::Independent,
                    path: Box::new(path),
                    objective: Objective::FlowMatching,
                    schedule: None,
                    pairs,
                    drift: None,
                });
            }
            Method::Drifting => {
                let drift = Drifting::from_config(config, finite_set_seed(config.seed, false))?;
                let target = drift.target(target);
                let path = Interpolant::constant(0.0)
                    .map_err(|e| TrainError::Config(format!("sigma: {e}")))?;
                return Ok(Self {
                    source: Dataset::Toy(Toy::Gaussian {
                        dim: config.noise_dim,
                    }),
                    target,
                    coupling: Coupling::Independent,
                    path: Box::new(path),
                    objective: Objective::FlowMatching,
                    schedule: None,
                    pairs: None,
                    drift: Some(drift),
                });
            }
            _ => {
                if !config.coupling.is_empty() && config.coupling != "independent" {
                    return Err(TrainError::Config(format!(
                        "coupling: the diffusion methods pair noise with data independently; '{}' applies to i-cfm, ot-cfm and sb-cfm",
                        config.coupling
                    )));
                }
                let (kind, objective) = diffusion_recipe(config)?;
                let choice = schedule_choice(config, kind, &target)?;
                schedule = Some(choice);
                let source = Dataset::Toy(Toy::Gaussian { dim: target.dim() });
                let path: Box<dyn ConditionalPath> = Box::new(AffinePath::new(choice.build()));
                (source, Coupling::Independent, path, objective)
            }
        };
        if source.dim() != target.dim() {
            return Err(TrainError::Data(format!(
                "the source '{}' has dimension {} but the target '{}' has dimension {}",
                config.source,
                source.dim(),
                config.target,
                target.dim()
            )));
        }
        Ok(Self {
            source,
            target,
            coupling,
            path,
            objective,
            schedule,
            pairs,
            drift: None,
        })
    }
}

/// Parses `concat`, `sinusoidal[:DIM]` or `fourier[:DIM[:SCALE]]` (32 features, scale 1 by
/// default).
fn time_embedding(text: &str) -> Result<TimeEmbedding, TrainError> {
    let bad = || {
        TrainError::Config(format!(
            "time_embedding '{text}'; valid: concat, none, sinusoidal[:DIM], fourier[:DIM[:SCALE]]"
        ))
    };
    let mut parts = text.split(':');
    let kind = parts.next().unwrap_or_default();
    let dim = parts
        .next()
        .map_or(Ok(32), |d| d.parse().map_err(|_| bad()))?;
    match kind {
        "concat" => Ok(TimeEmbedding::Concat),
        "none" => Ok(TimeEmbedding::None),
        "sinusoidal" => Ok(TimeEmbedding::Sinusoidal { dim }),
        "fourier" => {
            let scale = parts
                .next()
                .map_or(Ok(1.0), |s| s.parse().map_err(|_| bad()))?;
            Ok(TimeEmbedding::Fourier { dim, scale })
        }
        _ => Err(bad()),
    }
}

/// The network configuration of a run with `recipe`.
pub fn mlp_config(config: &TrainConfig, recipe: &Recipe) -> Result<MlpConfig, TrainError> {
    let dim = recipe.target.dim();
    let activation = config
        .activation
        .parse()
        .map_err(|e| TrainError::Config(format!("activation: {e}")))?;
    // A drifting generator maps noise of any dimension to data, with no time input; a
    // class-conditional one takes the class one-hot and the guidance scale α (in the time slot).
    let (input, time_embedding) = match &recipe.drift {
        Some(drifting) => match drifting.class_count() {
            Some(classes) => (config.noise_dim + classes, TimeEmbedding::Concat),
            None => (config.noise_dim, TimeEmbedding::None),
        },
        None => (dim, time_embedding(&config.time_embedding)?),
    };
    let mlp = MlpConfig::new(input, dim)
        .width(config.width)
        .depth(config.depth)
        .activation(activation)
        .time_embedding(time_embedding)
        .residual(config.residual);
    mlp.validate()?;
    Ok(mlp)
}

fn validate(config: &TrainConfig) -> Result<(), TrainError> {
    let positive = [
        ("batch", config.batch as f64),
        ("steps", config.steps as f64),
        ("lr", config.lr),
        ("log_every", config.log_every as f64),
        ("checkpoint_every", config.checkpoint_every as f64),
    ];
    for (name, value) in positive {
        if !(value > 0.0 && value.is_finite()) {
            return Err(TrainError::Config(format!(
                "{name} must be positive, got {value}"
            )));
        }
    }
    let unit = [
        ("beta1", config.beta1),
        ("beta2", config.beta2),
        ("ema_decay", config.ema_decay),
        ("test_fraction", config.test_fraction),
    ];
    for (name, value) in unit {
        if !(0.0..1.0).contains(&value) {
            return Err(TrainError::Config(format!(
                "{name} must lie in [0, 1), got {value}"
            )));
        }
    }
    let non_negative = [
        ("weight_decay", config.weight_decay),
        ("grad_clip", config.grad_clip),
        ("lr_min", config.lr_min),
        ("sigma", config.sigma),
        ("sigma_max", config.sigma_max),
    ];
    for (name, value) in non_negative {
        if !(value >= 0.0 && value.is_finite()) {
            return Err(TrainError::Config(format!(
                "{name} must be ≥ 0, got {value}"
            )));
        }
    }
    Ok(())
}

/// A trained network with its optimizer and EMA (SF2M's score network).
pub struct Net {
    /// The network.
    pub mlp: Mlp,
    /// The optimizer and its moments.
    pub optimizer: AdamW,
    /// The EMA of the weights, if enabled.
    pub ema: Option<Ema>,
}

impl Net {
    /// A fresh network of `config` initialized from `seed`, zero optimizer state, and an EMA if
    /// the run keeps one.
    fn new(mlp_config: MlpConfig, seed: u64, config: &TrainConfig) -> Result<Self, TrainError> {
        let mlp = Mlp::new(mlp_config, seed)?;
        let optimizer = optimizer(config, mlp.num_params());
        let ema = (config.ema_decay > 0.0)
            .then(|| Ema::new(config.ema_decay as f32, mlp.params()))
            .transpose()?;
        Ok(Self {
            mlp,
            optimizer,
            ema,
        })
    }
}

/// Clips `grads` to `clip` (0: none), steps AdamW at `lr` and updates the EMA.
fn apply_gradients(
    mlp: &mut Mlp,
    optimizer: &mut AdamW,
    ema: Option<&mut Ema>,
    grads: &mut [f32],
    (clip, lr): (f64, f64),
) -> Result<(), TrainError> {
    if clip > 0.0 {
        clip_global_norm(grads, clip as f32);
    }
    optimizer.lr = lr as f32;
    optimizer.step(mlp.params_mut(), grads)?;
    if let Some(ema) = ema {
        ema.update(mlp.params())?;
    }
    Ok(())
}

/// The seed of SF2M's score network: the run's seed, moved off the flow network's stream.
fn score_seed(seed: u64) -> u64 {
    seed ^ 0x5c0e_5eed
}

/// The mutable state of a run: what a checkpoint holds.
pub struct TrainState {
    /// Completed optimizer steps.
    pub step: usize,
    /// The network.
    pub mlp: Mlp,
    /// The optimizer and its moments.
    pub optimizer: AdamW,
    /// The EMA of the weights, if enabled.
    pub ema: Option<Ema>,
    /// The run's random stream.
    pub rng: ChaCha8Rng,
    /// SF2M's score network, trained beside the flow network on the same inputs.
    pub score: Option<Net>,
    /// Wall-clock seconds of training up to `step`, summed over the sessions of an interrupted
    /// and resumed run (each session counts from its start to its last checkpoint or its end);
    /// `None` for a run resumed from a checkpoint written before otto kept it.
    pub train_seconds: Option<f64>,
}

/// Trains the run in `run` (a new run writes `config.toml`; `resume` continues from the
/// checkpoint). Returns the final state.
pub fn train(
    config: &TrainConfig,
    run: &RunDir,
    resume: bool,
    observer: &mut dyn Observer,
) -> Result<TrainState, TrainError> {
    let started = Instant::now();
    validate(config)?;
    let recipe = Recipe::from_config(config)?;
    let mlp_config = mlp_config(config, &recipe)?;
    let mut state = if resume {
        let checkpoint = Checkpoint::load(run)?;
        run.truncate_log(checkpoint.step + 1)?;
        checkpoint.into_state(mlp_config, config)?
    } else {
        run.write("config.toml", config.to_toml().as_bytes())?;
        // A fresh run in an existing directory starts a fresh log.
        run.truncate_log(0)?;
        let main = Net::new(mlp_config, config.seed, config)?;
        let score = (config.method == Method::Sf2m)
            .then(|| Net::new(mlp_config, score_seed(config.seed), config))
            .transpose()?;
        TrainState {
            step: 0,
            mlp: main.mlp,
            optimizer: main.optimizer,
            ema: main.ema,
            rng: ChaCha8Rng::seed_from_u64(config.seed),
            score,
            train_seconds: Some(0.0),
        }
    };
    let earlier_seconds = state.train_seconds;
    let schedule = LrSchedule {
        lr_max: config.lr,
        lr_min: config.lr_min,
        warmup: config.warmup,
        total: config.steps,
        cosine: config.cosine,
    };
    let n = recipe.drift.as_ref().map_or(config.batch, |d| d.gen_batch);
    let recipe_schedule = recipe.schedule.map(|choice| choice.build());
    let mut ws = Workspace::new(&state.mlp, n);
    let mut grads = vec![0.0f32; state.mlp.num_params()];
    let mut score_buffers = state.score.as_ref().map(|net| {
        (
            vec![0.0f32; net.mlp.num_params()],
            Workspace::new(&net.mlp, n),
        )
    });
    let mut last_checkpoint = state.step;
    let (mut loss_sum, mut loss_count) = (0.0f64, 0usize);
    let mut drift_sum = DriftStats::default();
    let mut clock = Instant::now();
    let mut steps_since = 0usize;
    while state.step < config.steps {
        let lr = schedule.at(state.step);
        let (regression, drift_stats) = match &recipe.drift {
            Some(drifting) => drifting.regression(
                &state.mlp,
                &mut ws,
                (&recipe.source, &recipe.target),
                &mut state.rng,
                state.step + 1,
            )?,
            None => (
                pair_regression(&recipe, recipe_schedule.as_deref(), n, &mut state.rng)?,
                DriftStats::default(),
            ),
        };
        let loss = if recipe.drift.is_some() {
            // The drifting step ran the forward pass already (its target needs the output).
            state.mlp.loss_and_grad_cached(
                &regression.target,
                regression.weight.as_deref(),
                &mut grads,
                &mut ws,
            )?
        } else {
            state.mlp.loss_and_grad(
                &regression.time,
                &regression.input,
                &regression.target,
                regression.weight.as_deref(),
                &mut grads,
                &mut ws,
            )?
        };
        // SF2M: the score network's step on the same inputs; the loss reported is the sum of
        // the two (torchcfm's SF2M example).
        let score_loss = match (
            &regression.score,
            state.score.as_mut(),
            score_buffers.as_mut(),
        ) {
            (Some(target), Some(net), Some((score_grads, score_ws))) => {
                let loss = net.mlp.loss_and_grad(
                    &regression.time,
                    &regression.input,
                    &target.target,
                    Some(&target.weight),
                    score_grads,
                    score_ws,
                )?;
                let ema = net.ema.as_mut();
                apply_gradients(
                    &mut net.mlp,
                    &mut net.optimizer,
                    ema,
                    score_grads,
                    (config.grad_clip, lr),
                )?;
                loss
            }
            _ => 0.0,
        };
        let loss = loss + score_loss;
        if !loss.is_finite() {
            return Err(TrainError::NonFiniteLoss {
                step: state.step + 1,
                loss,
                checkpoint: last_checkpoint,
            });
        }
        apply_gradients(
            &mut state.mlp,
            &mut state.optimizer,
            state.ema.as_mut(),
            &mut grads,
            (config.grad_clip, lr),
        )?;
        state.step += 1;
        steps_since += 1;
        loss_sum += loss as f64;
        drift_sum.add(&drift_stats, 1.0);
        loss_count += 1;
        if state.step % config.log_every == 0 || state.step == config.steps {
            let elapsed = clock.elapsed().as_secs_f64();
            let report = StepReport {
                step: state.step,
                total: config.steps,
                loss: loss_sum / loss_count as f64,
                lr,
                steps_per_sec: steps_since as f64 / elapsed.max(1e-12),
                drift: DriftStats {
                    magnitudes: drift_sum
                        .magnitudes
                        .iter()
                        .map(|s| s / loss_count as f64)
                        .collect(),
                    dead_rows: drift_sum.dead_rows.div_ceil(loss_count),
                    ..drift_sum.clone()
                },
            };
            let mut line = json!({"step": report.step, "loss": report.loss, "lr": lr});
            if !report.drift.magnitudes.is_empty() {
                line["drift"] = json!(report.drift.magnitudes);
                line["dead_rows"] = json!(report.drift.dead_rows);
            }
            run.append_log(&line.to_string())?;
            observer.on_report(&report);
            (loss_sum, loss_count, steps_since) = (0.0, 0, 0);
            drift_sum = DriftStats::default();
            clock = Instant::now();
        }
        let checkpoint = state.step % config.checkpoint_every == 0 || state.step == config.steps;
        if let (Some(drifting), true) = (&recipe.drift, checkpoint || state.step == 1) {
            // The generator's samples at step 1 and at every checkpoint (same noise each time):
            // how the distribution drifts (`otto plot`).
            let (x, _) = drifting.generate(
                &state.mlp,
                &recipe.source,
                (SNAPSHOT_POINTS, 0x5a5a),
                None,
                1.0,
            )?;
            run.write(
                &snapshot_name(state.step),
                &crate::data::file::npy_bytes(&x),
            )?;
        }
        if checkpoint {
            state.train_seconds = earlier_seconds.map(|s| s + started.elapsed().as_secs_f64());
            Checkpoint::save(run, &state)?;
            last_checkpoint = state.step;
        }
    }
    Ok(state)
}

/// Points in a drifting run's snapshot.
const SNAPSHOT_POINTS: usize = 2000;

/// The file of a drifting run's snapshot at `step`: `snapshot-000500.npy`.
pub fn snapshot_name(step: usize) -> String {
    format!("snapshot-{step:06}.npy")
}

/// One step's regression of a coupled method: a batch of pairs (drawn, or rows of the recipe's
/// fixed pairs), coupled, then the objective's regression on the path.
fn pair_regression(
    recipe: &Recipe,
    schedule: Option<&dyn crate::path::Schedule>,
    n: usize,
    rng: &mut ChaCha8Rng,
) -> Result<Regression, TrainError> {
    let (x0, x1) = match &recipe.pairs {
        // Pairs stay pairs: both sides drawn with the same indices.
        Some((p0, p1)) => {
            let seed = rng.next_u64();
            let draw = |p: &Matrix| {
                crate::data::split::bootstrap(p, n, seed).expect("reflow pairs are non-empty")
            };
            (draw(p0), draw(p1))
        }
        None => (
            recipe.source.draw(n, rng.next_u64()),
            recipe.target.draw(n, rng.next_u64()),
        ),
    };
    let (x0, x1) = recipe
        .coupling
        .pair(&x0, &x1, rng)
        .map_err(|e| TrainError::Data(e.to_string()))?;
    recipe
        .objective
        .regression(recipe.path.as_ref(), schedule, &x0, &x1, rng)
        .map_err(|e| TrainError::Data(e.to_string()))
}

/// AdamW with the run's hyper-parameters and zero state.
pub(super) fn optimizer(config: &TrainConfig, num_params: usize) -> AdamW {
    AdamW::new(num_params)
        .with_lr(config.lr as f32)
        .with_betas(config.beta1 as f32, config.beta2 as f32)
        .with_weight_decay(config.weight_decay as f32)
}

/// Scales `grads` so that their Euclidean norm is at most `max_norm` (PyTorch's
/// `clip_grad_norm_`).
fn clip_global_norm(grads: &mut [f32], max_norm: f32) {
    let norm = grads
        .iter()
        .map(|g| (*g as f64) * (*g as f64))
        .sum::<f64>()
        .sqrt() as f32;
    if norm > max_norm {
        let scale = max_norm / (norm + 1e-6);
        grads.iter_mut().for_each(|g| *g *= scale);
    }
}
