//! The multilayer perceptron f(t, x): its configuration, parameter layout and initialization, and
//! the public passes (forward, loss and gradient, input JVP) that split a batch across threads.
//! The per-block mathematics is in `backprop.rs`.

use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use super::backprop;
use super::workspace::{BlockBuffers, Shape};
use super::{check_len, Activation, NetworkError, TimeEmbedding, Workspace};

/// The architecture of an [`Mlp`]: `[x, emb(t)] → width → … → width → output_dim`, with `depth`
/// hidden layers (so `depth + 1` linear layers), an activation after every hidden layer and none
/// after the output layer. torchcfm's `MLP(dim=2, w=64)` is `MlpConfig::new(2, 2)` (the
/// default): 3→64→64→64→2 with SELU.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MlpConfig {
    /// Data dimension d (columns of x).
    pub input_dim: usize,
    /// Output dimension (usually d, for a velocity or score).
    pub output_dim: usize,
    /// Units in every hidden layer.
    pub width: usize,
    /// Number of hidden layers (≥ 1).
    pub depth: usize,
    /// The nonlinearity after each hidden layer.
    pub activation: Activation,
    /// How t enters the input row.
    pub time_embedding: TimeEmbedding,
    /// When set, hidden width → width layers compute h ← h + φ(W h + b) (He et al. 2016).
    pub residual: bool,
}

impl Default for MlpConfig {
    /// torchcfm's toy MLP: 2-D data, 3 hidden layers of 64, SELU, t appended.
    fn default() -> Self {
        MlpConfig {
            input_dim: 2,
            output_dim: 2,
            width: 64,
            depth: 3,
            activation: Activation::Selu,
            time_embedding: TimeEmbedding::Concat,
            residual: false,
        }
    }
}

impl MlpConfig {
    /// The default architecture for `input_dim`-dimensional data and `output_dim` outputs.
    pub fn new(input_dim: usize, output_dim: usize) -> Self {
        MlpConfig {
            input_dim,
            output_dim,
            ..Default::default()
        }
    }

    /// Sets the hidden width.
    pub fn width(mut self, width: usize) -> Self {
        self.width = width;
        self
    }

    /// Sets the number of hidden layers.
    pub fn depth(mut self, depth: usize) -> Self {
        self.depth = depth;
        self
    }

    /// Sets the activation.
    pub fn activation(mut self, activation: Activation) -> Self {
        self.activation = activation;
        self
    }

    /// Sets the time embedding.
    pub fn time_embedding(mut self, time_embedding: TimeEmbedding) -> Self {
        self.time_embedding = time_embedding;
        self
    }

    /// Turns residual hidden layers on or off.
    pub fn residual(mut self, residual: bool) -> Self {
        self.residual = residual;
        self
    }

    /// Columns of the network's input row: d plus the embedding's dimension.
    pub fn input_cols(&self) -> usize {
        self.input_dim + self.time_embedding.dim()
    }

    /// Checks every field; the error names the first bad one.
    pub fn validate(&self) -> Result<(), NetworkError> {
        let positive = [
            ("input_dim", self.input_dim),
            ("output_dim", self.output_dim),
            ("width", self.width),
            ("depth", self.depth),
        ];
        for (field, value) in positive {
            if value == 0 {
                return Err(NetworkError::Config {
                    field,
                    value: "0".into(),
                    reason: "must be at least 1",
                });
            }
        }
        self.time_embedding.validate()
    }
}

/// Where one linear layer's parameters sit in the flat buffer, PyTorch `nn.Linear` layout: weight
/// `out_dim × in_dim` row-major, then bias `out_dim`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Layer {
    pub in_dim: usize,
    pub out_dim: usize,
    pub offset: usize,
    /// h ← h + φ(W h + b) instead of h ← φ(W h + b).
    pub residual: bool,
}

impl Layer {
    pub fn weight(&self) -> Range<usize> {
        self.offset..self.offset + self.out_dim * self.in_dim
    }

    pub fn bias(&self) -> Range<usize> {
        let start = self.offset + self.out_dim * self.in_dim;
        start..start + self.out_dim
    }
}

/// A fused MLP f(t, x) with all parameters in one flat f32 buffer (see [`crate::network`]).
#[derive(Debug, Clone)]
pub struct Mlp {
    config: MlpConfig,
    layers: Vec<Layer>,
    params: Vec<f32>,
    frequencies: Vec<f32>,
    /// Names these parameter values among all networks of the process: a new one is drawn
    /// whenever they may change ([`Mlp::params_mut`]), so that a workspace's transposed copy of
    /// the weights knows when it is stale (a clone shares the values, and so the version).
    version: u64,
}

/// Two networks are equal when their architecture and parameters are.
impl PartialEq for Mlp {
    fn eq(&self, other: &Self) -> bool {
        (&self.config, &self.layers, &self.params, &self.frequencies)
            == (
                &other.config,
                &other.layers,
                &other.params,
                &other.frequencies,
            )
    }
}

/// A version no network of this process has had.
fn fresh_version() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

impl Mlp {
    /// A network with PyTorch's default `nn.Linear` initialization, seeded: weights and biases
    /// uniform on ±1/√fan_in (kaiming-uniform with a = √5 gives exactly this bound for the
    /// weights). Same seed, same parameters. Fourier time frequencies come from the same seed on
    /// a separate stream.
    pub fn new(config: MlpConfig, seed: u64) -> Result<Self, NetworkError> {
        let mut mlp = Self::zeroed(config)?;
        mlp.frequencies = config.time_embedding.frequencies(seed);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        for layer in mlp.layers.clone() {
            let bound = 1.0 / (layer.in_dim as f32).sqrt();
            for p in &mut mlp.params[layer.offset..layer.bias().end] {
                *p = rng.gen_range(-bound..bound);
            }
        }
        Ok(mlp)
    }

    /// The layout for `config` with all parameters zero and no frequencies (filled by the caller).
    pub(crate) fn zeroed(config: MlpConfig) -> Result<Self, NetworkError> {
        config.validate()?;
        let mut layers = Vec::with_capacity(config.depth + 1);
        let mut offset = 0;
        for l in 0..=config.depth {
            let in_dim = if l == 0 {
                config.input_cols()
            } else {
                config.width
            };
            let out_dim = if l == config.depth {
                config.output_dim
            } else {
                config.width
            };
            let residual = config.residual && l > 0 && l < config.depth;
            layers.push(Layer {
                in_dim,
                out_dim,
                offset,
                residual,
            });
            offset += out_dim * (in_dim + 1);
        }
        Ok(Mlp {
            config,
            layers,
            params: vec![0.0; offset],
            frequencies: Vec::new(),
            version: fresh_version(),
        })
    }

    /// The architecture.
    pub fn config(&self) -> &MlpConfig {
        &self.config
    }

    /// All parameters, layer after layer (weight `out × in` row-major, then bias), the order of
    /// PyTorch's `nn.Sequential.parameters()`.
    pub fn params(&self) -> &[f32] {
        &self.params
    }

    /// All parameters, mutably (for an optimizer step or loading).
    pub fn params_mut(&mut self) -> &mut [f32] {
        self.version = fresh_version();
        &mut self.params
    }

    /// The version of the parameter values (see the field).
    pub(crate) fn version(&self) -> u64 {
        self.version
    }

    /// Writes every layer's weight matrix transposed (`in × out` row-major) at its offset of
    /// `out` (as long as the parameters; the biases' places are left as they are): the layout
    /// the layer products read ([`super::matmul::layer_product`]).
    pub(crate) fn transpose_weights_into(&self, out: &mut [f32]) {
        for layer in &self.layers {
            let (w, w_t) = (&self.params[layer.weight()], &mut out[layer.weight()]);
            for (o, row) in w.chunks_exact(layer.in_dim).enumerate() {
                for (p, &value) in row.iter().enumerate() {
                    w_t[p * layer.out_dim + o] = value;
                }
            }
        }
    }

    /// Number of trained parameters.
    pub fn num_params(&self) -> usize {
        self.params.len()
    }

    /// The fixed angular frequencies ω of the time embedding (empty for `Concat`).
    pub fn frequencies(&self) -> &[f32] {
        &self.frequencies
    }

    pub(crate) fn set_frequencies(&mut self, frequencies: Vec<f32>) {
        self.frequencies = frequencies;
    }

    pub(crate) fn layers(&self) -> &[Layer] {
        &self.layers
    }

    pub(crate) fn shape(&self) -> Shape {
        Shape {
            input_cols: self.config.input_cols(),
            width: self.config.width,
            depth: self.config.depth,
            output_dim: self.config.output_dim,
            data_dim: self.config.input_dim,
            num_params: self.params.len(),
        }
    }

    /// Floating-point operations of the matrix products in one training step on `batch` rows
    /// (forward W·h, backward ∂W and ∂h, counting a multiply-add as 2; the first layer needs no
    /// ∂input). Bias, activation and optimizer work are not counted: this is the figure to hold
    /// against a GEMM peak.
    pub fn training_flops(&self, batch: usize) -> f64 {
        let products: usize = self.layers.iter().map(|l| l.in_dim * l.out_dim).sum();
        let first = self.layers[0].in_dim * self.layers[0].out_dim;
        2.0 * batch as f64 * (3 * products - first) as f64
    }

    /// Writes f(t_i, x_i) into row i of `out` (n × output_dim) for the n rows of `x` (n × d,
    /// row-major) and times `t` (n).
    pub fn forward(
        &self,
        t: &[f32],
        x: &[f32],
        out: &mut [f32],
        ws: &mut Workspace,
    ) -> Result<(), NetworkError> {
        let n = t.len();
        self.check_batch(n, x, ws)?;
        check_len(
            "out (n × output_dim)",
            n * self.config.output_dim,
            out.len(),
        )?;
        let (d, od) = (self.config.input_dim, self.config.output_dim);
        self.run_blocks(ws, n, out, od, |rows, buffers, out| {
            for_cache_sized_chunks(rows, out, od, |rows, out| {
                backprop::forward_block(
                    self,
                    &t[rows.clone()],
                    &x[rows.start * d..rows.end * d],
                    buffers,
                    false,
                    out,
                );
            });
        });
        Ok(())
    }

    /// The weighted mean squared error
    /// `L = 1/(n·output_dim) · Σ_i w_i Σ_k (f(t_i, x_i)_k − y_ik)²` (PyTorch's
    /// `torch.mean((f − y)**2)` when all w_i = 1), with ∂L/∂params written into `grads`
    /// (overwritten, length [`Mlp::num_params`]). `target` is n × output_dim; `weight`, if given, n
    /// per-sample weights.
    pub fn loss_and_grad(
        &self,
        t: &[f32],
        x: &[f32],
        target: &[f32],
        weight: Option<&[f32]>,
        grads: &mut [f32],
        ws: &mut Workspace,
    ) -> Result<f32, NetworkError> {
        let n = t.len();
        self.check_batch(n, x, ws)?;
        self.check_regression(n, target, weight, grads)?;
        let active = self.run_blocks(ws, n, &mut [], 0, |rows, buffers, _| {
            self.forward_training_block(t, x, rows.clone(), buffers);
            self.error_and_backward_block(target, weight, rows, buffers, n);
        });
        Ok(self.finish_gradients(ws, active, grads, n))
    }

    /// The forward half of a training step whose target depends on the network's own output
    /// (drifting: the target is x + V(x) with x = f(ε)): writes f(t_i, x_i) into row i of `out`
    /// (n × output_dim) and keeps every activation in `ws`, so that
    /// [`Mlp::loss_and_grad_cached`] can then finish the step without a second forward pass.
    /// Together they compute exactly what [`Mlp::loss_and_grad`] does.
    pub fn forward_cached(
        &self,
        t: &[f32],
        x: &[f32],
        out: &mut [f32],
        ws: &mut Workspace,
    ) -> Result<(), NetworkError> {
        let n = t.len();
        let od = self.config.output_dim;
        self.check_batch(n, x, ws)?;
        check_len("out (n × output_dim)", n * od, out.len())?;
        self.run_blocks(ws, n, out, od, |rows, buffers, out| {
            let count = rows.len();
            self.forward_training_block(t, x, rows, buffers);
            out.copy_from_slice(&buffers.output[..count * od]);
        });
        ws.cached_rows = Some(n);
        Ok(())
    }

    /// The backward half after [`Mlp::forward_cached`] on the same `ws` and batch: the weighted
    /// mean squared error of the cached outputs against `target` (as [`Mlp::loss_and_grad`]) with
    /// its gradient written into `grads`. Fails when no forward pass of `target`'s batch size is
    /// cached (each cached pass serves one backward pass).
    pub fn loss_and_grad_cached(
        &self,
        target: &[f32],
        weight: Option<&[f32]>,
        grads: &mut [f32],
        ws: &mut Workspace,
    ) -> Result<f32, NetworkError> {
        let n = target.len() / self.config.output_dim.max(1);
        if ws.cached_rows.take() != Some(n) {
            return Err(NetworkError::NoCachedForward { rows: n });
        }
        self.check_regression(n, target, weight, grads)?;
        let active = self.run_blocks(ws, n, &mut [], 0, |rows, buffers, _| {
            self.error_and_backward_block(target, weight, rows, buffers, n);
        });
        Ok(self.finish_gradients(ws, active, grads, n))
    }

    /// Checks a regression's buffers for a batch of `n` rows.
    fn check_regression(
        &self,
        n: usize,
        target: &[f32],
        weight: Option<&[f32]>,
        grads: &[f32],
    ) -> Result<(), NetworkError> {
        if n == 0 {
            return Err(NetworkError::EmptyBatch);
        }
        check_len(
            "target (n × output_dim)",
            n * self.config.output_dim,
            target.len(),
        )?;
        if let Some(w) = weight {
            check_len("weight (n)", n, w.len())?;
        }
        check_len("grads (num_params)", self.params.len(), grads.len())
    }

    /// The training forward pass of a block of rows: activations and slopes kept in `buffers`,
    /// the output in `buffers.output`.
    fn forward_training_block(
        &self,
        t: &[f32],
        x: &[f32],
        rows: Range<usize>,
        buffers: &mut BlockBuffers,
    ) {
        let (d, od) = (self.config.input_dim, self.config.output_dim);
        let mut output = std::mem::take(&mut buffers.output);
        backprop::forward_block(
            self,
            &t[rows.clone()],
            &x[rows.start * d..rows.end * d],
            buffers,
            true,
            &mut output[..rows.len() * od],
        );
        buffers.output = output;
    }

    /// The squared error of a block's outputs against `target` (weighted, the batch of `n` rows
    /// averaged) and the backward pass of its gradient through the kept activations.
    fn error_and_backward_block(
        &self,
        target: &[f32],
        weight: Option<&[f32]>,
        rows: Range<usize>,
        buffers: &mut BlockBuffers,
        n: usize,
    ) {
        let od = self.config.output_dim;
        let gradient_scale = 2.0 / (n * od) as f32;
        buffers.loss = backprop::squared_error(
            &target[rows.start * od..rows.end * od],
            weight.map(|w| &w[rows.clone()]),
            od,
            gradient_scale,
            &mut buffers.output[..rows.len() * od],
        );
        backprop::backward_block(self, rows.len(), buffers);
    }

    /// Sums the `active` blocks' gradients into `grads` and returns the mean loss of `n` rows.
    fn finish_gradients(&self, ws: &Workspace, active: usize, grads: &mut [f32], n: usize) -> f32 {
        let blocks = &ws.blocks[..active];
        sum_gradients(blocks, grads);
        let total: f64 = blocks.iter().map(|b| b.loss).sum();
        (total / (n * self.config.output_dim) as f64) as f32
    }

    /// Writes the input Jacobian–vector product `J_x f(t_i, x_i) · v_i` into row i of `out`
    /// (n × output_dim) for tangents `v` (n × d); t is held fixed. Summing it over unit vectors
    /// gives the divergence a likelihood needs.
    pub fn jvp_input(
        &self,
        t: &[f32],
        x: &[f32],
        v: &[f32],
        out: &mut [f32],
        ws: &mut Workspace,
    ) -> Result<(), NetworkError> {
        let n = t.len();
        self.check_batch(n, x, ws)?;
        check_len("v (n × input_dim)", x.len(), v.len())?;
        check_len(
            "out (n × output_dim)",
            n * self.config.output_dim,
            out.len(),
        )?;
        let (d, od) = (self.config.input_dim, self.config.output_dim);
        self.run_blocks(ws, n, out, od, |rows, buffers, out| {
            for_cache_sized_chunks(rows, out, od, |rows, out| {
                let block = rows.start * d..rows.end * d;
                let (t, x, v) = (&t[rows], &x[block.clone()], &v[block]);
                backprop::jvp_block(self, t, x, v, buffers, out);
            });
        });
        Ok(())
    }

    /// Writes `[f(t_i, x_i), Σ_{j<d} ∂f_j/∂x_j (t_i, x_i)]` into row i of `out`
    /// (n × (output_dim + 1)) for the n rows of `x` (n × d): the output and the exact input
    /// divergence of its first d components in 1 + d passes (`backprop::divergence_block`) — what
    /// the likelihood integrates. Needs output_dim ≥ input_dim = d (a velocity head first).
    pub fn forward_and_divergence(
        &self,
        t: &[f32],
        x: &[f32],
        out: &mut [f32],
        ws: &mut Workspace,
    ) -> Result<(), NetworkError> {
        self.divergence_pass(t, x, out, ws, |_, t, x, buffers, out| {
            backprop::divergence_block(self, t, x, buffers, out)
        })
    }

    /// Writes `[f(t_i, x_i), (1/K) Σ_k z_kiᵀ J_x f_{:d}(t_i, x_i) z_ki]` into row i of `out`
    /// (n × (output_dim + 1)): the output and Hutchinson's estimate of the input divergence of its
    /// first d components with the K probes in `probes` (K · n · d values, probe k's n × d rows
    /// after probe k − 1's; Hutchinson 1989, FFJORD §3.1), in one primal and K tangent passes
    /// (`backprop::hutchinson_block`). Needs output_dim ≥ input_dim = d and K ≥ 1.
    pub fn forward_and_hutchinson(
        &self,
        t: &[f32],
        x: &[f32],
        probes: &[f32],
        out: &mut [f32],
        ws: &mut Workspace,
    ) -> Result<(), NetworkError> {
        let size = t.len() * self.config.input_dim;
        if size == 0 || probes.is_empty() || !probes.len().is_multiple_of(size) {
            return Err(NetworkError::Length {
                what: "probes (K ≥ 1 probes of n × input_dim)",
                expected: size,
                got: probes.len(),
            });
        }
        let d = self.config.input_dim;
        self.divergence_pass(t, x, out, ws, |rows, t, x, buffers, out| {
            let probes = probes
                .chunks_exact(size)
                .map(|z| &z[rows.start * d..rows.end * d]);
            backprop::hutchinson_block(self, t, x, probes, buffers, out);
        })
    }

    /// The checks and the blocking of the two passes above: `block(rows, t, x, buffers, out)` on
    /// cache-sized chunks of every thread's rows.
    fn divergence_pass(
        &self,
        t: &[f32],
        x: &[f32],
        out: &mut [f32],
        ws: &mut Workspace,
        block: impl Fn(Range<usize>, &[f32], &[f32], &mut BlockBuffers, &mut [f32]) + Sync,
    ) -> Result<(), NetworkError> {
        let n = t.len();
        self.check_batch(n, x, ws)?;
        let (d, od) = (self.config.input_dim, self.config.output_dim);
        if od < d {
            return Err(NetworkError::Length {
                what: "output_dim (at least input_dim for a divergence)",
                expected: d,
                got: od,
            });
        }
        check_len("out (n × (output_dim + 1))", n * (od + 1), out.len())?;
        self.run_blocks(ws, n, out, od + 1, |rows, buffers, out| {
            for_cache_sized_chunks(rows, out, od + 1, |rows, out| {
                let (t, x) = (&t[rows.clone()], &x[rows.start * d..rows.end * d]);
                block(rows, t, x, buffers, out);
            });
        });
        Ok(())
    }

    fn check_batch(&self, n: usize, x: &[f32], ws: &Workspace) -> Result<(), NetworkError> {
        ws.check(self, n)?;
        check_len("x (n × input_dim)", n * self.config.input_dim, x.len())
    }

    /// Runs `f(rows, buffers, out_rows)` on each block of rows, handing each its rows of `out`
    /// (`cols` values per row; pass an empty `out` and `cols = 0` when there is no output).
    /// Inside rayon's pool the blocks are split by `rayon::join` (jobs on the stack: nothing is
    /// allocated); from outside it, block 0 runs on the calling thread while rayon's workers take
    /// the others (one small heap job each), so such a call costs one wake-up, not a round trip.
    /// Returns the number of non-empty blocks (always the leading ones).
    fn run_blocks<F>(
        &self,
        ws: &mut Workspace,
        n: usize,
        out: &mut [f32],
        cols: usize,
        f: F,
    ) -> usize
    where
        F: Fn(Range<usize>, &mut BlockBuffers, &mut [f32]) + Sync,
    {
        // Any pass overwrites the activations a cached forward pass kept.
        ws.cached_rows = None;
        let block = ws.block_rows(n);
        let active = n.div_ceil(block);
        if active == 1 {
            f(0..n, &mut ws.blocks[0], out);
            return 1;
        }
        let f = &f;
        if rayon::current_thread_index().is_some() {
            join_blocks(f, 0, block, n, &mut ws.blocks[..active], out, cols);
            return active;
        }
        let (first, others) = ws.blocks[..active]
            .split_first_mut()
            .expect("at least two blocks");
        let (first_out, mut rest) = out.split_at_mut(block * cols);
        rayon::in_place_scope(|scope| {
            for (i, buffers) in others.iter_mut().enumerate() {
                let rows = (i + 1) * block..((i + 2) * block).min(n);
                let (mine, tail) = std::mem::take(&mut rest).split_at_mut(rows.len() * cols);
                rest = tail;
                scope.spawn(move |_| f(rows, buffers, mine));
            }
            f(0..block, first, first_out);
        });
        active
    }
}

/// Rows that an inference pass (one that keeps nothing for a later backward pass) carries through
/// the whole network at a time, inside each thread's block: small enough that the layers'
/// activations, slopes and tangents (a few `rows × width` f32 buffers) stay in the core's L2 cache
/// between the product that writes them and the one that reads them, large enough that the
/// products keep their speed. Rows are independent, so the chunking changes no result.
const CACHE_ROWS: usize = 512;

/// Calls `f(sub_rows, sub_out)` on consecutive chunks of at most [`CACHE_ROWS`] of `rows`, with
/// the matching rows of `out` (`cols` ≥ 1 values per row: every inference pass writes an output).
fn for_cache_sized_chunks(
    rows: Range<usize>,
    out: &mut [f32],
    cols: usize,
    mut f: impl FnMut(Range<usize>, &mut [f32]),
) {
    for (k, out) in out.chunks_mut(CACHE_ROWS * cols).enumerate() {
        let start = rows.start + k * CACHE_ROWS;
        f(start..(start + CACHE_ROWS).min(rows.end), out);
    }
}

/// Runs `f` on blocks `first..first + buffers.len()` (each `block` rows, the batch `n` rows, `out`
/// their `cols` outputs per row) by halving with `rayon::join`.
fn join_blocks<F>(
    f: &F,
    first: usize,
    block: usize,
    n: usize,
    buffers: &mut [BlockBuffers],
    out: &mut [f32],
    cols: usize,
) where
    F: Fn(Range<usize>, &mut BlockBuffers, &mut [f32]) + Sync,
{
    if let [only] = buffers {
        f(first * block..((first + 1) * block).min(n), only, out);
        return;
    }
    let half = buffers.len() / 2;
    let (left, right) = buffers.split_at_mut(half);
    let (out_left, out_right) = out.split_at_mut(half * block * cols);
    rayon::join(
        || join_blocks(f, first, block, n, left, out_left, cols),
        || join_blocks(f, first + half, block, n, right, out_right, cols),
    );
}

/// `grads ← Σ_b blocks[b].grads`, summed in block order (so the result depends only on the
/// number of blocks), in parallel over chunks of parameters when there are many.
fn sum_gradients(blocks: &[BlockBuffers], grads: &mut [f32]) {
    const CHUNK: usize = 16 * 1024;
    let add = |start: usize, chunk: &mut [f32]| {
        let range = start..start + chunk.len();
        chunk.copy_from_slice(&blocks[0].grads[range.clone()]);
        for block in &blocks[1..] {
            for (g, &b) in chunk.iter_mut().zip(&block.grads[range.clone()]) {
                *g += b;
            }
        }
    };
    if grads.len() <= 2 * CHUNK || blocks.len() == 1 {
        add(0, grads);
    } else {
        grads
            .par_chunks_mut(CHUNK)
            .enumerate()
            .for_each(|(c, chunk)| add(c * CHUNK, chunk));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The layer products read a transposed copy of the weights kept in the workspace: after the
    /// parameters change, a workspace that served the old ones must give what a fresh one gives,
    /// and a clone (same values, same version) what the original gives.
    #[test]
    fn a_workspace_follows_parameter_changes() {
        let mut mlp = Mlp::new(MlpConfig::default(), 3).unwrap();
        let n = 40;
        let t: Vec<f32> = (0..n).map(|i| i as f32 / n as f32).collect();
        let x: Vec<f32> = (0..2 * n).map(|i| (i % 7) as f32 * 0.3 - 1.0).collect();
        let mut ws = Workspace::new(&mlp, n);
        let forward = |mlp: &Mlp, ws: &mut Workspace| {
            let mut out = vec![0.0; 2 * n];
            mlp.forward(&t, &x, &mut out, ws).unwrap();
            out
        };
        let before = forward(&mlp, &mut ws);
        let layer = mlp.layers()[1];
        mlp.params_mut()[layer.weight()][5] += 0.5;
        let after = forward(&mlp, &mut ws);
        assert_ne!(after, before);
        assert_eq!(after, forward(&mlp, &mut Workspace::new(&mlp, n)));
        let clone = mlp.clone();
        assert_eq!(forward(&clone, &mut ws), after);
    }

    #[test]
    fn same_seed_same_parameters() {
        let config =
            MlpConfig::new(2, 2).time_embedding(TimeEmbedding::Fourier { dim: 8, scale: 1.0 });
        let a = Mlp::new(config, 42).unwrap();
        assert_eq!(a, Mlp::new(config, 42).unwrap());
        assert_ne!(a.params(), Mlp::new(config, 43).unwrap().params());
    }

    /// Layout and initialization follow PyTorch's `nn.Linear`: 3→64→64→64→2 has
    /// (3·64 + 64) + 2·(64·64 + 64) + (64·2 + 2) = 8706 parameters, and every weight and bias of a
    /// layer lies within ±1/√fan_in, with both ends of the range reached up to sampling resolution.
    #[test]
    fn layout_and_init_bounds_match_torch_linear() {
        let mlp = Mlp::new(MlpConfig::default(), 0).unwrap();
        assert_eq!(mlp.num_params(), 8706);
        for layer in mlp.layers() {
            let bound = 1.0 / (layer.in_dim as f32).sqrt();
            let weights = &mlp.params()[layer.weight()];
            assert!(weights.iter().all(|w| w.abs() <= bound));
            let max = weights.iter().fold(0.0_f32, |m, w| m.max(w.abs()));
            assert!(max > 0.9 * bound, "weights should fill ±1/√fan_in");
            assert!(mlp.params()[layer.bias()].iter().all(|b| b.abs() <= bound));
        }
        let names = mlp.tensor_names();
        assert_eq!(names[0], ("0.weight".to_string(), vec![64, 3]));
        assert_eq!(names[7], ("6.bias".to_string(), vec![2]));
    }

    #[test]
    fn bad_configs_name_the_field() {
        for (config, field) in [
            (MlpConfig::new(2, 2).width(0), "width"),
            (MlpConfig::new(2, 2).depth(0), "depth"),
            (MlpConfig::new(2, 0), "output_dim"),
            (MlpConfig::new(0, 2), "input_dim"),
            (
                MlpConfig::new(2, 2).time_embedding(TimeEmbedding::Sinusoidal { dim: 5 }),
                "time_embedding.dim",
            ),
        ] {
            match Mlp::new(config, 0) {
                Err(NetworkError::Config { field: got, .. }) => assert_eq!(got, field),
                other => panic!("expected a Config error for {field}, got {other:?}"),
            }
        }
        let message = Mlp::new(MlpConfig::new(2, 2).width(0), 0)
            .unwrap_err()
            .to_string();
        assert_eq!(message, "invalid width = 0: must be at least 1");
    }

    #[test]
    fn wrong_lengths_and_workspaces_are_errors() {
        let mlp = Mlp::new(MlpConfig::default(), 0).unwrap();
        let mut ws = Workspace::with_threads(&mlp, 4, 2);
        let (t, x, mut out) = (vec![0.5; 4], vec![0.0; 8], vec![0.0; 8]);
        let mut grads = vec![0.0; mlp.num_params()];
        let short_x = mlp.forward(&t, &x[..7], &mut out, &mut ws).unwrap_err();
        assert_eq!(
            short_x.to_string(),
            "x (n × input_dim) has length 7, expected 8"
        );
        assert!(matches!(
            mlp.forward(&t, &x, &mut out[..6], &mut ws),
            Err(NetworkError::Length {
                what: "out (n × output_dim)",
                ..
            })
        ));
        assert!(matches!(
            mlp.loss_and_grad(&t, &x, &out, Some(&[1.0; 3]), &mut grads, &mut ws),
            Err(NetworkError::Length {
                what: "weight (n)",
                ..
            })
        ));
        assert!(matches!(
            mlp.loss_and_grad(&t, &x, &out, None, &mut grads[1..], &mut ws),
            Err(NetworkError::Length {
                what: "grads (num_params)",
                ..
            })
        ));
        assert!(matches!(
            mlp.loss_and_grad(&[], &[], &[], None, &mut grads, &mut ws),
            Err(NetworkError::EmptyBatch)
        ));
        let mut packed = vec![0.0; 4 * 3];
        for probes in [&[][..], &[1.0; 12][..]] {
            assert!(matches!(
                mlp.forward_and_hutchinson(&t, &x, probes, &mut packed, &mut ws),
                Err(NetworkError::Length {
                    what: "probes (K ≥ 1 probes of n × input_dim)",
                    ..
                })
            ));
        }
        let (t5, x5, mut out5) = (vec![0.5; 5], vec![0.0; 10], vec![0.0; 10]);
        assert!(matches!(
            mlp.forward(&t5, &x5, &mut out5, &mut ws),
            Err(NetworkError::BatchTooLarge {
                batch: 5,
                capacity: 4
            })
        ));
        let other = Mlp::new(MlpConfig::default().width(32), 0).unwrap();
        assert!(matches!(
            other.forward(&t, &x, &mut out, &mut ws),
            Err(NetworkError::WorkspaceMismatch { .. })
        ));
    }

    /// A few hundred AdamW steps on a fixed regression batch drive the loss down by well over an
    /// order of magnitude: the engine, optimizer and EMA work together (a smoke test, not a bound).
    #[test]
    fn training_reduces_the_loss() {
        let mlp_config = MlpConfig::new(2, 2).width(32).activation(Activation::Silu);
        let mut mlp = Mlp::new(mlp_config, 1).unwrap();
        let n = 64;
        let t: Vec<f32> = (0..n).map(|i| i as f32 / n as f32).collect();
        let x: Vec<f32> = (0..2 * n)
            .map(|i| ((i * 7 % 13) as f32 - 6.0) / 3.0)
            .collect();
        let y: Vec<f32> = x
            .iter()
            .zip(t.iter().flat_map(|&ti| [ti, ti]))
            .map(|(&xi, ti)| xi.sin() * ti)
            .collect();
        let mut ws = Workspace::with_threads(&mlp, n, 2);
        let mut opt = super::super::AdamW::new(mlp.num_params()).with_lr(1e-2);
        let mut grads = vec![0.0; mlp.num_params()];
        let first = mlp
            .loss_and_grad(&t, &x, &y, None, &mut grads, &mut ws)
            .unwrap();
        let mut last = first;
        for _ in 0..300 {
            last = mlp
                .loss_and_grad(&t, &x, &y, None, &mut grads, &mut ws)
                .unwrap();
            opt.step(mlp.params_mut(), &grads).unwrap();
        }
        assert!(last < first / 20.0, "loss {first} → {last}");
    }

    #[test]
    fn cache_sized_chunks_change_no_output() {
        // Truth: `forward_cached` carries each thread's whole block through every layer at once,
        // `forward`, `forward_and_divergence` and `jvp_input` carry it CACHE_ROWS rows at a time;
        // rows are independent, so outputs (and the divergence's velocity columns) agree bit for
        // bit.
        let mlp = Mlp::new(MlpConfig::new(2, 2).width(64).depth(3), 5).unwrap();
        let n = 3 * CACHE_ROWS + 77;
        let t: Vec<f32> = (0..n).map(|i| (i % 11) as f32 * 0.09).collect();
        let x: Vec<f32> = (0..n * 2)
            .map(|i| ((i * 37) % 23) as f32 * 0.2 - 2.2)
            .collect();
        let mut ws = Workspace::new(&mlp, n);
        let mut whole = vec![0.0f32; n * 2];
        mlp.forward_cached(&t, &x, &mut whole, &mut ws).unwrap();
        let mut chunked = vec![0.0f32; n * 2];
        mlp.forward(&t, &x, &mut chunked, &mut ws).unwrap();
        assert_eq!(chunked, whole);
        let mut with_divergence = vec![0.0f32; n * 3];
        mlp.forward_and_divergence(&t, &x, &mut with_divergence, &mut ws)
            .unwrap();
        for (row, f) in with_divergence.chunks_exact(3).zip(whole.chunks_exact(2)) {
            assert_eq!(&row[..2], f);
        }
        // `jvp_input` carries CACHE_ROWS rows at a time too: on one thread, the whole batch's JVPs
        // equal those of its chunks computed as batches of their own.
        let v: Vec<f32> = x.iter().map(|xi| xi.cos()).collect();
        let mut single = Workspace::with_threads(&mlp, n, 1);
        let mut jvp = vec![0.0f32; n * 2];
        mlp.jvp_input(&t, &x, &v, &mut jvp, &mut single).unwrap();
        for start in (0..n).step_by(CACHE_ROWS) {
            let rows = start..(start + CACHE_ROWS).min(n);
            let values = 2 * rows.start..2 * rows.end;
            let mut part = vec![0.0f32; values.len()];
            let (x, v) = (&x[values.clone()], &v[values.clone()]);
            mlp.jvp_input(&t[rows], x, v, &mut part, &mut single)
                .unwrap();
            assert_eq!(part, jvp[values]);
        }
    }

    #[test]
    fn a_cached_forward_then_backward_is_loss_and_grad() {
        // Truth: the two halves run the same passes as `loss_and_grad` (same blocks, same
        // order), so the outputs, loss and gradients agree bit for bit; a backward pass with no
        // cached forward (or after another pass) is refused.
        let mlp = Mlp::new(MlpConfig::new(5, 2).width(16).depth(3), 3).unwrap();
        let n = 300;
        let t: Vec<f32> = (0..n).map(|i| (i % 7) as f32 * 0.1).collect();
        let x: Vec<f32> = (0..n * 5)
            .map(|i| ((i * 31) % 17) as f32 * 0.1 - 0.8)
            .collect();
        let mut ws = Workspace::new(&mlp, n);
        let mut out = vec![0.0f32; n * 2];
        mlp.forward_cached(&t, &x, &mut out, &mut ws).unwrap();
        let target: Vec<f32> = out.iter().map(|v| v + 0.25).collect();
        let weight: Vec<f32> = (0..n).map(|i| 1.0 + (i % 3) as f32).collect();
        let mut cached = vec![0.0f32; mlp.num_params()];
        let loss = mlp
            .loss_and_grad_cached(&target, Some(&weight), &mut cached, &mut ws)
            .unwrap();
        let mut direct = vec![0.0f32; mlp.num_params()];
        let expected = mlp
            .loss_and_grad(&t, &x, &target, Some(&weight), &mut direct, &mut ws)
            .unwrap();
        assert_eq!(loss.to_bits(), expected.to_bits());
        assert_eq!(cached, direct);
        let mut plain = vec![0.0f32; n * 2];
        mlp.forward(&t, &x, &mut plain, &mut ws).unwrap();
        assert_eq!(plain, out);
        assert!(mlp
            .loss_and_grad_cached(&target, None, &mut cached, &mut ws)
            .is_err());
    }
}
