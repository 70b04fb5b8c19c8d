//! Times one training step (forward + backward + AdamW) of otto's fused MLP on a flow-matching-shaped
//! batch, and the machine's f32 GEMM peak to hold it against.
//!
//! ```sh
//! cargo run --release -p otto --example mlp_step_timing -- [width] [batch] [activation] [depth]
//! cargo run --release -p otto --example mlp_step_timing -- 256 1024 silu
//! ```
//! Defaults: width 64, batch 512, SELU, depth 3 (torchcfm's 3→64→64→64→2). Threads: rayon's pool
//! (set `RAYON_NUM_THREADS`). Each figure is the median and the minimum of per-step times over about
//! a second after a warm-up; on a shared machine the minimum shows the engine, the median the
//! machine. `PEAK=0` skips the GEMM peak measurement, `BREAKDOWN=0` the timings of the step's parts.

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
        if let Some(peak) = fma_peak() {
            println!("f32 FMA peak, register-only AVX-512 loop, 1 thread: {peak:.1} GFLOP/s");
        }
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

    let mut step = |mlp: &mut Mlp, ws: &mut Workspace| {
        mlp.loss_and_grad(&t, &x, &y, None, &mut grads, ws)
            .expect("shapes match");
        opt.step(mlp.params_mut(), &grads).expect("shapes match");
    };
    let (median, min) = time_ms(|| step(&mut mlp, &mut ws));
    println!(
        "{}→{}→2 ({}), batch {batch}, {threads} threads: {median:.4} ms/step median, {min:.4} min; \
         {:.1} GFLOP/s at the median, {:.1} at the min, in the matrix products ({:.1} MFLOP/step)",
        config.input_cols(),
        vec![width.to_string(); depth].join("→"),
        activation.name(),
        flops / median / 1e6,
        flops / min / 1e6,
        flops / 1e6
    );
    if std::env::var("BREAKDOWN").is_ok_and(|v| v == "0") {
        return;
    }

    // Where the time goes: the step run from inside rayon's pool (the calling thread is then a
    // worker and never sleeps on a latch), on one thread, and its parts on their own.
    let (pooled, pooled_min) = rayon::scope(|_| time_ms(|| step(&mut mlp, &mut ws)));
    let mut single = Workspace::with_threads(&mlp, batch, 1);
    let (one_thread, one_thread_min) = time_ms(|| step(&mut mlp, &mut single));
    let mut out = vec![0.0; 2 * batch];
    let (forward, _) = time_ms(|| {
        mlp.forward(&t, &x, &mut out, &mut ws)
            .expect("shapes match")
    });
    let mut grads = vec![0.0; mlp.num_params()];
    let (gradient, _) = time_ms(|| {
        mlp.loss_and_grad(&t, &x, &y, None, &mut grads, &mut ws)
            .expect("shapes match");
    });
    let mut opt = AdamW::new(mlp.num_params());
    let (adamw, _) = time_ms(|| opt.step(mlp.params_mut(), &grads).expect("shapes match"));
    println!(
        "  step inside the pool {pooled:.4} ms (min {pooled_min:.4}) | step on 1 thread {one_thread:.4} ms \
         (min {one_thread_min:.4}, {:.1} GFLOP/s) | medians of the parts: forward only {forward:.4} ms, \
         loss_and_grad {gradient:.4} ms, AdamW {adamw:.4} ms",
        flops / one_thread_min / 1e6
    );
}

/// Median and minimum milliseconds per call of `f`, from per-call times over about a second after
/// a 0.3 s warm-up.
fn time_ms(mut f: impl FnMut()) -> (f64, f64) {
    let warm = Instant::now();
    while warm.elapsed().as_secs_f64() < 0.3 {
        f();
    }
    let mut times = Vec::with_capacity(1 << 16);
    let start = Instant::now();
    while start.elapsed().as_secs_f64() < 1.0 || times.len() < 20 {
        let call = Instant::now();
        f();
        times.push(call.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    (times[times.len() / 2], times[0])
}

/// GFLOP/s of faer's f32 `matmul` (the engine's GEMM) on an n×n×n product with `threads`
/// threads (best of 5).
fn gemm_peak(n: usize, threads: usize) -> f64 {
    let a = faer::Mat::<f32>::from_fn(n, n, |_, _| 1.0);
    let b = faer::Mat::<f32>::from_fn(n, n, |_, _| 0.5);
    let mut c = faer::Mat::<f32>::zeros(n, n);
    let par = if threads == 1 {
        faer::Par::Seq
    } else {
        faer::Par::rayon(threads)
    };
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let start = Instant::now();
        faer::linalg::matmul::matmul(
            c.as_mut(),
            faer::Accum::Replace,
            a.as_ref(),
            b.as_ref(),
            1.0,
            par,
        );
        best = best.min(start.elapsed().as_secs_f64());
    }
    2.0 * (n as f64).powi(3) / best / 1e9
}

/// The core's f32 fused multiply-add peak: GFLOP/s of 12 independent chains of 512-bit `vfmadd`
/// in registers (no memory traffic, enough chains to cover the latency), on one thread; `None`
/// without AVX-512F. What a GEMM's GFLOP/s is a fraction of: on AMD Zen 4, which runs 512-bit
/// vectors as two 256-bit halves, it is half that of a core with full-width FMA units at the same
/// clock.
fn fma_peak() -> Option<f64> {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx512f") {
            let iterations = 100_000_000_u64;
            let start = Instant::now();
            // SAFETY: AVX-512F is present (checked above); the block only touches the registers it
            // declares as clobbered and the loop counter.
            unsafe { fma_chains(iterations) };
            let flops = (iterations * 12 * 2 * 16) as f64;
            return Some(flops / start.elapsed().as_secs_f64() / 1e9);
        }
    }
    None
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn fma_chains(iterations: u64) {
    std::arch::asm!(
        "vxorps xmm12, xmm12, xmm12",
        "vxorps xmm13, xmm13, xmm13",
        "2:",
        "vfmadd213ps zmm0, zmm12, zmm13",
        "vfmadd213ps zmm1, zmm12, zmm13",
        "vfmadd213ps zmm2, zmm12, zmm13",
        "vfmadd213ps zmm3, zmm12, zmm13",
        "vfmadd213ps zmm4, zmm12, zmm13",
        "vfmadd213ps zmm5, zmm12, zmm13",
        "vfmadd213ps zmm6, zmm12, zmm13",
        "vfmadd213ps zmm7, zmm12, zmm13",
        "vfmadd213ps zmm8, zmm12, zmm13",
        "vfmadd213ps zmm9, zmm12, zmm13",
        "vfmadd213ps zmm10, zmm12, zmm13",
        "vfmadd213ps zmm11, zmm12, zmm13",
        "dec {n}",
        "jnz 2b",
        n = inout(reg) iterations => _,
        out("zmm0") _, out("zmm1") _, out("zmm2") _, out("zmm3") _,
        out("zmm4") _, out("zmm5") _, out("zmm6") _, out("zmm7") _,
        out("zmm8") _, out("zmm9") _, out("zmm10") _, out("zmm11") _,
        out("zmm12") _, out("zmm13") _,
        options(nomem, nostack),
    );
}
