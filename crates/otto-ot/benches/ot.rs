//! Criterion benches of the OT solvers on the benchmark problem of BENCHMARKS.md: squared-Euclidean
//! cost between two seeded 2-D standard Gaussian clouds, the second shifted by (1, 1).
//! Run with `cargo bench -p otto-ot --bench ot`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use otto_ot::entropic::Sinkhorn;
use otto_ot::exact::{Assignment, NetworkSimplex};
use otto_ot::marginal::uniform;
use otto_ot::sliced::SlicedW2;
use otto_ot::{squared_euclidean, Matrix};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

fn clouds(n: usize, seed: u64) -> (Matrix, Matrix) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut draw = |shift: f64| {
        Matrix::from_fn(n, 2, |_, _| {
            let z: f64 = StandardNormal.sample(&mut rng);
            shift + z
        })
    };
    let x = draw(0.0);
    (x, draw(1.0))
}

fn exact(c: &mut Criterion) {
    let mut group = c.benchmark_group("exact");
    group.sample_size(10);
    for n in [256, 1000] {
        let (x, y) = clouds(n, 0);
        let cost = squared_euclidean(&x, &y).unwrap();
        let w = uniform(n);
        group.bench_with_input(BenchmarkId::new("assignment", n), &n, |b, _| {
            b.iter(|| Assignment::default().solve(&cost).unwrap())
        });
        group.bench_with_input(BenchmarkId::new("network_simplex", n), &n, |b, _| {
            b.iter(|| NetworkSimplex::default().solve(&w, &w, &cost).unwrap())
        });
    }
    group.finish();
}

fn entropic(c: &mut Criterion) {
    let mut group = c.benchmark_group("sinkhorn");
    group.sample_size(10);
    for n in [256, 1000] {
        let (x, y) = clouds(n, 0);
        let cost = squared_euclidean(&x, &y).unwrap();
        let eps = 0.05 * cost.as_slice().iter().sum::<f64>() / (n * n) as f64;
        let w = uniform(n);
        group.bench_with_input(BenchmarkId::new("log_stabilized_tol1e-6", n), &n, |b, _| {
            b.iter(|| {
                Sinkhorn::new(eps)
                    .tolerance(1e-6)
                    .solve(&w, &w, &cost)
                    .unwrap()
            })
        });
    }
    group.finish();
}

fn geometry(c: &mut Criterion) {
    let mut group = c.benchmark_group("geometry");
    let (x, y) = clouds(1000, 1);
    group.bench_function("cost_matrix_1000x1000_d2", |b| {
        b.iter(|| squared_euclidean(&x, &y).unwrap())
    });
    let w = uniform(1000);
    group.bench_function("sliced_w2_1000_128proj", |b| {
        b.iter(|| {
            SlicedW2::default()
                .projections(128)
                .squared(&x, &w, &y, &w)
                .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, exact, entropic, geometry);
criterion_main!(benches);
