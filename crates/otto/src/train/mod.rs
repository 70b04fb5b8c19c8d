//! Training: configuration, learning-rate schedule, run directories, checkpoints and the trainer
//! loop. The trainer knows nothing about any method: it draws batches, asks the objective for
//! regression targets, has the network compute loss and gradients, steps AdamW, keeps an EMA,
//! checkpoints and reports progress.

pub mod checkpoint;
pub mod config;
pub mod drifting;
pub mod lr;
pub mod run;
pub mod trained;
pub mod trainer;

pub use checkpoint::Checkpoint;
pub use config::{Method, TrainConfig};
pub use lr::LrSchedule;
pub use run::{write_atomic, RunDir, RunError};
pub use trained::{TrainedGenerator, TrainedRun, UnknownDensity};
pub use trainer::{
    mlp_config, snapshot_name, train, Observer, Recipe, Silent, StepReport, TrainError, TrainState,
};
