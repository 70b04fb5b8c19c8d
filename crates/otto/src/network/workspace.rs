//! Scratch memory for the passes: one block of buffers per thread, sized once for a maximum batch,
//! so that forward, backward and JVP never allocate.

use super::mlp::Mlp;
use super::NetworkError;

/// Preallocated buffers for running an [`Mlp`] on batches of up to `capacity` rows with a fixed
/// number of threads. The batch is split into `threads` contiguous blocks of ⌈n / threads⌉ rows;
/// the calling thread processes the first block and rayon's workers the others, so results depend
/// on the thread count and on nothing else (see the determinism note in [`crate::network`]).
#[derive(Debug, Clone)]
pub struct Workspace {
    pub(crate) blocks: Vec<BlockBuffers>,
    capacity: usize,
    shape: Shape,
    /// The batch size of a forward pass whose activations are kept for one backward pass
    /// ([`Mlp::forward_cached`](super::Mlp::forward_cached)).
    pub(crate) cached_rows: Option<usize>,
}

/// What a workspace's buffer sizes depend on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Shape {
    pub input_cols: usize,
    pub width: usize,
    pub depth: usize,
    pub output_dim: usize,
    pub data_dim: usize,
    pub num_params: usize,
}

impl std::fmt::Display for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "input {} (data {}), width {}, depth {}, output {}, {} parameters",
            self.input_cols,
            self.data_dim,
            self.width,
            self.depth,
            self.output_dim,
            self.num_params
        )
    }
}

/// The buffers of one thread's block of rows. Layer buffers have a fixed stride of `rows · width`
/// whatever the actual block size.
#[derive(Debug, Clone)]
pub(crate) struct BlockBuffers {
    /// Rows this block can hold.
    pub rows: usize,
    /// Network input rows `[x, emb(t)]`, rows × input_cols.
    pub input: Vec<f32>,
    /// Hidden activations h_l after each hidden layer, depth × rows × width.
    pub hidden: Vec<f32>,
    /// φ'(z_l) after the forward pass; overwritten by δ_l = ∂L/∂z_l in the backward pass.
    pub slope: Vec<f32>,
    /// ∂L/∂h of the current layer (backward), or the tangent (JVP), rows × width.
    pub delta: Vec<f32>,
    /// The second tangent buffer of the JVP, rows × width.
    pub tangent: Vec<f32>,
    /// Network output, then ∂L/∂output, rows × output_dim.
    pub output: Vec<f32>,
    /// This block's parameter gradient.
    pub grads: Vec<f32>,
    /// This block's Σ w_i ‖f_i − y_i‖² (not yet divided by n · output_dim).
    pub loss: f64,
    /// The network's weights transposed (`Mlp::transpose_weights_into`), as of the parameter
    /// version `weights_version`; refreshed by [`BlockBuffers::refresh_transposed_weights`].
    pub weights_t: Vec<f32>,
    weights_version: Option<u64>,
}

impl Workspace {
    /// Buffers for batches of up to `capacity` rows, split across rayon's current thread count.
    pub fn new(mlp: &Mlp, capacity: usize) -> Self {
        Self::with_threads(mlp, capacity, rayon::current_num_threads())
    }

    /// Buffers for batches of up to `capacity` rows, split into `threads` blocks (at least 1).
    /// Results are bit-identical for a fixed `threads`, whatever pool runs them.
    pub fn with_threads(mlp: &Mlp, capacity: usize, threads: usize) -> Self {
        let shape = mlp.shape();
        let threads = threads.max(1);
        let rows = capacity.div_ceil(threads);
        // One fresh zeroed allocation per block, not clones of one: the allocator hands out
        // untouched zero pages, so a forward-only use never faults in the slope, delta and tangent
        // buffers (cloning would copy, and so fault in, every byte up front).
        let block = || BlockBuffers {
            rows,
            input: vec![0.0; rows * shape.input_cols],
            hidden: vec![0.0; shape.depth * rows * shape.width],
            slope: vec![0.0; shape.depth * rows * shape.width],
            delta: vec![0.0; rows * shape.width],
            tangent: vec![0.0; rows * shape.width],
            output: vec![0.0; rows * shape.output_dim],
            grads: vec![0.0; shape.num_params],
            loss: 0.0,
            weights_t: vec![0.0; shape.num_params],
            weights_version: None,
        };
        Workspace {
            blocks: (0..threads).map(|_| block()).collect(),
            capacity,
            shape,
            cached_rows: None,
        }
    }

    /// The largest batch this workspace holds.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The number of blocks (threads) a batch is split into.
    pub fn threads(&self) -> usize {
        self.blocks.len()
    }

    /// Rows per block for a batch of `n`: ⌈n / threads⌉.
    pub(crate) fn block_rows(&self, n: usize) -> usize {
        n.div_ceil(self.blocks.len()).max(1)
    }

    /// Checks that this workspace fits `mlp` and a batch of `n` rows.
    pub(crate) fn check(&self, mlp: &Mlp, n: usize) -> Result<(), NetworkError> {
        let expected = mlp.shape();
        if expected != self.shape {
            return Err(NetworkError::WorkspaceMismatch {
                expected: expected.to_string(),
                got: self.shape.to_string(),
            });
        }
        if n > self.capacity {
            return Err(NetworkError::BatchTooLarge {
                batch: n,
                capacity: self.capacity,
            });
        }
        Ok(())
    }
}

impl BlockBuffers {
    /// `mlp`'s weights transposed, rebuilt in place (no allocation) when its parameters changed
    /// since this block last built them — once per optimizer step in training, once per network
    /// in sampling.
    pub fn refresh_transposed_weights(&mut self, mlp: &Mlp) {
        if self.weights_version != Some(mlp.version()) {
            mlp.transpose_weights_into(&mut self.weights_t);
            self.weights_version = Some(mlp.version());
        }
    }
}
