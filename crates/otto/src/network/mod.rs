//! otto's CPU network engine: a fused multilayer perceptron in the spirit of tiny-cuda-nn's fully
//! fused MLPs (Müller et al. 2021), trained with AdamW and averaged with an EMA.
//!
//! Every objective otto trains is a weighted regression of the network output onto a target computed
//! without gradients, so the engine offers exactly what those need: [`Mlp::forward`],
//! [`Mlp::loss_and_grad`] (mean squared error, per-sample weights, gradient with respect to all
//! parameters) and [`Mlp::jvp_input`] (input Jacobian–vector products, for divergences and
//! likelihoods).
//!
//! How it is fast: all parameters live in one flat f32 buffer (PyTorch `nn.Linear` layout, layer
//! after layer: weight `out × in` row-major, then bias); a batch is split into one contiguous block
//! of rows per thread, and each thread runs the whole forward and backward pass on its block with
//! single-threaded GEMMs (faer's `matmul`; a layer's product into 64 columns on an AVX-512 CPU
//! runs the engine's own register-tiled kernel, bit-identical to faer's and 10% faster, see
//! `matmul.rs`), the bias and activation fused into one sweep after each GEMM; per-thread gradients are summed once at the end; [`AdamW`] and [`Ema`] are single
//! fused passes over the flat buffer. Called from outside rayon's pool, the calling thread takes the
//! first block itself; for the lowest latency run the training loop inside rayon's pool
//! (`rayon::scope` / `ThreadPool::install`), so that no thread ever sleeps on a latch between steps. A [`Workspace`] preallocates every buffer
//! for a maximum batch and faer keeps its packing buffers off the heap, so a step inside the pool
//! allocates nothing (`tests/step_allocations.rs` counts; called from outside the pool, rayon
//! allocates one small job per extra block per pass).
//!
//! Determinism: for a fixed thread count (the workspace's), forward outputs, JVPs, losses and
//! gradients are bit-identical run to run. Across thread counts they agree to f32 round-off: a
//! row's forward value is computed in the same order whatever block it falls in *unless* the GEMM
//! picks a different kernel for a different block size (it uses dot-product kernels for
//! products with m·n ≤ 256, e.g. blocks of ≤ 128 rows for a 2-D output, and GEMV for one row), and
//! gradients are per-block sums added in block order.
//!
//! Files: [`Mlp::save_safetensors`] writes PyTorch `nn.Sequential` names (`0.weight`, `0.bias`,
//! `2.weight`, …), see [`safetensors_io`] for how to load them into PyTorch.

pub mod activation;
pub mod adamw;
mod backprop;
pub mod ema;
mod matmul;
pub mod mlp;
#[cfg(test)]
mod reference;
pub mod safetensors_io;
pub mod time_embedding;
mod workspace;

pub use activation::{Activation, UnknownActivation};
pub use adamw::AdamW;
pub use ema::Ema;
pub use mlp::{Mlp, MlpConfig};
pub use time_embedding::TimeEmbedding;
pub use workspace::Workspace;

use std::path::PathBuf;

/// x, or 0 where |x| is below f32's smallest normal number (NaN stays NaN). For values the engine
/// stores and reads again — the deltas of a backward pass, AdamW's first moment — whose size below
/// ≈ 1e-38 cannot change a result: on x86 every multiply that reads or produces a subnormal
/// number takes a microcode assist, so a first moment decaying by β₁ per step after its gradient
/// stopped, or a saturated unit's delta, slowed every later step (BENCHMARKS.md, eighth session).
#[inline(always)]
pub(crate) fn flush_subnormal(x: f32) -> f32 {
    if x.abs() < f32::MIN_POSITIVE {
        0.0
    } else {
        x
    }
}

/// Fails with [`NetworkError::Length`] naming `what` unless `got == expected`.
pub(crate) fn check_len(
    what: &'static str,
    expected: usize,
    got: usize,
) -> Result<(), NetworkError> {
    if expected == got {
        Ok(())
    } else {
        Err(NetworkError::Length {
            what,
            expected,
            got,
        })
    }
}

/// Everything that can go wrong building, running, or loading a network, with the name of the
/// offending field, buffer or tensor.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    /// A configuration or option field is out of range.
    #[error("invalid {field} = {value}: {reason}")]
    Config {
        /// The field, e.g. `width`.
        field: &'static str,
        /// The offending value.
        value: String,
        /// What the field must satisfy.
        reason: &'static str,
    },
    /// A buffer passed to the network has the wrong length for the batch.
    #[error("{what} has length {got}, expected {expected}")]
    Length {
        /// The buffer, e.g. `x (n × input_dim)`.
        what: &'static str,
        /// The length the batch and network imply.
        expected: usize,
        /// The length passed.
        got: usize,
    },
    /// A loss needs at least one sample.
    #[error("the batch is empty (n = 0); the mean squared error needs at least one sample")]
    EmptyBatch,
    /// A cached backward pass without the forward pass it needs.
    #[error("no forward pass of {rows} rows is cached in this workspace; call Mlp::forward_cached on the same batch first")]
    NoCachedForward {
        /// Rows of the backward pass.
        rows: usize,
    },
    /// The batch does not fit the workspace.
    #[error("batch of {batch} rows exceeds the workspace capacity of {capacity}; build a larger Workspace")]
    BatchTooLarge {
        /// Rows in the batch.
        batch: usize,
        /// Rows the workspace was built for.
        capacity: usize,
    },
    /// The workspace was built for a network of another shape.
    #[error("workspace was built for a network with {got}, but this network has {expected}")]
    WorkspaceMismatch {
        /// This network's shape.
        expected: String,
        /// The shape the workspace was built for.
        got: String,
    },
    /// Reading or writing a file failed (the message carries the I/O error; it is not chained as
    /// a `source` too, so that an error report names it once).
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating-system error.
        error: std::io::Error,
    },
    /// A file is not a readable safetensors file.
    #[error("{path}: not a readable safetensors file: {message}")]
    Safetensors {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        message: String,
    },
    /// A tensor the network needs is missing from a file.
    #[error("{path}: missing tensor '{key}' (expected f32 of shape {expected:?})")]
    MissingTensor {
        /// The file.
        path: PathBuf,
        /// The tensor name, e.g. `2.weight`.
        key: String,
        /// The shape the network needs.
        expected: Vec<usize>,
    },
    /// A tensor in a file has the wrong shape or element type.
    #[error("{path}: tensor '{key}' is {got}, expected f32 of shape {expected:?}")]
    TensorMismatch {
        /// The file.
        path: PathBuf,
        /// The tensor name.
        key: String,
        /// The shape the network needs.
        expected: Vec<usize>,
        /// The dtype and shape found.
        got: String,
    },
    /// A file holds a tensor this network does not have (e.g. a deeper network's layer).
    #[error("{path}: unexpected tensor '{key}'; this network's tensors are {expected}")]
    UnexpectedTensor {
        /// The file.
        path: PathBuf,
        /// The tensor name.
        key: String,
        /// The names the network has, comma-separated.
        expected: String,
    },
    /// A file lacks the metadata that describes the network, or holds an invalid value there.
    #[error("{path}: metadata '{key}': {message}")]
    Metadata {
        /// The file.
        path: PathBuf,
        /// The metadata key, e.g. `otto.width`.
        key: String,
        /// What is wrong.
        message: String,
    },
}
