//! Times one training step (forward + backward + AdamW) of otto's fused MLP on a flow-matching-shaped
//! batch, and the machine's f32 GEMM peak to hold it against.
//!
//! ```sh
//! cargo run --release -p otto --example mlp_step_timing -- [width] [batch] [activation] [depth]
//! cargo run --release -p otto --example mlp_step_timing -- 256 1024 silu
//! ```
//! Defaults: width 64, batch 512, SELU, depth 3 (torchcfm's 3→64→64→64→2). Threads: rayon's pool
//! (set `RAYON_NUM_THREADS`). `PEAK=0` skips the GEMM peak measurement, `BREAKDOWN=0` the timings
//! of the step's parts.

use std::time::Instant;

use otto::network::{Activation, AdamW, Mlp, MlpConfig, Workspace};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, default: &str| args.get(i).cloned().unwrap_or_else(|| default.to_string());
    let width: usize = arg(0, "64").parse().expect("width: a positive integer");
    let batch: usize = arg(1, "512").parse().expect("batch: a positive integer");
    let activation: Activation = arg(2, "selu").parse().unwrap_or_else(|e| panic!("{e}"));
    let depth: usize = arg(3, "3").parse().expect("depth: a positive integer");
    let threads = rayon::current_num_threads();

    if std::env::var("PEAK").map_or(true, |v| v != "0") {
        for t in [1, 2] {
            println!(
                "gemm f32 peak, 1536³, {t} thread(s): {:.1} GFLOP/s",
                gemm_peak(1536, t)
            );
        }
    }

    let config = MlpConfig::new(2, 2)
        .width(width)
        .depth(depth)
        .activation(activation);
    let mut mlp = Mlp::new(config, 0).expect("valid config");
    let mut ws = Workspace::new(&mlp, batch);
    let mut opt = AdamW::new(mlp.num_params());
    let mut grads = vec![0.0; mlp.num_params()];
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let t: Vec<f32> = (0..batch).map(|_| rng.gen()).collect();
    let x: Vec<f32> = (0..2 * batch).map(|_| rng.gen_range(-3.0..3.0)).collect();
    let y: Vec<f32> = (0..2 * batch).map(|_| rng.gen_range(-3.0..3.0)).collect();

    let flops = mlp.training_flops(batch);
    let label = format!(
        "{}→{}→2 ({}), batch {batch}",
        config.input_cols(),
        vec![width.to_string(); depth].join("→"),
        activation.name()
    );
    let step_ms = time_ms(|| {
        mlp.loss_and_grad(&t, &x, &y, None, &mut grads, &mut ws)
            .expect("shapes match");
        opt.step(mlp.params_mut(), &grads).expect("shapes match");
    });
    println!(
        "{label}, {threads} threads: {step_ms:.4} ms/step, {:.1} GFLOP/s in the matrix products ({:.1} MFLOP/step)",
        flops / step_ms / 1e6,
        flops / 1e6
    );

    if std::env::var("BREAKDOWN").is_ok_and(|v| v == "0") {
        return;
    }
    // Where the time goes: the step's parts on their own, the whole step run from inside rayon's
    // pool (every block on a pool thread), and on one thread.
    let mut out = vec![0.0; 2 * batch];
    let forward_ms = time_ms(|| {
        mlp.forward(&t, &x, &mut out, &mut ws)
            .expect("shapes match")
    });
    let grad_ms = time_ms(|| {
        mlp.loss_and_grad(&t, &x, &y, None, &mut grads, &mut ws)
            .expect("shapes match");
    });
    let adamw_ms = time_ms(|| opt.step(mlp.params_mut(), &grads).expect("shapes match"));
    let pooled_ms = rayon::scope(|_| {
        time_ms(|| {
            mlp.loss_and_grad(&t, &x, &y, None, &mut grads, &mut ws)
                .expect("shapes match");
            opt.step(mlp.params_mut(), &grads).expect("shapes match");
        })
    });
    let mut single = Workspace::with_threads(&mlp, batch, 1);
    let single_ms = time_ms(|| {
        mlp.loss_and_grad(&t, &x, &y, None, &mut grads, &mut single)
            .expect("shapes match");
        opt.step(mlp.params_mut(), &grads).expect("shapes match");
    });
    println!(
        "  forward only {forward_ms:.4} ms | loss_and_grad {grad_ms:.4} ms | AdamW {adamw_ms:.4} ms | step inside the pool {pooled_ms:.4} ms | step on 1 thread {single_ms:.4} ms ({:.1} GFLOP/s)",
        flops / single_ms / 1e6
    );
}

/// Milliseconds per call of `f`: warm up for 0.2 s, then the best of 5 rounds of ~0.2 s each
/// (the minimum is the least disturbed by other work on a shared machine).
fn time_ms(mut f: impl FnMut()) -> f64 {
    let warm = Instant::now();
    let mut calls = 0_usize;
    while warm.elapsed().as_secs_f64() < 0.2 {
        f();
        calls += 1;
    }
    let per_round = (calls as f64 * 0.2 / warm.elapsed().as_secs_f64())
        .ceil()
        .max(3.0) as usize;
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let start = Instant::now();
        for _ in 0..per_round {
            f();
        }
        best = best.min(start.elapsed().as_secs_f64() * 1e3 / per_round as f64);
    }
    best
}

/// GFLOP/s of the `gemm` crate on an n×n×n f32 product with `threads` threads (best of 5).
fn gemm_peak(n: usize, threads: usize) -> f64 {
    let a = vec![1.0_f32; n * n];
    let b = vec![0.5_f32; n * n];
    let mut c = vec![0.0_f32; n * n];
    let parallelism = if threads == 1 {
        gemm::Parallelism::None
    } else {
        gemm::Parallelism::Rayon(threads)
    };
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let start = Instant::now();
        // SAFETY: all three buffers are n×n, column-major with unit column stride n.
        unsafe {
            gemm::gemm(
                n,
                n,
                n,
                c.as_mut_ptr(),
                n as isize,
                1,
                false,
                a.as_ptr(),
                n as isize,
                1,
                b.as_ptr(),
                n as isize,
                1,
                0.0,
                1.0,
                false,
                false,
                false,
                parallelism,
            );
        }
        best = best.min(start.elapsed().as_secs_f64());
    }
    2.0 * (n as f64).powi(3) / best / 1e9
}
