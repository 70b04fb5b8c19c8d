//! One MLP training step (forward + MSE loss + backward + AdamW) in candle, the peer of otto's
//! `mlp_step_timing` example: (2+1)→w→w→w→2 with SELU, batch `batch`, f32 on the CPU.
//!
//! Usage: `candle_mlp [width=64] [batch=512] [steps=500]`. Threads: candle's CPU kernels and gemm
//! read `RAYON_NUM_THREADS` (candle's `utils::get_num_threads`); run with `RAYON_NUM_THREADS=2`.

use std::time::Instant;

use candle_core::{DType, Device, Result, Tensor};
use candle_nn::{linear, AdamW, Linear, Module, Optimizer, ParamsAdamW, VarBuilder, VarMap};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SELU_LAMBDA: f64 = 1.050_700_987_355_480_5;
const SELU_ALPHA: f64 = 1.673_263_242_354_377_2;

/// SELU(x) = λ·ELU(x, α); candle has `Tensor::elu` with a backward pass but no SELU activation.
fn selu(x: &Tensor) -> Result<Tensor> {
    x.elu(SELU_ALPHA)? * SELU_LAMBDA
}

struct Mlp {
    layers: Vec<Linear>,
}

impl Mlp {
    fn new(vb: VarBuilder, width: usize) -> Result<Self> {
        let dims = [3, width, width, width, 2];
        let layers = dims
            .windows(2)
            .enumerate()
            .map(|(i, d)| linear(d[0], d[1], vb.pp(format!("l{i}"))))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { layers })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut h = x.clone();
        let last = self.layers.len() - 1;
        for (i, layer) in self.layers.iter().enumerate() {
            h = layer.forward(&h)?;
            if i < last {
                h = selu(&h)?;
            }
        }
        Ok(h)
    }
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, d: usize| args.get(i).map_or(d, |s| s.parse().expect("a positive integer"));
    let (width, batch, steps) = (arg(0, 64), arg(1, 512), arg(2, 500));
    let device = Device::Cpu;

    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &device);
    let mlp = Mlp::new(vb, width)?;
    let params = ParamsAdamW { lr: 1e-3, weight_decay: 1e-5, ..Default::default() };
    let mut opt = AdamW::new(varmap.all_vars(), params)?;

    // Fixed batch: input [t, x0, x1] (t in [0,1), x in [-3,3)), target in [-3,3).
    let t = Tensor::rand(0f32, 1f32, (batch, 1), &device)?;
    let x = Tensor::rand(-3f32, 3f32, (batch, 2), &device)?;
    let input = Tensor::cat(&[&t, &x], 1)?;
    let target = Tensor::rand(-3f32, 3f32, (batch, 2), &device)?;

    let mut step = || -> Result<f32> {
        let loss = candle_nn::loss::mse(&mlp.forward(&input)?, &target)?;
        opt.backward_step(&loss)?;
        loss.to_scalar::<f32>()
    };
    for _ in 0..20 {
        step()?;
    }
    let mut times = Vec::with_capacity(steps);
    let mut loss = 0.0;
    for _ in 0..steps {
        let start = Instant::now();
        loss = step()?;
        times.push(start.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    println!(
        "candle-core 0.11.1: 3→{w}→{w}→{w}→2 (selu), batch {batch}, {} threads, {steps} steps: \
         {:.4} ms/step median, {:.4} min (final loss {loss:.4})",
        candle_core::utils::get_num_threads(),
        times[steps / 2],
        times[0],
        w = width,
    );
    Ok(())
}
