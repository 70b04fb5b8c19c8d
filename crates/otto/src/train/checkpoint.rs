//! Checkpoints: everything `otto train --resume` needs to continue a run bit for bit — the
//! weights, AdamW's moments and step, the EMA, the completed step and the position of the run's
//! random stream. Written as `checkpoint.safetensors` (tensors, with the step in its metadata) and
//! `checkpoint.json`, each atomically, plus `model.safetensors` (and `ema.safetensors`) for use.

use std::collections::HashMap;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use safetensors::tensor::{Dtype, TensorView};
use safetensors::SafeTensors;
use serde_json::json;

use super::config::TrainConfig;
use super::run::{RunDir, RunError};
use super::trainer::{optimizer, TrainError, TrainState};
use crate::network::{Ema, Mlp, MlpConfig};

/// A loaded checkpoint.
pub struct Checkpoint {
    /// Completed optimizer steps.
    pub step: usize,
    params: Vec<f32>,
    adam_m: Vec<f32>,
    adam_v: Vec<f32>,
    adam_step: u64,
    ema: Option<Vec<f32>>,
    rng_word_pos: u128,
}

fn bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn invalid(run: &RunDir, name: &str, reason: impl Into<String>) -> TrainError {
    TrainError::Run(RunError::Invalid {
        path: run.file(name),
        reason: reason.into(),
    })
}

impl Checkpoint {
    /// Writes the checkpoint files and the model (and EMA) weights of `state`.
    pub fn save(run: &RunDir, state: &TrainState) -> Result<(), TrainError> {
        let (m, v) = state.optimizer.moments();
        let mut tensors = vec![
            ("params", bytes(state.mlp.params())),
            ("adam_m", bytes(m)),
            ("adam_v", bytes(v)),
        ];
        if let Some(ema) = &state.ema {
            tensors.push(("ema", bytes(ema.shadow())));
        }
        let views: Vec<(&str, TensorView)> = tensors
            .iter()
            .map(|(name, data)| {
                let view = TensorView::new(Dtype::F32, vec![data.len() / 4], data)
                    .expect("the byte length matches the shape");
                (*name, view)
            })
            .collect();
        let metadata = HashMap::from([("step".to_string(), state.step.to_string())]);
        let blob = safetensors::serialize(views, Some(metadata))
            .map_err(|e| invalid(run, "checkpoint.safetensors", e.to_string()))?;
        run.write("checkpoint.safetensors", &blob)?;
        let info = json!({
            "step": state.step,
            "adam_step": state.optimizer.step_count(),
            "rng_word_pos": state.rng.get_word_pos().to_string(),
        });
        run.write("checkpoint.json", info.to_string().as_bytes())?;
        state.mlp.save_safetensors(run.file("model.safetensors"))?;
        if let Some(ema) = &state.ema {
            state
                .mlp
                .save_params_safetensors(ema.shadow(), run.file("ema.safetensors"))?;
        }
        Ok(())
    }

    /// Reads the checkpoint of a run, checking that its two files agree.
    pub fn load(run: &RunDir) -> Result<Self, TrainError> {
        if !run.file("checkpoint.json").exists() {
            return Err(invalid(
                run,
                "checkpoint.json",
                "no checkpoint yet: the run stopped before its first checkpoint (checkpoint_every in config.toml); start it again without --resume",
            ));
        }
        let info: serde_json::Value = serde_json::from_str(&run.read_to_string("checkpoint.json")?)
            .map_err(|e| invalid(run, "checkpoint.json", format!("not JSON ({e})")))?;
        let field = |key: &str| {
            info[key]
                .as_u64()
                .ok_or_else(|| invalid(run, "checkpoint.json", format!("missing '{key}'")))
        };
        let step = field("step")? as usize;
        let adam_step = field("adam_step")?;
        let rng_word_pos: u128 = info["rng_word_pos"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| invalid(run, "checkpoint.json", "missing 'rng_word_pos'"))?;
        let path = run.file("checkpoint.safetensors");
        let blob = std::fs::read(&path).map_err(|error| RunError::Io { path, error })?;
        let (_, meta) = SafeTensors::read_metadata(&blob)
            .map_err(|e| invalid(run, "checkpoint.safetensors", e.to_string()))?;
        let tensor_step = meta
            .metadata()
            .as_ref()
            .and_then(|m| m.get("step"))
            .and_then(|s| s.parse::<usize>().ok());
        if tensor_step != Some(step) {
            return Err(invalid(
                run,
                "checkpoint.safetensors",
                format!("holds step {tensor_step:?} but checkpoint.json says {step}; the run was interrupted while checkpointing — the files disagree"),
            ));
        }
        let tensors = SafeTensors::deserialize(&blob)
            .map_err(|e| invalid(run, "checkpoint.safetensors", e.to_string()))?;
        let read = |name: &str| -> Result<Option<Vec<f32>>, TrainError> {
            match tensors.tensor(name) {
                Ok(view) => Ok(Some(
                    view.data()
                        .chunks_exact(4)
                        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                        .collect(),
                )),
                Err(_) => Ok(None),
            }
        };
        let need = |name: &str| {
            read(name)?.ok_or_else(|| {
                invalid(
                    run,
                    "checkpoint.safetensors",
                    format!("missing tensor '{name}'"),
                )
            })
        };
        Ok(Self {
            step,
            params: need("params")?,
            adam_m: need("adam_m")?,
            adam_v: need("adam_v")?,
            adam_step,
            ema: read("ema")?,
            rng_word_pos,
        })
    }

    /// Rebuilds the training state for the network `mlp_config` of the run's `config`.
    pub fn into_state(
        self,
        mlp_config: MlpConfig,
        config: &TrainConfig,
    ) -> Result<TrainState, TrainError> {
        let mut mlp = Mlp::new(mlp_config, config.seed)?;
        if self.params.len() != mlp.num_params() {
            return Err(TrainError::Config(format!(
                "the checkpoint holds {} parameters but the configured network has {}",
                self.params.len(),
                mlp.num_params()
            )));
        }
        mlp.params_mut().copy_from_slice(&self.params);
        let mut opt = optimizer(config, mlp.num_params());
        opt.set_state(self.adam_step, &self.adam_m, &self.adam_v)?;
        let ema = match self.ema {
            Some(shadow) => {
                let mut ema = Ema::new(config.ema_decay as f32, &shadow)?;
                ema.set_shadow(&shadow)?;
                Some(ema)
            }
            None => None,
        };
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        rng.set_word_pos(self.rng_word_pos);
        Ok(TrainState {
            step: self.step,
            mlp,
            optimizer: opt,
            ema,
            rng,
        })
    }
}
