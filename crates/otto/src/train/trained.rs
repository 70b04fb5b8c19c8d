//! A finished (or checkpointed) run as something to sample from: its configuration and its
//! network read as a field through the method's parameterization.

use super::config::{Method, TrainConfig};
use super::run::RunDir;
use super::trainer::{Recipe, TrainError};
use crate::field::model::NetworkField;
use crate::network::Mlp;
use crate::path::{Schedule, VpLinear};

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
        let schedule: Option<Box<dyn Schedule>> = match config.method {
            Method::Ddpm => Some(Box::new(VpLinear::default())),
            Method::ICfm | Method::OtCfm => None,
        };
        let field = NetworkField::new(mlp, recipe.objective.parameterization(), schedule)
            .map_err(|e| TrainError::Config(e.to_string()))?;
        Ok(Self {
            config,
            recipe,
            field,
        })
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
