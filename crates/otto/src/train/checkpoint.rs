//! Checkpoints: everything `otto train --resume` needs to continue a run bit for bit — the
//! weights, AdamW's moments and step, the EMA, the completed step and the position of the run's
//! random stream (and, for reports, the training wall time so far). Written as
//! `checkpoint.safetensors` (tensors, with the step in its metadata) and `checkpoint.json`, each
//! atomically, plus `model.safetensors` (and `ema.safetensors`) for use;
//! SF2M's score network goes under the same names with a `score_` prefix (tensors, JSON keys) and
//! into `score.safetensors` (and `score-ema.safetensors`).

use std::collections::HashMap;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use safetensors::tensor::{Dtype, TensorView};
use safetensors::SafeTensors;
use serde_json::json;

use super::config::TrainConfig;
use super::run::{RunDir, RunError};
use super::trainer::{optimizer, Net, TrainError, TrainState};
use crate::network::{AdamW, Ema, Mlp, MlpConfig};

/// One network's part of a checkpoint: weights, AdamW's moments and step, the EMA.
struct NetParts {
    params: Vec<f32>,
    adam_m: Vec<f32>,
    adam_v: Vec<f32>,
    adam_step: u64,
    ema: Option<Vec<f32>>,
}

/// A loaded checkpoint.
pub struct Checkpoint {
    /// Completed optimizer steps.
    pub step: usize,
    /// Training wall time up to `step` ([`TrainState::train_seconds`]; `None` in checkpoints
    /// written before otto kept it).
    pub train_seconds: Option<f64>,
    main: NetParts,
    score: Option<NetParts>,
    rng_word_pos: u128,
}

/// The file names of a network's weights for use: (model, EMA).
pub(super) fn model_files(score: bool) -> (&'static str, &'static str) {
    if score {
        ("score.safetensors", "score-ema.safetensors")
    } else {
        ("model.safetensors", "ema.safetensors")
    }
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
        // (tensor-name prefix, network, optimizer, EMA) of the main and the score network.
        let nets: Vec<(&str, &Mlp, &AdamW, Option<&Ema>)> =
            std::iter::once(("", &state.mlp, &state.optimizer, state.ema.as_ref()))
                .chain(
                    state
                        .score
                        .as_ref()
                        .map(|net| ("score_", &net.mlp, &net.optimizer, net.ema.as_ref())),
                )
                .collect();
        let mut tensors = Vec::new();
        for &(prefix, mlp, optimizer, ema) in &nets {
            let (m, v) = optimizer.moments();
            tensors.push((format!("{prefix}params"), bytes(mlp.params())));
            tensors.push((format!("{prefix}adam_m"), bytes(m)));
            tensors.push((format!("{prefix}adam_v"), bytes(v)));
            if let Some(ema) = ema {
                tensors.push((format!("{prefix}ema"), bytes(ema.shadow())));
            }
        }
        let views: Vec<(&str, TensorView)> = tensors
            .iter()
            .map(|(name, data)| {
                let view = TensorView::new(Dtype::F32, vec![data.len() / 4], data)
                    .expect("the byte length matches the shape");
                (name.as_str(), view)
            })
            .collect();
        let metadata = HashMap::from([("step".to_string(), state.step.to_string())]);
        let blob = safetensors::serialize(views, Some(metadata))
            .map_err(|e| invalid(run, "checkpoint.safetensors", e.to_string()))?;
        run.write("checkpoint.safetensors", &blob)?;
        let mut info = json!({
            "step": state.step,
            "rng_word_pos": state.rng.get_word_pos().to_string(),
            "train_seconds": state.train_seconds,
        });
        for &(prefix, mlp, optimizer, ema) in &nets {
            info[format!("{prefix}adam_step")] = json!(optimizer.step_count());
            let (model, ema_file) = model_files(!prefix.is_empty());
            mlp.save_safetensors(run.file(model))?;
            if let Some(ema) = ema {
                mlp.save_params_safetensors(ema.shadow(), run.file(ema_file))?;
            }
        }
        run.write("checkpoint.json", info.to_string().as_bytes())?;
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
        let rng_word_pos: u128 = info["rng_word_pos"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| invalid(run, "checkpoint.json", "missing 'rng_word_pos'"))?;
        let train_seconds = match &info["train_seconds"] {
            serde_json::Value::Null => None,
            value => value
                .as_f64()
                .filter(|s| s.is_finite() && *s >= 0.0)
                .map(Some)
                .ok_or_else(|| {
                    invalid(
                        run,
                        "checkpoint.json",
                        "'train_seconds' is not a non-negative number",
                    )
                })?,
        };
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
        let parts = |prefix: &str| -> Result<NetParts, TrainError> {
            Ok(NetParts {
                params: need(&format!("{prefix}params"))?,
                adam_m: need(&format!("{prefix}adam_m"))?,
                adam_v: need(&format!("{prefix}adam_v"))?,
                adam_step: field(&format!("{prefix}adam_step"))?,
                ema: read(&format!("{prefix}ema"))?,
            })
        };
        let score = match read("score_params")? {
            Some(_) => Some(parts("score_")?),
            None => None,
        };
        Ok(Self {
            step,
            train_seconds,
            main: parts("")?,
            score,
            rng_word_pos,
        })
    }

    /// Rebuilds the training state for the network `mlp_config` of the run's `config` (SF2M:
    /// also its score network, of the same configuration).
    pub fn into_state(
        self,
        mlp_config: MlpConfig,
        config: &TrainConfig,
    ) -> Result<TrainState, TrainError> {
        let wants_score = config.method == super::config::Method::Sf2m;
        if wants_score != self.score.is_some() {
            return Err(TrainError::Config(format!(
                "the checkpoint {} a score network but the configured {} run {}",
                if self.score.is_some() {
                    "holds"
                } else {
                    "lacks"
                },
                config.method.name(),
                if wants_score {
                    "needs one (SF2M trains two networks)"
                } else {
                    "has none"
                }
            )));
        }
        let main = self.main.into_net(mlp_config, config)?;
        let score = self
            .score
            .map(|parts| parts.into_net(mlp_config, config))
            .transpose()?;
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        rng.set_word_pos(self.rng_word_pos);
        Ok(TrainState {
            step: self.step,
            mlp: main.mlp,
            optimizer: main.optimizer,
            ema: main.ema,
            rng,
            score,
            train_seconds: self.train_seconds,
        })
    }
}

impl NetParts {
    /// The network `mlp_config` with these weights, optimizer state and EMA.
    fn into_net(self, mlp_config: MlpConfig, config: &TrainConfig) -> Result<Net, TrainError> {
        let mut mlp = Mlp::new(mlp_config, config.seed)?;
        if self.params.len() != mlp.num_params() {
            return Err(TrainError::Config(format!(
                "the checkpoint holds {} parameters but the configured network has {}",
                self.params.len(),
                mlp.num_params()
            )));
        }
        mlp.params_mut().copy_from_slice(&self.params);
        let mut optimizer = optimizer(config, mlp.num_params());
        optimizer.set_state(self.adam_step, &self.adam_m, &self.adam_v)?;
        let ema = match self.ema {
            Some(shadow) => {
                let mut ema = Ema::new(config.ema_decay as f32, &shadow)?;
                ema.set_shadow(&shadow)?;
                Some(ema)
            }
            None => None,
        };
        Ok(Net {
            mlp,
            optimizer,
            ema,
        })
    }
}
