//! Writes otto MLPs and what otto computes with them, for `bench/peers/mlp_check.py` to recompute
//! in PyTorch on the same weights and inputs.
//!
//! ```sh
//! cargo run --release -p otto --example mlp_export -- bench/peers/out/mlp
//! bench/peers/.venv/bin/python bench/peers/mlp_check.py bench/peers/out/mlp
//! ```
//! For each case NAME the directory gets `NAME.safetensors` (the model, as `Mlp::save_safetensors`
//! writes it) and `NAME.io.safetensors` with the inputs `t` [n], `x` [n, d], `target` [n, out],
//! `weight` [n], `v` [n, d] and otto's results: `out` [n, out] = f(t, x), `loss` [1] (weighted
//! mean squared error), `grad.KEY` for every parameter tensor KEY (same shape), and
//! `jvp` [n, out] = J_x f · v.

use std::collections::HashMap;
use std::path::PathBuf;

use otto::network::{Activation, Mlp, MlpConfig, TimeEmbedding, Workspace};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use safetensors::tensor::TensorView;
use safetensors::Dtype;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "bench/peers/out/mlp".into()),
    );
    std::fs::create_dir_all(&dir)?;
    let toy = MlpConfig::new(2, 2);
    let cases = [
        ("selu_64", toy),
        ("silu_256", toy.width(256).activation(Activation::Silu)),
        (
            "gelu_residual_sinusoidal",
            MlpConfig::new(3, 3)
                .width(48)
                .depth(4)
                .activation(Activation::Gelu)
                .residual(true)
                .time_embedding(TimeEmbedding::Sinusoidal { dim: 16 }),
        ),
        (
            "relu_fourier",
            toy.width(32)
                .activation(Activation::Relu)
                .time_embedding(TimeEmbedding::Fourier { dim: 8, scale: 2.0 }),
        ),
        (
            "silu_residual_wide_out",
            MlpConfig::new(8, 8)
                .width(128)
                .depth(3)
                .activation(Activation::Silu)
                .residual(true),
        ),
    ];
    let n = 300;
    for (seed, (name, config)) in cases.into_iter().enumerate() {
        let mlp = Mlp::new(config, seed as u64)?;
        let mut rng = ChaCha8Rng::seed_from_u64(100 + seed as u64);
        let (d, k) = (config.input_dim, config.output_dim);
        let t: Vec<f32> = (0..n).map(|_| rng.gen()).collect();
        let x: Vec<f32> = (0..n * d).map(|_| rng.gen_range(-3.0..3.0)).collect();
        let target: Vec<f32> = (0..n * k).map(|_| rng.gen_range(-3.0..3.0)).collect();
        let weight: Vec<f32> = (0..n).map(|_| rng.gen_range(0.1..2.0)).collect();
        let v: Vec<f32> = (0..n * d).map(|_| rng.gen_range(-1.0..1.0)).collect();

        let mut ws = Workspace::new(&mlp, n);
        let mut out = vec![0.0; n * k];
        mlp.forward(&t, &x, &mut out, &mut ws)?;
        let mut grads = vec![0.0; mlp.num_params()];
        let loss = mlp.loss_and_grad(&t, &x, &target, Some(&weight), &mut grads, &mut ws)?;
        let mut jvp = vec![0.0; n * k];
        mlp.jvp_input(&t, &x, &v, &mut jvp, &mut ws)?;

        let mut tensors: Vec<(String, Vec<usize>, Vec<f32>)> = vec![
            ("t".into(), vec![n], t),
            ("x".into(), vec![n, d], x),
            ("target".into(), vec![n, k], target),
            ("weight".into(), vec![n], weight),
            ("v".into(), vec![n, d], v),
            ("out".into(), vec![n, k], out),
            ("loss".into(), vec![1], vec![loss]),
            ("jvp".into(), vec![n, k], jvp),
        ];
        let mut offset = 0;
        for (key, shape) in mlp.tensor_names() {
            let len: usize = shape.iter().product();
            tensors.push((
                format!("grad.{key}"),
                shape,
                grads[offset..offset + len].to_vec(),
            ));
            offset += len;
        }
        let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
            .into_iter()
            .map(|(key, shape, values)| {
                (
                    key,
                    shape,
                    values.iter().flat_map(|v| v.to_le_bytes()).collect(),
                )
            })
            .collect();
        let views = bytes
            .iter()
            .map(|(key, shape, data)| {
                Ok((
                    key.clone(),
                    TensorView::new(Dtype::F32, shape.clone(), data)?,
                ))
            })
            .collect::<Result<Vec<_>, safetensors::SafeTensorError>>()?;
        let io = safetensors::serialize(
            views,
            Some(HashMap::from([("case".to_string(), name.to_string())])),
        )?;
        std::fs::write(dir.join(format!("{name}.io.safetensors")), io)?;
        mlp.save_safetensors(dir.join(format!("{name}.safetensors")))?;
        println!("{name}: {} parameters, loss {loss:.6}", mlp.num_params());
    }
    println!("wrote {} cases to {}", cases.len(), dir.display());
    Ok(())
}
