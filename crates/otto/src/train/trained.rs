//! A finished (or checkpointed) run as something to sample from: its configuration and its
//! network read as a field through the method's parameterization.

use super::config::{Method, TrainConfig};
use super::run::RunDir;
use super::trainer::{Recipe, TrainError};
use otto_ot::Matrix;

use crate::data::GaussianMixture;
use crate::field::{NetworkField, VectorField};
use crate::network::Mlp;
use crate::objective::Objective;

/// A run whose likelihood cannot be computed: its source has no closed-form density.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the source '{source_name}' of this run has no known density; likelihoods need a source whose law otto knows in closed form: gaussian, gaussian:D, 8gaussians or dsb-8gaussians")]
pub struct UnknownDensity {
    /// The run's source, as configured.
    pub source_name: String,
}

/// The weights file of a run: the EMA's or the raw weights.
fn weights_file(ema: bool) -> &'static str {
    if ema {
        "ema.safetensors"
    } else {
        "model.safetensors"
    }
}

/// Reads a run's `config.toml`.
fn read_config(run: &RunDir) -> Result<TrainConfig, TrainError> {
    let text = run.read_to_string("config.toml")?;
    TrainConfig::from_toml(&text)
        .map_err(|e| TrainError::Config(format!("{}: {}", run.file("config.toml").display(), e)))
}

/// A trained drifting run: the one-step generator x = f(ε), ε ~ N(0, I_noise_dim).
pub struct TrainedGenerator {
    /// The run's configuration.
    pub config: TrainConfig,
    /// The run's data and drift field.
    pub recipe: Recipe,
    /// The generator.
    pub mlp: Mlp,
}

impl TrainedGenerator {
    /// Loads `model.safetensors` (or `ema.safetensors` with `ema`) of the drifting run in `run`.
    pub fn load(run: &RunDir, ema: bool) -> Result<Self, TrainError> {
        let config = read_config(run)?;
        if config.method != Method::Drifting {
            return Err(TrainError::Config(format!(
                "{} is a {} run, not a drifting generator",
                run.root().display(),
                config.method.name()
            )));
        }
        let recipe = Recipe::from_config(&config)?;
        let mlp = Mlp::load_safetensors(run.file(weights_file(ema)))?;
        Ok(Self {
            config,
            recipe,
            mlp,
        })
    }

    /// The number of classes of a class-conditional generator.
    pub fn classes(&self) -> Option<usize> {
        self.recipe.drift.as_ref().and_then(|d| d.class_count())
    }

    /// `n` samples f(ε) with ε drawn from `seed`: one network evaluation (1 NFE); a
    /// class-conditional generator draws every class in equal shares without guidance (α = 1).
    pub fn sample(&self, n: usize, seed: u64) -> Result<Matrix, TrainError> {
        Ok(self.sample_guided(n, seed, None, 1.0)?.0)
    }

    /// `n` samples of a class-conditional generator at guidance scale `alpha` ≥ 1 (one network
    /// evaluation), all of `class` or, when `None`, every class in equal shares (rows in class
    /// order); returns the points and their classes. An unconditional generator accepts only
    /// `class = None` and `alpha = 1`.
    pub fn sample_guided(
        &self,
        n: usize,
        seed: u64,
        class: Option<usize>,
        alpha: f64,
    ) -> Result<(Matrix, Vec<usize>), TrainError> {
        self.recipe
            .drift
            .as_ref()
            .expect("a drifting recipe")
            .generate(&self.mlp, &self.recipe.source, (n, seed), class, alpha)
    }
}

/// A trained run.
pub struct TrainedRun {
    /// The run's configuration.
    pub config: TrainConfig,
    /// The run's data, coupling, path and objective.
    pub recipe: Recipe,
    /// The network as a field.
    pub field: NetworkField,
}

impl TrainedRun {
    /// Loads `model.safetensors` (or `ema.safetensors` with `ema`) of the run in `run`.
    pub fn load(run: &RunDir, ema: bool) -> Result<Self, TrainError> {
        let config = read_config(run)?;
        if config.method == Method::Drifting {
            return Err(TrainError::Config(format!(
                "{} is a drifting run: a one-step generator, not a vector field (no ODE, likelihood or trajectories); load it as a TrainedGenerator (otto sample --run samples it in one network evaluation)",
                run.root().display()
            )));
        }
        let recipe = Recipe::from_config(&config)?;
        let mlp = Mlp::load_safetensors(run.file(weights_file(ema)))?;
        let schedule = recipe.schedule.map(|choice| choice.build());
        let mut field = match recipe.objective {
            Objective::Sf2m { sigma } => {
                let (model, ema_file) = super::checkpoint::model_files(true);
                let file = run.file(if ema { ema_file } else { model });
                if !file.exists() {
                    return Err(TrainError::Config(format!(
                        "{}: missing — SF2M trains a separate score network; this run was written by an older otto (one two-headed network): train it again",
                        file.display()
                    )));
                }
                NetworkField::with_score_network(mlp, Mlp::load_safetensors(file)?, sigma)
            }
            _ => NetworkField::new(mlp, recipe.objective.parameterization(), schedule),
        }
        .map_err(|e| TrainError::Config(e.to_string()))?;
        if let Objective::Edm {
            preconditioning, ..
        } = recipe.objective
        {
            field = field
                .with_preconditioning(preconditioning)
                .map_err(|e| TrainError::Config(e.to_string()))?;
        }
        Ok(Self {
            config,
            recipe,
            field,
        })
    }

    /// The law p_0 of the run's path at t = 0, where the likelihood's backward integration ends
    /// ([`crate::likelihood`]), as a Gaussian mixture:
    /// - I-CFM and OT-CFM, torchcfm's constant-σ interpolant `x_t = t x1 + (1 − t) x0 + σ ε`:
    ///   x_0 = x0 + σ ε, the source convolved with N(0, σ² I) — exact for a source that is a
    ///   Gaussian mixture (`gaussian` becomes N(0, (1 + σ²) I));
    /// - the diffusion methods, the affine path `x_t = α_t x1 + σ_t x0`, x0 ~ N(0, I), at the start
    ///   t_s of [`TrainedRun::interval`]: N(0, σ_{t_s}² I). This drops the data term α_{t_s} x1
    ///   (VP-linear: α_0 = e^{−(β0 + β1)/4} ≈ 6.4e-3; VE: α = 1 but σ_0 = 50 dwarfs the data), an
    ///   approximation of the true law whose effect on log p is of order α² ‖x1‖²/σ².
    ///
    /// Errors: [`UnknownDensity`] when the source is a data set without a closed-form density
    /// (a file, or a built-in set other than `gaussian`, `8gaussians`, `dsb-8gaussians`).
    pub fn source_density(&self) -> Result<GaussianMixture, UnknownDensity> {
        match self.recipe.schedule.map(|choice| choice.build()) {
            Some(s) => {
                let d = self.field.dim();
                let variance = s.sigma(self.interval().0).powi(2);
                Ok(
                    GaussianMixture::isotropic(&[1.0], &Matrix::zeros(1, d), variance)
                        .expect("σ_0 > 0 on a path from noise"),
                )
            }
            None => self
                .recipe
                .source
                .toy()
                .and_then(|toy| toy.mixture())
                .map(|m| match self.config.method {
                    // The Brownian bridge and reflow's straight line have no noise at t = 0:
                    // p_0 is the source itself.
                    Method::SbCfm | Method::Sf2m | Method::Reflow => m,
                    _ => m.convolved(self.config.sigma).expect("σ² I keeps S_k SPD"),
                })
                .ok_or_else(|| UnknownDensity {
                    source_name: self.config.source.clone(),
                }),
        }
    }

    /// The interval [t_start, t_end] the probability-flow ODE is integrated over: [0, 1] for
    /// torchcfm's interpolants; a diffusion method's schedule's sampling interval (where α and σ
    /// are positive, so every parameterization converts: VP-linear [0, 1 − 10⁻³], the usual
    /// truncation of Song et al. 2021; VE and EDM [0, 1]; VP-cosine and cond-ot start at 10⁻³).
    pub fn interval(&self) -> (f64, f64) {
        match self.recipe.schedule {
            Some(choice) => choice.build().sampling_interval(),
            None => (0.0, 1.0),
        }
    }

    /// `n` start points at t_start drawn with `seed`: the source's points, scaled by σ_{t_start}
    /// for a diffusion method (its prior N(0, σ² I): σ_max = 50 for VE, 80 for EDM, ≈ 1 for VP).
    pub fn prior(&self, n: usize, seed: u64) -> Matrix {
        match self.recipe.schedule {
            Some(choice) => self.prior_at(n, seed, choice.build().sigma(self.interval().0)),
            None => self.recipe.source.draw_fresh(n, seed),
        }
    }

    /// `n` source points drawn with `seed` and scaled by `sigma`: a diffusion sampler's start at a
    /// first level of noise σ (the α x1 part of x_t is negligible where σ ≫ α).
    pub fn prior_at(&self, n: usize, seed: u64, sigma: f64) -> Matrix {
        let x = self.recipe.source.draw_fresh(n, seed);
        Matrix::from_fn(x.rows(), x.cols(), |i, j| sigma * x.get(i, j))
    }
}
