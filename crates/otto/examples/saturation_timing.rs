//! Times training steps of otto's MLP on one fixed batch of random targets, 500 steps at a time,
//! for each activation: memorizing noise drives hidden units deep into saturation, where an
//! activation that let subnormal numbers into the products would slow every step down (on x86 each
//! multiply with a subnormal operand is a microcode assist). BENCHMARKS.md, seventh session.
//!
//! ```sh
//! RAYON_NUM_THREADS=1 cargo run --release -p otto --example saturation_timing
//! ```

use std::time::Instant;

use otto::network::{Activation, AdamW, Mlp, MlpConfig, Workspace};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn main() {
    let batch = 512;
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let t: Vec<f32> = (0..batch).map(|_| rng.gen()).collect();
    let x: Vec<f32> = (0..2 * batch).map(|_| rng.gen_range(-3.0..3.0)).collect();
    let y: Vec<f32> = (0..2 * batch).map(|_| rng.gen_range(-3.0..3.0)).collect();
    for activation in [
        Activation::Selu,
        Activation::Silu,
        Activation::Gelu,
        Activation::Relu,
    ] {
        let mut mlp = Mlp::new(MlpConfig::new(2, 2).activation(activation), 0).unwrap();
        let mut ws = Workspace::new(&mlp, batch);
        let mut opt = AdamW::new(mlp.num_params());
        let mut grads = vec![0.0; mlp.num_params()];
        let mut line = format!("{:>4}, µs per step:", activation.name());
        let mut loss = 0.0;
        for _ in 0..8 {
            let start = Instant::now();
            for _ in 0..500 {
                loss = mlp
                    .loss_and_grad(&t, &x, &y, None, &mut grads, &mut ws)
                    .unwrap();
                opt.step(mlp.params_mut(), &grads).unwrap();
            }
            line += &format!(" {:.0}", start.elapsed().as_secs_f64() / 500.0 * 1e6);
        }
        println!("{line}  (loss after 4000 steps {loss:.4})");
    }
}
