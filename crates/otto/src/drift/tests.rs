use super::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

/// n points of N(mean, s² I) in `dim` dimensions, f32 row-major.
fn gaussian(n: usize, dim: usize, mean: f32, s: f32, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n * dim)
        .map(|_| mean + s * rng.sample::<f32, _>(StandardNormal))
        .collect()
}

/// Every variant at a temperature that suits points of unit scale.
fn fields() -> Vec<DriftField> {
    Variant::ALL
        .into_iter()
        .map(|v| {
            let t: &[f64] = match v {
                Variant::Official => &[0.02, 0.05, 0.2],
                Variant::SinkhornDivergence => &[0.05],
                _ => &[0.3],
            };
            DriftField::new(v).temperatures(t).unwrap()
        })
        .chain([DriftField::new(Variant::Mmd)
            .temperatures(&[0.5])
            .unwrap()
            .kernel(MmdKernel::Laplace)])
        .collect()
}

fn max_abs(v: &[f32]) -> f32 {
    v.iter().fold(0.0f32, |m, x| m.max(x.abs()))
}

#[test]
fn the_field_vanishes_when_positives_equal_negatives() {
    // Truth: antisymmetry (Deng et al. Prop. 3.1): V_{p,q} = −V_{q,p}, so V = 0 when the
    // positives and the negatives are the same points. Tolerance: f32 round-off relative to the
    // size of one side's pull (|m⁻s⁺| ≈ |m⁺s⁻|, which differ only by summation order).
    let x = gaussian(40, 2, 0.5, 1.0, 1);
    let p = gaussian(60, 2, 0.0, 1.0, 2);
    for field in fields() {
        if field.variant() == Variant::Official {
            continue; // always adds x's own rows to the negatives; see the next test
        }
        let drift = field.evaluate(&x, &p, Some(&p), 2).unwrap();
        let one_side = field.evaluate(&x, &p, Some(&x), 2).unwrap();
        let scale = max_abs(&one_side.velocity).max(1e-6);
        assert!(
            max_abs(&drift.velocity) < 2e-5 * scale.max(1.0),
            "{:?}: {} vs {}",
            field.variant(),
            max_abs(&drift.velocity),
            scale
        );
    }
}

#[test]
fn the_official_drift_nearly_vanishes_when_generated_points_follow_the_data() {
    // Truth: the population field of the release is 0 at p = q; on finite batches (its own rows
    // self-masked among the negatives, the affinity floor) it is small compared with the field
    // toward data moved by one standard deviation: λ² (mean square per temperature) at p = q is
    // under a fifth of λ² at the shifted data (measured: 0.10 of it at R = 0.02, less above), at every temperature.
    let field = DriftField::new(Variant::Official);
    let x = gaussian(1024, 2, 0.0, 1.0, 3);
    let same = gaussian(1024, 2, 0.0, 1.0, 4);
    let shifted = gaussian(1024, 2, 1.0, 1.0, 4);
    let at_fixed_point = field.evaluate(&x, &same, None, 2).unwrap();
    let away = field.evaluate(&x, &shifted, None, 2).unwrap();
    for (a, b) in at_fixed_point.magnitudes.iter().zip(&away.magnitudes) {
        assert!(a < &(0.2 * b), "{a} vs {b}");
    }
}

/// The paper's Alg. 2 written the notebook's way, in f64: K = exp(−d/τ) with 10⁶ on the gen–gen
/// diagonal, A = K/√(rowsum · colsum), W⁺ = A⁺·rowsum(A⁻), W⁻ = A⁻·rowsum(A⁺), V = W⁺y⁺ − W⁻y⁻.
fn notebook_alg2(x: &[f32], p: &[f32], dim: usize, tau: f64) -> Vec<f64> {
    let n = x.len() / dim;
    let cols: Vec<&[f32]> = p.chunks(dim).chain(x.chunks(dim)).collect();
    let m_pos = p.len() / dim;
    let k: Vec<Vec<f64>> = x
        .chunks(dim)
        .enumerate()
        .map(|(i, xi)| {
            cols.iter()
                .enumerate()
                .map(|(j, y)| {
                    let d = xi
                        .iter()
                        .zip(y.iter())
                        .map(|(a, b)| ((a - b) as f64).powi(2))
                        .sum::<f64>()
                        .sqrt();
                    let mask = if j == m_pos + i { 1e6 } else { 0.0 };
                    (-(d + mask) / tau).exp()
                })
                .collect()
        })
        .collect();
    let rowsum: Vec<f64> = k.iter().map(|r| r.iter().sum()).collect();
    let colsum: Vec<f64> = (0..cols.len())
        .map(|j| k.iter().map(|r| r[j]).sum())
        .collect();
    let mut v = vec![0.0; n * dim];
    for i in 0..n {
        let a: Vec<f64> = (0..cols.len())
            .map(|j| k[i][j] / (rowsum[i] * colsum[j]).sqrt())
            .collect();
        let (pos, neg) = a.split_at(m_pos);
        let (sp, sn): (f64, f64) = (pos.iter().sum(), neg.iter().sum());
        for c in 0..dim {
            let mut acc = 0.0;
            for (j, y) in cols.iter().enumerate() {
                let w = if j < m_pos { a[j] * sn } else { -a[j] * sp };
                acc += w * y[c] as f64;
            }
            v[i * dim + c] = acc;
        }
    }
    v
}

#[test]
fn the_two_written_forms_of_alg2_agree() {
    // Truth: the notebook's K/√(rowsum·colsum) in f64 (no log-domain shifts) against otto's
    // streamed geometric mean of softmaxes in f32; tolerance: f32 round-off on sums of 200 terms
    // relative to the largest component.
    let x = gaussian(80, 2, 0.3, 0.5, 5);
    let p = gaussian(120, 2, 0.0, 0.5, 6);
    for tau in [0.05, 0.3] {
        let otto = DriftField::new(Variant::Deng)
            .temperatures(&[tau])
            .unwrap()
            .evaluate(&x, &p, None, 2)
            .unwrap();
        let truth = notebook_alg2(&x, &p, 2, tau);
        let scale = truth.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        for (a, b) in otto.velocity.iter().zip(&truth) {
            assert!((*a as f64 - b).abs() < 1e-4 * scale, "τ={tau}: {a} vs {b}");
        }
        assert_eq!(otto.dead_rows, 0);
    }
}

#[test]
fn every_field_is_permutation_and_rigid_motion_equivariant() {
    // Truth: the fields depend on points only through distances and barycenters, so permuting
    // x's rows permutes V, and a rotation plus translation of all points rotates V. Tolerance:
    // f32 round-off relative to the largest component.
    let x = gaussian(50, 2, 0.2, 0.7, 7);
    let p = gaussian(70, 2, -0.3, 0.7, 8);
    let n = 50;
    let perm: Vec<usize> = (0..n).map(|i| (i * 17 + 3) % n).collect();
    let permuted: Vec<f32> = perm
        .iter()
        .flat_map(|&i| x[2 * i..2 * i + 2].to_vec())
        .collect();
    let (c, s) = (0.6f32, 0.8f32);
    let motion = |v: &[f32]| -> Vec<f32> {
        v.chunks(2)
            .flat_map(|q| [c * q[0] - s * q[1] + 1.5, s * q[0] + c * q[1] - 0.5])
            .collect()
    };
    for field in fields() {
        let v = field.evaluate(&x, &p, None, 2).unwrap().velocity;
        let scale = max_abs(&v);
        let vp = field.evaluate(&permuted, &p, None, 2).unwrap().velocity;
        for (r, &i) in perm.iter().enumerate() {
            for k in 0..2 {
                assert!(
                    (vp[2 * r + k] - v[2 * i + k]).abs() < 1e-4 * scale,
                    "{:?} permutation",
                    field.variant()
                );
            }
        }
        let vm = field
            .evaluate(&motion(&x), &motion(&p), None, 2)
            .unwrap()
            .velocity;
        for (a, b) in vm.chunks(2).zip(v.chunks(2)) {
            let rotated = [c * b[0] - s * b[1], s * b[0] + c * b[1]];
            for k in 0..2 {
                assert!(
                    (a[k] - rotated[k]).abs() < 2e-4 * scale,
                    "{:?} rigid motion: {a:?} vs {rotated:?}",
                    field.variant()
                );
            }
        }
    }
}

#[test]
fn kde_score_field_converges_to_the_gaussian_closed_form() {
    // Truth: MATH.md §5 — for p = N(a, s_p²), q = N(b, s_q²) in 1-D and a Gaussian window σ,
    // V(x) = σ²[(a − x)/(s_p² + σ²) − (b − x)/(s_q² + σ²)]. The Monte-Carlo error falls like
    // 1/√M: the worst error over a grid of x falls below 0.03 at M = 200 000 and is larger at
    // M = 500.
    let (a, sp, b, sq, sigma) = (1.0f32, 0.8f32, -0.5f32, 1.2f32, 0.5f32);
    let x: Vec<f32> = (0..9).map(|i| -1.0 + 0.25 * i as f32).collect();
    let exact = |x: f32| {
        let s2 = sigma * sigma;
        s2 * ((a - x) / (sp * sp + s2) - (b - x) / (sq * sq + s2))
    };
    let field = DriftField::new(Variant::KdeScore)
        .temperatures(&[sigma as f64])
        .unwrap();
    let worst = |m: usize| {
        let pos = gaussian(m, 1, a, sp, 10);
        let neg = gaussian(m, 1, b, sq, 11);
        let v = field.evaluate(&x, &pos, Some(&neg), 1).unwrap().velocity;
        x.iter()
            .zip(&v)
            .map(|(&xi, &vi)| (vi - exact(xi)).abs())
            .fold(0.0f32, f32::max)
    };
    let (small, large) = (worst(500), worst(200_000));
    assert!(large < 0.03, "M = 200 000: {large}");
    assert!(small > large, "{small} vs {large}");
}

/// The V-statistic MMD² between x and y for a kernel of the distance, in f64.
fn mmd2(x: &[f64], y: &[f64], dim: usize, k: &dyn Fn(f64) -> f64) -> f64 {
    let mean = |a: &[f64], b: &[f64]| {
        let mut s = 0.0;
        for p in a.chunks(dim) {
            for q in b.chunks(dim) {
                let d = p
                    .iter()
                    .zip(q)
                    .map(|(u, v)| (u - v).powi(2))
                    .sum::<f64>()
                    .sqrt();
                s += k(d);
            }
        }
        s / ((a.len() / dim) * (b.len() / dim)) as f64
    };
    mean(x, x) - 2.0 * mean(x, y) + mean(y, y)
}

#[test]
fn mmd_field_is_minus_n_over_two_times_the_gradient_of_mmd2() {
    // Truth: central finite differences (step 10⁻⁴, f64) of the V-statistic MMD² between x (the
    // negatives) and the positives: V_i = −(n/2) ∂MMD²/∂x_i. Tolerance: the O(h²) error plus f32
    // round-off, relative to the largest component.
    let dim = 2;
    let x = gaussian(12, dim, 0.4, 0.6, 12);
    let p = gaussian(15, dim, -0.2, 0.6, 13);
    let h = 0.7f64;
    type Kernel = Box<dyn Fn(f64) -> f64>;
    let kernels: [(MmdKernel, Kernel); 2] = [
        (
            MmdKernel::Gaussian,
            Box::new(move |d: f64| (-d * d / (2.0 * h * h)).exp()),
        ),
        (MmdKernel::Laplace, Box::new(move |d: f64| (-d / h).exp())),
    ];
    let x64: Vec<f64> = x.iter().map(|&v| v as f64).collect();
    let p64: Vec<f64> = p.iter().map(|&v| v as f64).collect();
    for (kernel, k) in kernels {
        let v = DriftField::new(Variant::Mmd)
            .temperatures(&[h])
            .unwrap()
            .kernel(kernel)
            .evaluate(&x, &p, None, dim)
            .unwrap()
            .velocity;
        let scale = max_abs(&v) as f64;
        for c in 0..x.len() {
            let step = 1e-4;
            let (mut up, mut down) = (x64.clone(), x64.clone());
            up[c] += step;
            down[c] -= step;
            let grad = (mmd2(&up, &p64, dim, &*k) - mmd2(&down, &p64, dim, &*k)) / (2.0 * step);
            let expected = -(12.0 / 2.0) * grad;
            assert!(
                (v[c] as f64 - expected).abs() < 1e-4 * scale,
                "{kernel:?} coordinate {c}: {} vs {expected}",
                v[c]
            );
        }
    }
}

#[test]
fn official_loss_is_exactly_one_with_one_temperature() {
    // Truth: the release normalizes each temperature's field to unit RMS in its normalized
    // coordinates, so with one temperature the regression loss at f = x, weight · mean V², is 1
    // (issue #3 of lambertae/drifting); with three it is the mean square of a sum of three
    // unit-RMS fields, between 1 and 9.
    let x = gaussian(300, 2, 2.0, 3.0, 14);
    let p = gaussian(400, 2, 0.0, 1.0, 15);
    for (temperatures, range) in [
        (vec![0.05], 1.0..1.0 + 1e-5),
        (vec![0.02, 0.05, 0.2], 1.0..9.0),
    ] {
        let drift = DriftField::new(Variant::Official)
            .temperatures(&temperatures)
            .unwrap()
            .evaluate(&x, &p, None, 2)
            .unwrap();
        let loss = drift.loss_weight as f64 * mean_square(&drift.velocity);
        let ok = if temperatures.len() == 1 {
            (loss - 1.0).abs() < 1e-5
        } else {
            range.contains(&loss)
        };
        assert!(ok, "{temperatures:?}: loss {loss}");
        assert_eq!(drift.magnitudes.len(), temperatures.len());
    }
}

#[test]
fn sinkhorn_divergence_field_is_the_difference_of_barycentric_projections() {
    // Truth: on x = q's own points the extension through g is exact: V_i = Σ_j π_ij y_j / Σ_j π_ij
    // for the plan to p minus the same for the plan to q itself, with both plans from otto-ot's
    // dense solver (cost ½‖·‖² ≡ ‖·‖² at 2ε). Tolerance: the field's solves stop at a marginal
    // error of 10⁻⁵ (measured deviation 1.1e-4 on projections of size 1).
    let x = gaussian(30, 2, 0.5, 0.5, 16);
    let p = gaussian(40, 2, -0.5, 0.5, 17);
    let eps = 0.05;
    let v = DriftField::new(Variant::SinkhornDivergence)
        .temperatures(&[eps])
        .unwrap()
        .evaluate(&x, &p, None, 2)
        .unwrap()
        .velocity;
    let matrix =
        |v: &[f32]| Matrix::new(v.len() / 2, 2, v.iter().map(|&a| a as f64).collect()).unwrap();
    let projection = |target: &[f32]| {
        let (xs, ys) = (matrix(&x), matrix(target));
        let cost = squared_euclidean(&xs, &ys).unwrap();
        let u = |n: usize| vec![1.0 / n as f64; n];
        let plan = Sinkhorn::new(2.0 * eps)
            .tolerance(1e-10)
            .solve(&u(xs.rows()), &u(ys.rows()), &cost)
            .unwrap()
            .plan;
        let mut out = vec![0.0f64; x.len()];
        for i in 0..xs.rows() {
            let row = plan.row(i);
            let mass: f64 = row.iter().sum();
            for k in 0..2 {
                out[2 * i + k] = row
                    .iter()
                    .zip(0..)
                    .map(|(w, j)| w * ys.get(j, k))
                    .sum::<f64>()
                    / mass;
            }
        }
        out
    };
    let (tp, tq) = (projection(&p), projection(&x));
    for c in 0..x.len() {
        let expected = tp[c] - tq[c];
        assert!(
            (v[c] as f64 - expected).abs() < 5e-4,
            "{c}: {} vs {expected}",
            v[c]
        );
    }
}

#[test]
fn an_underflowing_kernel_is_reported_with_a_temperature_that_works() {
    // Truth: a generated point 30 units from everything while the others sit on the data: at
    // τ = 0.05 the column softmax gives it affinities below f32's range, so its V is 0 (and
    // m⁺m⁻ < ε); the suggested τ brings every row back.
    let mut x = gaussian(64, 2, 0.0, 0.3, 18);
    x[0] = 30.0;
    x[1] = 30.0;
    let p = gaussian(64, 2, 0.0, 0.3, 19);
    let field = DriftField::new(Variant::Deng);
    let drift = field.evaluate(&x, &p, None, 2).unwrap();
    assert!(drift.dead_rows >= 1);
    assert_eq!(&drift.velocity[..2], &[0.0, 0.0]);
    let suggested = drift.suggested_temperature.unwrap();
    assert!(suggested > 0.05);
    let again = DriftField::new(Variant::Deng)
        .temperatures(&[suggested])
        .unwrap()
        .evaluate(&x, &p, None, 2)
        .unwrap();
    assert_eq!(again.dead_rows, 0);
    assert!(again.velocity[0] != 0.0 || again.velocity[1] != 0.0);
}

#[test]
fn bad_input_is_named() {
    // Truth: the documented validation — each message names the set or option at fault.
    let x = gaussian(4, 2, 0.0, 1.0, 20);
    let field = DriftField::new(Variant::Deng);
    let err = |r: Result<Drift, DriftError>| r.unwrap_err().to_string();
    assert!(err(field.evaluate(&x[..2], &x, None, 2)).starts_with("x: 1 point"));
    assert!(err(field.evaluate(&x, &x[..3], None, 2)).starts_with("positives: 3 numbers"));
    let mut nan = x.clone();
    nan[5] = f32::NAN;
    assert!(err(field.evaluate(&x, &x, Some(&nan), 2)).starts_with("negatives: row 2"));
    assert!(DriftField::new(Variant::Deng).temperatures(&[0.0]).is_err());
    assert!(DriftField::new(Variant::Deng)
        .temperatures(&[0.1, 0.2])
        .unwrap_err()
        .to_string()
        .contains("only official"));
    let unknown = "sinkhorn".parse::<Variant>().unwrap_err().to_string();
    assert!(unknown.contains("deng, official, sinkhorn-proxy, mmd, kde-score, sinkhorn-divergence"));
}

#[test]
fn fast_exp_matches_the_library_exp() {
    // Truth: f64 exp; Cephes' polynomial is accurate to a few f32 ulps over the range, and 0
    // below ln(f32::MIN_POSITIVE).
    for i in -8800..8800 {
        let x = i as f32 * 0.01;
        let (ours, truth) = (affinity::exp(x) as f64, (x as f64).exp());
        if x < affinity::LN_MIN_POSITIVE {
            assert_eq!(ours, 0.0);
        } else {
            assert!(
                (ours - truth).abs() <= 4e-7 * truth,
                "{x}: {ours} vs {truth}"
            );
        }
    }
}

use otto_ot::cost::squared_euclidean;
use otto_ot::entropic::Sinkhorn;
use otto_ot::Matrix;
