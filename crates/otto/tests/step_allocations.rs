//! DESIGN.md's promise for the fused MLP engine: no heap allocation inside a training step, counted
//! with a counting global allocator (`cargo test --release -p otto --test step_allocations`).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use otto::network::{Activation, AdamW, Ema, Mlp, MlpConfig, Workspace};

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

/// Heap allocations and bytes over 20 training steps (forward + backward + AdamW + EMA) of a
/// 3×`width` MLP on a `threads`-thread rayon pool, after warm-up.
fn allocations_in_steps(width: usize, batch: usize, threads: usize) -> (usize, usize) {
    const STEPS: usize = 20;
    let config = MlpConfig::new(2, 2)
        .width(width)
        .depth(3)
        .activation(Activation::Selu);
    let mut mlp = Mlp::new(config, 0).expect("valid config");
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a thread pool");
    // Warm-up on every thread of the pool, the whole batch as one block: faer sizes a thread-local
    // scratch buffer on a thread's first product (once per thread, not per step), and which
    // thread runs which block of a step is up to work stealing.
    pool.broadcast(|_| {
        let mut ws = Workspace::with_threads(&mlp, batch, 1);
        let mut grads = vec![0.0; mlp.num_params()];
        let (t, x) = (vec![0.5; batch], vec![0.1; 2 * batch]);
        mlp.loss_and_grad(&t, &x, &x, None, &mut grads, &mut ws)
            .expect("shapes match");
    });
    pool.install(|| {
        let mut ws = Workspace::new(&mlp, batch);
        let mut opt = AdamW::new(mlp.num_params());
        let mut ema = Ema::new(0.999, mlp.params()).expect("a valid decay");
        let mut grads = vec![0.0; mlp.num_params()];
        let t: Vec<f32> = (0..batch).map(|i| i as f32 / batch as f32).collect();
        let x: Vec<f32> = (0..2 * batch).map(|i| (i % 7) as f32 - 3.0).collect();
        let y: Vec<f32> = x.iter().map(|v| -v).collect();
        let mut step = |mlp: &mut Mlp| {
            mlp.loss_and_grad(&t, &x, &y, None, &mut grads, &mut ws)
                .expect("shapes match");
            opt.step(mlp.params_mut(), &grads).expect("shapes match");
            ema.update(mlp.params()).expect("shapes match");
        };
        step(&mut mlp);
        let (calls, bytes) = (CALLS.load(Ordering::SeqCst), BYTES.load(Ordering::SeqCst));
        for _ in 0..STEPS {
            step(&mut mlp);
        }
        (
            CALLS.load(Ordering::SeqCst) - calls,
            BYTES.load(Ordering::SeqCst) - bytes,
        )
    })
}

#[test]
fn a_training_step_allocates_nothing() {
    // Truth: a counting global allocator (this binary's only test, so nothing else allocates
    // beside it). DESIGN.md: the workspace preallocates every buffer; the GEMMs (faer) keep their
    // packing buffers off the heap; inside the pool the blocks are split with rayon::join.
    for (width, batch) in [(64, 512), (256, 1024)] {
        for threads in [1, 2] {
            assert_eq!(
                allocations_in_steps(width, batch, threads),
                (0, 0),
                "3×{width}, batch {batch}, {threads} threads: (allocations, bytes) over 20 steps"
            );
        }
    }
}
