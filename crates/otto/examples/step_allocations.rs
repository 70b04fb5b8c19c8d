//! Counts the heap allocations of one training step (forward + backward + AdamW) of otto's fused
//! MLP, with a counting global allocator, after a warm-up step, on a one-thread and a two-thread
//! rayon pool.
//!
//! ```sh
//! cargo run --release -p otto --example step_allocations
//! ```
//! otto's own code allocates nothing in a step; what is counted comes from the `gemm` crate (a
//! packing buffer and a small flag vector per product) and, with two threads, rayon's spawn of the
//! second block.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use otto::network::{Activation, AdamW, Mlp, MlpConfig, Workspace};

/// The system allocator, counting calls and bytes.
struct Counting;

static CALLS: AtomicUsize = AtomicUsize::new(0);
static BYTES: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator unchanged; the counters are atomics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        CALLS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(layout.size(), Ordering::Relaxed);
        System.alloc(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn main() {
    const STEPS: usize = 20;
    for (width, batch) in [(64, 512), (256, 1024)] {
        for threads in [1, 2] {
            let config = MlpConfig::new(2, 2)
                .width(width)
                .depth(3)
                .activation(Activation::Selu);
            let mut mlp = Mlp::new(config, 0).expect("valid config");
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("a thread pool");
            pool.install(|| {
                let mut ws = Workspace::new(&mlp, batch);
                let mut opt = AdamW::new(mlp.num_params());
                let mut grads = vec![0.0; mlp.num_params()];
                let t: Vec<f32> = (0..batch).map(|i| i as f32 / batch as f32).collect();
                let x: Vec<f32> = (0..2 * batch).map(|i| (i % 7) as f32 - 3.0).collect();
                let y: Vec<f32> = x.iter().map(|v| -v).collect();
                let mut step = |mlp: &mut Mlp| {
                    mlp.loss_and_grad(&t, &x, &y, None, &mut grads, &mut ws)
                        .expect("shapes match");
                    opt.step(mlp.params_mut(), &grads).expect("shapes match");
                };
                step(&mut mlp);
                let (calls, bytes) = (CALLS.load(Ordering::Relaxed), BYTES.load(Ordering::Relaxed));
                for _ in 0..STEPS {
                    step(&mut mlp);
                }
                let per = |after: usize, before: usize| (after - before) as f64 / STEPS as f64;
                println!(
                    "3×{width}, batch {batch}, {threads} thread(s): {:.1} allocations, {:.0} bytes per step",
                    per(CALLS.load(Ordering::Relaxed), calls),
                    per(BYTES.load(Ordering::Relaxed), bytes),
                );
            });
        }
    }
}
