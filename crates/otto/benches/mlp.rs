//! One training step of otto's fused MLP (forward + MSE backward + AdamW) on the two reference
//! shapes of `BENCHMARKS.md`: 3→64→64→64→2 at batch 512 and 3→256→256→256→2 at batch 1024, SELU
//! and SiLU, with rayon's threads (set `RAYON_NUM_THREADS`), plus sampling-style forward passes.
//! PyTorch on the same shapes: `bench/peers/mlp_check.py time`.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use otto::network::{Activation, AdamW, Mlp, MlpConfig, Workspace};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

struct Setup {
    mlp: Mlp,
    ws: Workspace,
    opt: AdamW,
    grads: Vec<f32>,
    t: Vec<f32>,
    x: Vec<f32>,
    y: Vec<f32>,
}

fn setup(width: usize, batch: usize, activation: Activation) -> Setup {
    let mlp = Mlp::new(MlpConfig::new(2, 2).width(width).activation(activation), 0).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    Setup {
        ws: Workspace::new(&mlp, batch),
        opt: AdamW::new(mlp.num_params()),
        grads: vec![0.0; mlp.num_params()],
        t: (0..batch).map(|_| rng.gen()).collect(),
        x: (0..2 * batch).map(|_| rng.gen_range(-3.0..3.0)).collect(),
        y: (0..2 * batch).map(|_| rng.gen_range(-3.0..3.0)).collect(),
        mlp,
    }
}

fn training_step(c: &mut Criterion) {
    let mut group = c.benchmark_group("mlp_train_step");
    for (width, batch) in [(64, 512), (256, 1024)] {
        for activation in [Activation::Selu, Activation::Silu] {
            let mut s = setup(width, batch, activation);
            group.throughput(Throughput::Elements(batch as u64));
            group.bench_function(
                format!("{}_3x{width}_batch{batch}", activation.name()),
                |b| {
                    b.iter(|| {
                        let loss = s
                            .mlp
                            .loss_and_grad(&s.t, &s.x, &s.y, None, &mut s.grads, &mut s.ws)
                            .unwrap();
                        s.opt.step(s.mlp.params_mut(), &s.grads).unwrap();
                        black_box(loss)
                    })
                },
            );
        }
    }
    group.finish();
}

fn forward(c: &mut Criterion) {
    let mut group = c.benchmark_group("mlp_forward");
    for (width, batch, activation) in [
        (64, 10_000, Activation::Selu),
        (64, 10_000, Activation::Silu),
        (256, 1024, Activation::Selu),
    ] {
        let mut s = setup(width, batch, activation);
        let mut out = vec![0.0; 2 * batch];
        group.throughput(Throughput::Elements(batch as u64));
        let name = format!("{}_3x{width}_batch{batch}", activation.name());
        group.bench_function(name, |b| {
            b.iter(|| {
                s.mlp.forward(&s.t, &s.x, &mut out, &mut s.ws).unwrap();
                black_box(out[0])
            })
        });
    }
    group.finish();
}

criterion_group!(benches, training_step, forward);
criterion_main!(benches);
