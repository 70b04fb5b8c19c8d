//! The passes over one block of rows (one thread's share of a batch): forward with fused
//! bias + activation, the squared-error seed of backpropagation, reverse-mode gradients and
//! forward-mode input tangents.
//!
//! Notation, per block of r rows: A₀ = [x, emb(t)] (r × in₀); for hidden layer l,
//! Z_l = A_l W_lᵀ + b_l, H_l = φ(Z_l) (+ A_l if residual), A_{l+1} = H_l; output Y = H_{depth−1} W_Lᵀ + b_L.
//! Backward, with δ = ∂L/∂Z: ∂W_l = δ_lᵀ A_l, ∂b_l = Σ_rows δ_l, ∂A_l = δ_l W_l (+ ∂H_l if residual),
//! δ_l = ∂H_l ⊙ φ'(Z_l).

use super::activation::{bias_activate, chain_and_bias_grad, tangent_through};
use super::matmul::{layer_product, matmul, View};
use super::mlp::Mlp;
use super::time_embedding::assemble_input;
use super::workspace::BlockBuffers;
use crate::lanes;

/// Forward pass over a block of `t.len()` rows, writing f(t, x) into `out` (rows × output_dim).
/// With `store_slopes`, φ'(Z_l) is kept in `buffers.slope` for a backward pass or JVP.
pub(crate) fn forward_block(
    mlp: &Mlp,
    t: &[f32],
    x: &[f32],
    buffers: &mut BlockBuffers,
    store_slopes: bool,
    out: &mut [f32],
) {
    let rows = t.len();
    let config = mlp.config();
    let (width, stride) = (config.width, buffers.rows * config.width);
    buffers.refresh_transposed_weights(mlp);
    let (params, weights_t) = (mlp.params(), &buffers.weights_t);
    let layers = mlp.layers();
    let (hidden_layers, output_layer) = layers.split_at(config.depth);
    let input = &mut buffers.input[..rows * config.input_cols()];
    assemble_input(t, x, mlp.frequencies(), input);

    for (l, layer) in hidden_layers.iter().enumerate() {
        let (before, rest) = buffers.hidden.split_at_mut(l * stride);
        let a: &[f32] = if l == 0 {
            &buffers.input[..rows * layer.in_dim]
        } else {
            &before[(l - 1) * stride..][..rows * width]
        };
        let z = &mut rest[..rows * width];
        let w_t = &weights_t[layer.weight()];
        layer_product(z, a, w_t, (layer.in_dim, width), None);
        let skip = if layer.residual { Some(a) } else { None };
        let slope = if store_slopes {
            Some(&mut buffers.slope[l * stride..][..rows * width])
        } else {
            None
        };
        bias_activate(config.activation, z, &params[layer.bias()], skip, slope);
    }

    let layer = &output_layer[0];
    let last = &buffers.hidden[(config.depth - 1) * stride..][..rows * width];
    let (od, weight, bias) = (
        layer.out_dim,
        &params[layer.weight()],
        &params[layer.bias()],
    );
    if od <= NARROW_OUTPUT && od <= width {
        // Into a column-major scratch (`delta`, unused by a forward pass), so that the GEMM runs along the
        // rows — a row-major `rows × od` destination makes it run along the od columns, a
        // 16-lane kernel with od lanes filled — then transposed into `out` with the bias.
        let scratch = &mut buffers.delta[..rows * od];
        let column_major = View {
            rows,
            cols: od,
            row_stride: 1,
            col_stride: rows,
        };
        let weight_t = View::row_major(od, width).t();
        let last_view = View::row_major(rows, width);
        matmul(
            scratch,
            column_major,
            false,
            last,
            last_view,
            weight,
            weight_t,
        );
        for (r, row) in out.chunks_exact_mut(od).enumerate() {
            for (j, (o, &b)) in row.iter_mut().zip(bias).enumerate() {
                *o = scratch[j * rows + r] + b;
            }
        }
        return;
    }
    matmul(
        out,
        View::row_major(rows, od),
        false,
        last,
        View::row_major(rows, width),
        weight,
        View::row_major(od, width).t(),
    );
    for row in out.chunks_exact_mut(od) {
        for (o, &b) in row.iter_mut().zip(bias) {
            *o += b;
        }
    }
}

/// Output dimensions up to which the output layer's product is written column-major first (see
/// [`forward_block`]): 2-D data's velocity or noise has 2 columns, and faer's row-major product
/// into 2 columns took 9% of a 3×64 forward pass for 1.5% of its multiply-adds.
const NARROW_OUTPUT: usize = 8;

/// The seed of backpropagation for `L = Σ_i w_i ‖f_i − y_i‖² / (n·output_dim)`: turns `output` into
/// ∂L/∂f = scale · w_i (f_i − y_i) with scale = 2/(n·output_dim), and returns this block's
/// Σ_i w_i ‖f_i − y_i‖², accumulated in f64. Rows have `cols` entries.
pub(crate) fn squared_error(
    target: &[f32],
    weight: Option<&[f32]>,
    cols: usize,
    scale: f32,
    output: &mut [f32],
) -> f64 {
    let mut total = 0.0_f64;
    match weight {
        None => {
            for (f, &y) in output.iter_mut().zip(target) {
                let r = *f - y;
                total += (r as f64) * (r as f64);
                *f = scale * r;
            }
        }
        Some(weight) => {
            for ((row, yrow), &w) in output
                .chunks_exact_mut(cols)
                .zip(target.chunks_exact(cols))
                .zip(weight)
            {
                let mut row_total = 0.0_f64;
                for (f, &y) in row.iter_mut().zip(yrow) {
                    let r = *f - y;
                    row_total += (r as f64) * (r as f64);
                    *f = scale * w * r;
                }
                total += w as f64 * row_total;
            }
        }
    }
    total
}

/// Backward pass over a block of `rows` rows after [`forward_block`] with slopes stored and
/// [`squared_error`] applied to `buffers.output`: writes this block's ∂L/∂params into
/// `buffers.grads` (every entry overwritten).
pub(crate) fn backward_block(mlp: &Mlp, rows: usize, buffers: &mut BlockBuffers) {
    let config = mlp.config();
    let (width, stride) = (config.width, buffers.rows * config.width);
    let params = mlp.params();
    let layers = mlp.layers();
    let grads = &mut buffers.grads;
    let delta = &mut buffers.delta[..rows * width];

    let layer = &layers[config.depth];
    let seed = &buffers.output[..rows * layer.out_dim];
    let last = &buffers.hidden[(config.depth - 1) * stride..][..rows * width];
    let bias_grad = &mut grads[layer.bias()];
    bias_grad.fill(0.0);
    for row in seed.chunks_exact(layer.out_dim) {
        for (g, &s) in bias_grad.iter_mut().zip(row) {
            *g += s;
        }
    }
    matmul(
        &mut grads[layer.weight()],
        View::row_major(layer.out_dim, width),
        false,
        seed,
        View::row_major(rows, layer.out_dim).t(),
        last,
        View::row_major(rows, width),
    );
    matmul(
        delta,
        View::row_major(rows, width),
        false,
        seed,
        View::row_major(rows, layer.out_dim),
        &params[layer.weight()],
        View::row_major(layer.out_dim, width),
    );

    for (l, layer) in layers[..config.depth].iter().enumerate().rev() {
        let slope = &mut buffers.slope[l * stride..][..rows * width];
        chain_and_bias_grad(delta, slope, &mut grads[layer.bias()]);
        let a: &[f32] = if l == 0 {
            &buffers.input[..rows * layer.in_dim]
        } else {
            &buffers.hidden[(l - 1) * stride..][..rows * width]
        };
        matmul(
            &mut grads[layer.weight()],
            View::row_major(width, layer.in_dim),
            false,
            slope,
            View::row_major(rows, width).t(),
            a,
            View::row_major(rows, layer.in_dim),
        );
        if l > 0 {
            matmul(
                delta,
                View::row_major(rows, width),
                layer.residual,
                slope,
                View::row_major(rows, width),
                &params[layer.weight()],
                View::row_major(width, layer.in_dim),
            );
        }
    }
}

/// Input JVP over a block: `out ← J_x f(t, x) · v` (rows × output_dim), t fixed. Runs the forward
/// pass for the slopes, then pushes the tangent [v, 0] through the layers.
pub(crate) fn jvp_block(
    mlp: &Mlp,
    t: &[f32],
    x: &[f32],
    v: &[f32],
    buffers: &mut BlockBuffers,
    out: &mut [f32],
) {
    let rows = t.len();
    let od = mlp.config().output_dim;
    let mut primal = std::mem::take(&mut buffers.output);
    forward_block(mlp, t, x, buffers, true, &mut primal[..rows * od]);
    buffers.output = primal;
    input_tangent(mlp, v, rows, buffers, out);
}

/// The network's output and Hutchinson's estimate of the input divergence of its first d
/// components, `(1/K) Σ_k z_kᵀ J_x f_{:d} z_k` over the K probes `probes` (each rows × d), written
/// per row as `[f_1 … f_od, estimate]` into `out` (rows × (od + 1)): one primal pass keeping the
/// slopes, then one tangent pass per probe — where K [`jvp_block`] calls would repeat the primal
/// pass K times.
pub(crate) fn hutchinson_block<'p>(
    mlp: &Mlp,
    t: &[f32],
    x: &[f32],
    probes: impl ExactSizeIterator<Item = &'p [f32]>,
    buffers: &mut BlockBuffers,
    out: &mut [f32],
) {
    let rows = t.len();
    let (d, od) = (mlp.config().input_dim, mlp.config().output_dim);
    let weight = 1.0 / probes.len() as f32;
    // The primal output first goes to `jz`, then to `out`; `jz` then holds each probe's J z.
    let mut jz = std::mem::take(&mut buffers.output);
    forward_block(mlp, t, x, buffers, true, &mut jz[..rows * od]);
    for (row, f) in out.chunks_exact_mut(od + 1).zip(jz.chunks_exact(od)) {
        row[..od].copy_from_slice(f);
        row[od] = 0.0;
    }
    for z in probes {
        input_tangent(mlp, z, rows, buffers, &mut jz[..rows * od]);
        let per_row = out.chunks_exact_mut(od + 1).zip(z.chunks_exact(d));
        for ((o, z), jz) in per_row.zip(jz.chunks_exact(od)) {
            o[od] += weight * lanes::dot(z, &jz[..d]);
        }
    }
    buffers.output = jz;
}

/// `out ← J_x f(t, x) · v` (rows × output_dim) for the tangent [v, 0] (v rows × d), from the
/// slopes of the last forward pass over these rows.
fn input_tangent(mlp: &Mlp, v: &[f32], rows: usize, buffers: &mut BlockBuffers, out: &mut [f32]) {
    let config = mlp.config();
    let (width, stride, d) = (config.width, buffers.rows * config.width, config.input_dim);
    let params = mlp.params();
    let first = &mlp.layers()[0];
    buffers.refresh_transposed_weights(mlp);
    let current = &mut buffers.delta[..rows * width];
    // Only the data columns of the first layer see a tangent (t is held fixed): the first d rows
    // of its transposed weights.
    let w_t = &buffers.weights_t[first.weight()][..d * width];
    let slope = &buffers.slope[..rows * width];
    layer_product(current, v, w_t, (d, width), Some(slope));
    let last = hidden_tangent(mlp, 1, rows, stride, buffers);
    let layer = &mlp.layers()[config.depth];
    matmul(
        out,
        View::row_major(rows, layer.out_dim),
        false,
        last,
        View::row_major(rows, width),
        &params[layer.weight()],
        View::row_major(layer.out_dim, width).t(),
    );
}

/// Carries the tangent of hidden layer `from − 1` (in `buffers.delta`, already through its
/// activation's slope) through hidden layers `from..depth` with the slopes of the last forward
/// pass; returns the last hidden layer's tangent (one of the two tangent buffers).
fn hidden_tangent<'b>(
    mlp: &Mlp,
    from: usize,
    rows: usize,
    stride: usize,
    buffers: &'b mut BlockBuffers,
) -> &'b [f32] {
    let config = mlp.config();
    let width = config.width;
    let weights_t = &buffers.weights_t;
    let mut current = &mut buffers.delta[..rows * width];
    let mut next = &mut buffers.tangent[..rows * width];
    for (l, layer) in mlp.layers()[..config.depth].iter().enumerate().skip(from) {
        let slope = &buffers.slope[l * stride..][..rows * width];
        let w_t = &weights_t[layer.weight()];
        if layer.residual {
            layer_product(next, current, w_t, (width, width), None);
            tangent_through(next, slope, Some(current));
        } else {
            layer_product(next, current, w_t, (width, width), Some(slope));
        }
        std::mem::swap(&mut current, &mut next);
    }
    current
}

/// The network's output and the input divergence of its first d components,
/// `Σ_{j<d} ∂f_j/∂x_j` (output_dim ≥ input_dim = d), on one block, written per row as
/// `[f_1 … f_od, div]` into `out` (rows × (od + 1)): one primal pass keeping the slopes, then for
/// each coordinate j one tangent pass seeded with e_j — whose first-layer tangent is column j of W₁
/// times the slopes, no product (and with a plain second layer not even written: the column is
/// folded into W₂) — reading only row j of the output layer. 1 + d passes instead of the d + 1
/// forward and d JVP passes (each with its own primal) of d separate [`jvp_block`] calls.
pub(crate) fn divergence_block(
    mlp: &Mlp,
    t: &[f32],
    x: &[f32],
    buffers: &mut BlockBuffers,
    out: &mut [f32],
) {
    let rows = t.len();
    let config = mlp.config();
    let (width, stride, d) = (config.width, buffers.rows * config.width, config.input_dim);
    let od = config.output_dim;
    let mut primal = std::mem::take(&mut buffers.output);
    forward_block(mlp, t, x, buffers, true, &mut primal[..rows * od]);
    for (row, f) in out.chunks_exact_mut(od + 1).zip(primal.chunks_exact(od)) {
        row[..od].copy_from_slice(f);
        row[od] = 0.0;
    }
    buffers.output = primal;
    let params = mlp.params();
    let (first, output_layer) = (&mlp.layers()[0], &mlp.layers()[config.depth]);
    let w1 = &params[first.weight()];
    let w_out = &params[output_layer.weight()];
    // With a plain second layer, the tangent's pre-activation there, W₂(s₁ ⊙ W₁e_j), is
    // S₁ (W₂ diag(W₁e_j))ᵀ: one product from the first layer's slopes, with the column folded into
    // a width × width copy of W₂ᵀ (in this block's gradient buffer, unused by inference), and no
    // pass that writes the first layer's tangent.
    let fold = config.depth >= 2 && !mlp.layers()[1].residual;
    for j in 0..d {
        // Column j of W₁ gathered once into the second tangent buffer, which `hidden_tangent`
        // overwrites only after it is used, so that the loops below run over contiguous slices.
        let column = &mut buffers.tangent[..width];
        for (g, &c) in column.iter_mut().zip(w1[j..].iter().step_by(first.in_dim)) {
            *g = c;
        }
        if fold {
            // (W₂ diag(W₁e_j))ᵀ: row p of W₂ᵀ times the column's p-th entry.
            let w2_t = &buffers.weights_t[mlp.layers()[1].weight()];
            let folded = &mut buffers.grads[..width * width];
            for ((f_row, w_row), &c) in folded
                .chunks_exact_mut(width)
                .zip(w2_t.chunks_exact(width))
                .zip(&*column)
            {
                for (f, &w) in f_row.iter_mut().zip(w_row) {
                    *f = w * c;
                }
            }
            let tangent = &mut buffers.delta[..rows * width];
            let slope = &buffers.slope[..rows * width];
            let next_slope = &buffers.slope[stride..][..rows * width];
            layer_product(tangent, slope, folded, (width, width), Some(next_slope));
        } else {
            for (tangent, slope) in buffers.delta[..rows * width]
                .chunks_exact_mut(width)
                .zip(buffers.slope[..rows * width].chunks_exact(width))
            {
                for ((tk, sk), ck) in tangent.iter_mut().zip(slope).zip(&*column) {
                    *tk = ck * sk;
                }
            }
        }
        let from = if fold { 2 } else { 1 };
        // ∂f_j/∂x_j = the tangent times row j of the output layer: a matrix–vector product
        // (faer's kernels run it at the CPU's widest vectors), into the free output buffer.
        let mut column = std::mem::take(&mut buffers.output);
        let last = hidden_tangent(mlp, from, rows, stride, buffers);
        let row_j = &w_out[j * width..(j + 1) * width];
        let rows_view = View::row_major(rows, width);
        let row_view = View::row_major(1, width).t();
        let column_view = View::row_major(rows, 1);
        matmul(
            &mut column,
            column_view,
            false,
            last,
            rows_view,
            row_j,
            row_view,
        );
        for (o, &c) in out.chunks_exact_mut(od + 1).zip(&column[..rows]) {
            o[od] += c;
        }
        buffers.output = column;
    }
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use crate::network::{reference, Activation, Mlp, MlpConfig, TimeEmbedding, Workspace};

    /// Small networks covering every activation, every time embedding, and residual layers.
    fn configs() -> Vec<MlpConfig> {
        let base = MlpConfig::new(3, 2).width(6).depth(3);
        vec![
            base.activation(Activation::Selu),
            base.activation(Activation::Silu)
                .residual(true)
                .time_embedding(TimeEmbedding::Sinusoidal { dim: 4 }),
            base.activation(Activation::Gelu)
                .residual(true)
                .time_embedding(TimeEmbedding::Fourier { dim: 6, scale: 1.0 }),
            base.activation(Activation::Relu).depth(2),
            MlpConfig::new(2, 3)
                .width(5)
                .depth(1)
                .activation(Activation::Gelu),
        ]
    }

    struct Batch {
        t: Vec<f32>,
        x: Vec<f32>,
        target: Vec<f32>,
        weight: Vec<f32>,
    }

    fn batch(config: &MlpConfig, n: usize, seed: u64) -> Batch {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        Batch {
            t: (0..n).map(|_| rng.gen_range(0.0..1.0)).collect(),
            x: (0..n * config.input_dim)
                .map(|_| rng.gen_range(-2.0..2.0))
                .collect(),
            target: (0..n * config.output_dim)
                .map(|_| rng.gen_range(-2.0..2.0))
                .collect(),
            weight: (0..n).map(|_| rng.gen_range(0.2..2.0)).collect(),
        }
    }

    fn to_f64(values: &[f32]) -> Vec<f64> {
        values.iter().map(|&v| v as f64).collect()
    }

    /// Largest |a − b| over the largest |b|: an error relative to the scale of the truth.
    fn scaled_error(got: &[f32], want: &[f64]) -> f64 {
        let scale = want.iter().fold(0.0_f64, |m, v| m.max(v.abs())).max(1e-12);
        got.iter()
            .zip(want)
            .fold(0.0_f64, |m, (&g, &w)| m.max((g as f64 - w).abs()))
            / scale
    }

    /// Forward against the f64 reference evaluated at the same (f32) parameters. The engine is f32
    /// throughout; with widths ≤ 7 and O(1) values each output carries a few dozen rounded
    /// operations, i.e. ~1e-6 relative. 2e-5 leaves an order of magnitude of headroom and still
    /// catches any wrong formula, which errs at O(1).
    #[test]
    fn forward_matches_f64_reference() {
        for (c, config) in configs().into_iter().enumerate() {
            let mlp = Mlp::new(config, 10 + c as u64).unwrap();
            let b = batch(&config, 9, c as u64);
            let mut ws = Workspace::with_threads(&mlp, 9, 2);
            let mut out = vec![0.0; 9 * config.output_dim];
            mlp.forward(&b.t, &b.x, &mut out, &mut ws).unwrap();
            let want = reference::forward(&mlp, &to_f64(mlp.params()), &b.t, &to_f64(&b.x));
            let err = scaled_error(&out, &want);
            assert!(err < 2e-5, "config {c}: forward error {err:e}");
        }
    }

    /// ∂L/∂params against central differences of the f64 reference loss (h = 1e-6: truncation
    /// ~h²·|L'''| ≈ 1e-12, cancellation ~1e-16/h = 1e-10, both far below f32 resolution), with and
    /// without per-sample weights, on 2 threads so that the block split and the gradient sum are
    /// exercised. Tolerance 1e-4 of the largest gradient entry: the f32 backward pass carries
    /// ~1e-6 relative error (reasoning as for the forward test), a wrong term errs at O(1).
    #[test]
    fn gradients_match_finite_differences_of_f64_reference() {
        for (c, config) in configs().into_iter().enumerate() {
            let mlp = Mlp::new(config, 20 + c as u64).unwrap();
            let n = 7;
            let b = batch(&config, n, 100 + c as u64);
            let mut ws = Workspace::with_threads(&mlp, n, 2);
            let x64 = to_f64(&b.x);
            for weight in [None, Some(b.weight.as_slice())] {
                let mut grads = vec![0.0; mlp.num_params()];
                let loss = mlp
                    .loss_and_grad(&b.t, &b.x, &b.target, weight, &mut grads, &mut ws)
                    .unwrap();
                let mut params = to_f64(mlp.params());
                let want_loss = reference::loss(&mlp, &params, &b.t, &x64, &b.target, weight);
                assert!(
                    ((loss as f64) - want_loss).abs() < 1e-5 * want_loss,
                    "config {c}: loss {loss} vs {want_loss}"
                );
                let h = 1e-6;
                let mut fd = vec![0.0; params.len()];
                for j in 0..params.len() {
                    let p = params[j];
                    params[j] = p + h;
                    let up = reference::loss(&mlp, &params, &b.t, &x64, &b.target, weight);
                    params[j] = p - h;
                    let down = reference::loss(&mlp, &params, &b.t, &x64, &b.target, weight);
                    params[j] = p;
                    fd[j] = (up - down) / (2.0 * h);
                }
                let err = scaled_error(&grads, &fd);
                assert!(
                    err < 1e-4,
                    "config {c} ({config:?}), weighted {}: gradient error {err:e}",
                    weight.is_some()
                );
            }
        }
    }

    /// J_x f · v against central differences of the f64 reference in the direction v (h = 1e-6,
    /// error reasoning as above); the tolerance matches the forward test's f32 budget, 2e-5.
    #[test]
    fn jvp_matches_finite_differences_of_f64_reference() {
        for (c, config) in configs().into_iter().enumerate() {
            let mlp = Mlp::new(config, 30 + c as u64).unwrap();
            let n = 5;
            let b = batch(&config, n, 200 + c as u64);
            let v: Vec<f32> = b.x.iter().map(|&xi| (xi * 3.7).sin()).collect();
            let mut ws = Workspace::with_threads(&mlp, n, 2);
            let mut out = vec![0.0; n * config.output_dim];
            mlp.jvp_input(&b.t, &b.x, &v, &mut out, &mut ws).unwrap();
            let params = to_f64(mlp.params());
            let h = 1e-6;
            let shifted = |sign: f64| -> Vec<f64> {
                let x: Vec<f64> =
                    b.x.iter()
                        .zip(&v)
                        .map(|(&xi, &vi)| xi as f64 + sign * h * vi as f64)
                        .collect();
                reference::forward(&mlp, &params, &b.t, &x)
            };
            let (up, down) = (shifted(1.0), shifted(-1.0));
            let fd: Vec<f64> = up
                .iter()
                .zip(&down)
                .map(|(u, d)| (u - d) / (2.0 * h))
                .collect();
            let err = scaled_error(&out, &fd);
            assert!(err < 2e-5, "config {c}: jvp error {err:e}");
        }
    }

    #[test]
    fn fused_divergence_matches_finite_differences_of_f64_reference() {
        // Truth: Σ_j (f_j(x + h e_j) − f_j(x − h e_j))/(2h) of the f64 reference network at the
        // same parameters (h = 1e-6: truncation and round-off ≲ 1e-9), and the output equal to
        // `forward`'s bit for bit (same primal pass); for `forward_and_hutchinson`, the quadratic
        // forms zᵀ J z of the same Jacobian. Square networks (d → d) over every activation,
        // time embedding and residual layers, 300 rows on 2 threads so several blocks run;
        // f32 engine: 2e-5 of the largest divergence, as the JVP test.
        let square = [
            MlpConfig::new(3, 3)
                .width(6)
                .depth(3)
                .activation(Activation::Selu),
            MlpConfig::new(2, 2)
                .width(7)
                .depth(3)
                .activation(Activation::Silu)
                .residual(true)
                .time_embedding(TimeEmbedding::Sinusoidal { dim: 4 }),
            MlpConfig::new(2, 2)
                .width(5)
                .depth(2)
                .activation(Activation::Gelu)
                .time_embedding(TimeEmbedding::Fourier { dim: 6, scale: 1.0 }),
            MlpConfig::new(4, 4)
                .width(5)
                .depth(1)
                .activation(Activation::Relu),
        ];
        for (c, config) in square.into_iter().enumerate() {
            let mlp = Mlp::new(config, 70 + c as u64).unwrap();
            let (n, d) = (300, config.input_dim);
            let b = batch(&config, n, 300 + c as u64);
            let mut ws = Workspace::with_threads(&mlp, n, 2);
            let mut fused = vec![0.0f32; n * (d + 1)];
            mlp.forward_and_divergence(&b.t, &b.x, &mut fused, &mut ws)
                .unwrap();
            let mut forward = vec![0.0f32; n * d];
            mlp.forward(&b.t, &b.x, &mut forward, &mut ws).unwrap();
            let params = to_f64(mlp.params());
            let h = 1e-6;
            // Column j of every row's Jacobian, J[i][a][j], by central differences.
            let mut jacobian = vec![0.0f64; n * d * d];
            for j in 0..d {
                let shifted = |sign: f64| -> Vec<f64> {
                    let x: Vec<f64> =
                        b.x.iter()
                            .enumerate()
                            .map(|(k, &xi)| xi as f64 + if k % d == j { sign * h } else { 0.0 })
                            .collect();
                    reference::forward(&mlp, &params, &b.t, &x)
                };
                let (up, down) = (shifted(1.0), shifted(-1.0));
                for i in 0..n {
                    for a in 0..d {
                        jacobian[(i * d + a) * d + j] =
                            (up[i * d + a] - down[i * d + a]) / (2.0 * h);
                    }
                }
            }
            let fd: Vec<f64> = (0..n)
                .map(|i| (0..d).map(|a| jacobian[(i * d + a) * d + a]).sum())
                .collect();
            let divergence: Vec<f32> = fused.chunks_exact(d + 1).map(|r| r[d]).collect();
            let err = scaled_error(&divergence, &fd);
            assert!(err < 2e-5, "config {c}: divergence error {err:e}");
            for (row, f) in fused.chunks_exact(d + 1).zip(forward.chunks_exact(d)) {
                assert_eq!(&row[..d], f, "config {c}: output differs from forward");
            }
            // Hutchinson's estimate with K = 3 fixed Rademacher probes: (1/3) Σ_k z_kᵀ J z_k with
            // the same Jacobian (the estimator's value for these probes, not its expectation).
            let mut rng = ChaCha8Rng::seed_from_u64(c as u64);
            let probes: Vec<f32> = (0..3 * n * d)
                .map(|_| if rng.gen::<bool>() { 1.0 } else { -1.0 })
                .collect();
            let mut hutchinson = vec![0.0f32; n * (d + 1)];
            mlp.forward_and_hutchinson(&b.t, &b.x, &probes, &mut hutchinson, &mut ws)
                .unwrap();
            let want: Vec<f64> = (0..n)
                .map(|i| {
                    let form = |z: &[f32]| -> f64 {
                        let z = &z[i * d..(i + 1) * d];
                        let entry = |a: usize, j: usize| jacobian[(i * d + a) * d + j];
                        (0..d)
                            .flat_map(|a| (0..d).map(move |j| (a, j)))
                            .map(|(a, j)| z[a] as f64 * entry(a, j) * z[j] as f64)
                            .sum()
                    };
                    probes.chunks_exact(n * d).map(form).sum::<f64>() / 3.0
                })
                .collect();
            let estimate: Vec<f32> = hutchinson.chunks_exact(d + 1).map(|r| r[d]).collect();
            let err = scaled_error(&estimate, &want);
            assert!(err < 2e-5, "config {c}: Hutchinson error {err:e}");
            for (row, f) in hutchinson.chunks_exact(d + 1).zip(forward.chunks_exact(d)) {
                assert_eq!(&row[..d], f, "config {c}: output differs from forward");
            }
        }
    }

    /// The guarantee of the block split: a fixed thread count gives bit-identical outputs, JVPs,
    /// losses and gradients run after run. Across thread counts, rows keep their operation order
    /// as long as the GEMM picks the same kernel for each block (it switches to dot-product
    /// kernels for products with m·n ≤ 256, i.e. blocks of ≤ 128 rows for a 2-D output layer), so
    /// with blocks of 256 and 512 rows the forward pass and JVP are bit-identical; for any split
    /// they agree to f32 round-off (1e-6 relative), and gradients, whose per-block sums are added
    /// in a different grouping, agree to 1e-5 relative.
    #[test]
    fn thread_count_changes_nothing_but_round_off() {
        let config = MlpConfig::new(2, 2).width(64).activation(Activation::Silu);
        let mlp = Mlp::new(config, 5).unwrap();
        for n in [4, 65, 300, 512] {
            let b = batch(&config, n, n as u64);
            let mut reference_out = vec![0.0; n * 2];
            let mut reference_jvp = vec![0.0; n * 2];
            let mut reference_grads = vec![0.0; mlp.num_params()];
            let mut one = Workspace::with_threads(&mlp, n, 1);
            mlp.forward(&b.t, &b.x, &mut reference_out, &mut one)
                .unwrap();
            mlp.jvp_input(&b.t, &b.x, &b.x, &mut reference_jvp, &mut one)
                .unwrap();
            mlp.loss_and_grad(&b.t, &b.x, &b.target, None, &mut reference_grads, &mut one)
                .unwrap();
            for threads in [2, 3] {
                let mut ws = Workspace::with_threads(&mlp, n, threads);
                let mut out = vec![0.0; n * 2];
                let mut jvp = vec![0.0; n * 2];
                mlp.forward(&b.t, &b.x, &mut out, &mut ws).unwrap();
                mlp.jvp_input(&b.t, &b.x, &b.x, &mut jvp, &mut ws).unwrap();
                if n == 512 && threads == 2 {
                    assert_eq!(out, reference_out, "forward, n = {n}, {threads} threads");
                    assert_eq!(jvp, reference_jvp, "jvp, n = {n}, {threads} threads");
                }
                assert!(scaled_error(&out, &to_f64(&reference_out)) < 1e-6);
                assert!(scaled_error(&jvp, &to_f64(&reference_jvp)) < 1e-6);
                let mut first = vec![0.0; mlp.num_params()];
                let mut second = vec![0.0; mlp.num_params()];
                let loss_first = mlp
                    .loss_and_grad(&b.t, &b.x, &b.target, None, &mut first, &mut ws)
                    .unwrap();
                let loss_second = mlp
                    .loss_and_grad(&b.t, &b.x, &b.target, None, &mut second, &mut ws)
                    .unwrap();
                mlp.forward(&b.t, &b.x, &mut jvp, &mut ws).unwrap();
                assert_eq!(jvp, out, "forward repeated, n = {n}, {threads} threads");
                assert_eq!(first, second);
                assert_eq!(loss_first.to_bits(), loss_second.to_bits());
                let err = scaled_error(&first, &to_f64(&reference_grads));
                assert!(
                    err < 1e-5,
                    "gradients across thread counts differ by {err:e}"
                );
            }
        }
    }
}
