//! Training: configuration, learning-rate schedule, run directories and the trainer loop. The
//! trainer knows nothing about any method: it draws batches, asks the objective for regression
//! targets, has the network compute loss and gradients, steps AdamW, keeps an EMA, checkpoints and
//! reports progress.

pub mod config;
pub mod lr;
pub mod run;

pub use config::{Method, TrainConfig};
pub use lr::LrSchedule;
pub use run::{write_atomic, RunDir, RunError};
