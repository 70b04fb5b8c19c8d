//! A finished (or checkpointed) run as something to sample from: its configuration and its
//! network read as a field through the method's parameterization.

use super::config::{Method, TrainConfig};
use super::run::RunDir;
use super::trainer::{Recipe, TrainError};
use otto_ot::Matrix;

use crate::data::GaussianMixture;
use crate::field::{NetworkField, VectorField};
use crate::network::Mlp;
use crate::path::{Schedule, VpLinear};

/// The schedule of the run's affine path from noise, if it has one (`None` for torchcfm's
/// interpolants).
fn schedule(config: &TrainConfig) -> Option<Box<dyn Schedule>> {
    match config.method {
        Method::Ddpm => Some(Box::new(VpLinear::default())),
        Method::ICfm | Method::OtCfm => None,
    }
}

/// A run whose likelihood cannot be computed: its source has no closed-form density.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the source '{source_name}' of this run has no known density; likelihoods need a source whose law otto knows in closed form: gaussian, gaussian:D, 8gaussians or dsb-8gaussians")]
pub struct UnknownDensity {
    /// The run's source, as configured.
    pub source_name: String,
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
        let text = run.read_to_string("config.toml")?;
        let config = TrainConfig::from_toml(&text).map_err(|e| {
            TrainError::Config(format!("{}: {}", run.file("config.toml").display(), e))
        })?;
        let recipe = Recipe::from_config(&config)?;
        let weights = if ema {
            "ema.safetensors"
        } else {
            "model.safetensors"
        };
        let mlp = Mlp::load_safetensors(run.file(weights))?;
        let field = NetworkField::new(mlp, recipe.objective.parameterization(), schedule(&config))
            .map_err(|e| TrainError::Config(e.to_string()))?;
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
    /// - DDPM, the affine path `x_t = α_t x1 + σ_t x0`, x0 ~ N(0, I): N(0, σ_0² I). This drops the
    ///   data term α_0 x1 (α_0 = e^{−(β0 + β1)/4} ≈ 6.4e-3 for VP-linear), an approximation of
    ///   the true law α_0 x1 + σ_0 x0 whose effect on log p is of order α_0² ‖x1‖² ≈ 4e-5 ‖x1‖².
    ///
    /// Errors: [`UnknownDensity`] when the source is a data set without a closed-form density
    /// (a file, or a built-in set other than `gaussian`, `8gaussians`, `dsb-8gaussians`).
    pub fn source_density(&self) -> Result<GaussianMixture, UnknownDensity> {
        match schedule(&self.config) {
            Some(s) => {
                let d = self.field.dim();
                let variance = s.sigma(0.0).powi(2);
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
                .map(|m| m.convolved(self.config.sigma).expect("σ² I keeps S_k SPD"))
                .ok_or_else(|| UnknownDensity {
                    source_name: self.config.source.clone(),
                }),
        }
    }

    /// The end time of sampling: 1, or 1 − 10⁻³ for ε-prediction, whose conversion to a velocity
    /// divides by σ_t = 0 at t = 1 (the usual truncation of diffusion samplers, Song et al. 2021).
    pub fn end_time(&self) -> f64 {
        match self.config.method {
            Method::Ddpm => 1.0 - 1e-3,
            Method::ICfm | Method::OtCfm => 1.0,
        }
    }
}
