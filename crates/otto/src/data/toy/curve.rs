//! Data sets that are noisy curves: moons, circles, rings, spirals, and the 2-D views of the
//! S curve and the swiss roll. Each function draws its points from `rng`.

use std::f64::consts::PI;

use rand::seq::SliceRandom;
use rand::Rng;
use rand_distr::StandardNormal;

fn normal(rng: &mut impl Rng) -> f64 {
    rng.sample(StandardNormal)
}

/// `numpy.linspace(0, π, count)[k]`: `count` evenly spaced angles from 0 to π, both included.
fn half_turn(k: usize, count: usize) -> f64 {
    if count > 1 {
        PI * k as f64 / (count - 1) as f64
    } else {
        0.0
    }
}

/// `numpy.linspace(0, 2π, count, endpoint=False)[k]`: `count` evenly spaced angles round a circle.
fn full_turn(k: usize, count: usize) -> f64 {
    2.0 * PI * k as f64 / count as f64
}

/// Point i of the noiseless two-moons grid of n points shared by scikit-learn's `make_moons` and
/// torchdyn's `generate_moons`: the first ⌊n/2⌋ at (cos θ, sin θ), the rest at
/// (1 − cos θ, ½ − sin θ), θ evenly spaced over [0, π] within each moon.
fn moon_point(i: usize, n: usize) -> [f64; 2] {
    let n_out = n / 2;
    if i < n_out {
        let t = half_turn(i, n_out);
        [t.cos(), t.sin()]
    } else {
        let t = half_turn(i - n_out, n - n_out);
        [1.0 - t.cos(), 0.5 - t.sin()]
    }
}

/// torchcfm's `sample_moons(n)` = `generate_moons(n, noise=0.2)[0] * 3 - 1` (`torchcfm/utils.py`,
/// atong01/conditional-flow-matching), with torchdyn's `generate_moons`
/// (`torchdyn/datasets/static_datasets.py`, DiffEqML/torchdyn). The ⌊n/2⌋ points of the upper
/// moon sit at (cos θ, sin θ) and the n − ⌊n/2⌋ of the lower at (1 − cos θ, ½ − sin θ), with θ
/// evenly spaced over [0, π] (both ends included), in that order, unshuffled.
///
/// The noise is **not** scikit-learn's: torchdyn adds `np.random.rand(n, 1) * noise`, one
/// uniform draw u ~ U[0, 0.2) per point, added to *both* coordinates (a shift along (1, 1)).
/// After `3x − 1` the shift is 3u ~ U[0, 0.6) on each coordinate; the mean is (0.8, 0.05) in
/// the limit n → ∞, not the (0.5, −0.25) of Gaussian noise.
pub fn moons(n: usize, rng: &mut impl Rng) -> Vec<[f64; 2]> {
    (0..n)
        .map(|i| {
            let base = moon_point(i, n);
            let u = 0.2 * rng.gen::<f64>();
            [3.0 * (base[0] + u) - 1.0, 3.0 * (base[1] + u) - 1.0]
        })
        .collect()
}

/// torchcfm *runner*'s `moons` (`SKLearnDataModule` in `runner/src/datamodules/distribution_datamodule.py`,
/// atong01/conditional-flow-matching), the data of the SF2M paper's benchmarks:
/// `make_moons(n, noise=0.05)`, then ×2 and x − 1. scikit-learn's `make_moons`: ⌊n/2⌋ points on
/// the upper half circle and the rest on the lower one at evenly spaced angles (as [`moons`]),
/// N(0, 0.05²·I) noise, rows shuffled; after scaling the noise sd is 0.1.
pub fn sklearn_moons(n: usize, rng: &mut impl Rng) -> Vec<[f64; 2]> {
    let mut points: Vec<[f64; 2]> = (0..n)
        .map(|i| {
            let base = moon_point(i, n);
            let (e0, e1): (f64, f64) = (rng.sample(StandardNormal), rng.sample(StandardNormal));
            [
                2.0 * (base[0] + 0.05 * e0) - 1.0,
                2.0 * (base[1] + 0.05 * e1),
            ]
        })
        .collect();
    points.shuffle(rng);
    points
}

/// The torchcfm runner's `moon` of its two-data-set benchmark (`data_distrib` in
/// `runner/src/datamodules/components/two_dim.py`, atong01/conditional-flow-matching, adapted
/// from the diffusion Schrödinger bridge code of De Bortoli et al.): scikit-learn's
/// `make_moons(n, noise=0.1)`, standardized by one scalar mean and one scalar standard deviation
/// taken over all coordinates together, then times 7 — the `moon-8gaussians` task of the
/// flow-matching and SF2M papers.
///
/// The runner standardizes by the statistics of the sample it drew (12 000 points); otto uses
/// their limits, so that the distribution does not depend on n (the two differ by O(1/√n)).
/// With θ evenly spaced on [0, π] the scalar mean is m = (½ + ¼)/2 = 3/8 and the mean square is
/// s₂ = (E x² + E y²)/2 with E x² = ½(½ + 3/2) + 0.01 = 1.01 and
/// E y² = ½(½ + ¼ − 2/π + ½) + 0.01, so the standard deviation is √(s₂ − m²) ≈ 0.7230.
pub fn dsb_moons(n: usize, rng: &mut impl Rng) -> Vec<[f64; 2]> {
    let mean = 0.375;
    let ex2 = 1.01;
    let ey2 = 0.5 * (1.25 - 2.0 / PI) + 0.01;
    let sd = (0.5 * (ex2 + ey2) - mean * mean).sqrt();
    let mut points: Vec<[f64; 2]> = (0..n)
        .map(|i| {
            let base = moon_point(i, n);
            let (e0, e1): (f64, f64) = (rng.sample(StandardNormal), rng.sample(StandardNormal));
            [
                7.0 * (base[0] + 0.1 * e0 - mean) / sd,
                7.0 * (base[1] + 0.1 * e1 - mean) / sd,
            ]
        })
        .collect();
    points.shuffle(rng);
    points
}

/// torchcfm's `circles` (`SKLearnDataModule` in `runner/src/datamodules/distribution_datamodule.py`,
/// atong01/conditional-flow-matching): `3.5 · make_circles(n, factor=0.5, noise=0.05)` with
/// scikit-learn's `make_circles` (`sklearn/datasets/_samples_generator.py`): ⌊n/2⌋ points on the
/// unit circle and n − ⌊n/2⌋ on the circle of radius ½, each at evenly spaced angles 2πk/count,
/// rows shuffled, plus N(0, 0.05²·I) noise, then scaled: radii 3.5 and 1.75, noise sd 0.175.
///
/// FFJORD's `circles` differs (noise 0.08, scale 3); the torchcfm definition is the one here.
pub fn circles(n: usize, rng: &mut impl Rng) -> Vec<[f64; 2]> {
    let n_out = n / 2;
    let n_in = n - n_out;
    let mut points: Vec<[f64; 2]> = (0..n)
        .map(|i| {
            let (radius, t) = if i < n_out {
                (1.0, full_turn(i, n_out))
            } else {
                (0.5, full_turn(i - n_out, n_in))
            };
            [radius * t.cos(), radius * t.sin()]
        })
        .collect();
    points.shuffle(rng);
    for p in &mut points {
        for v in p.iter_mut() {
            *v = 3.5 * (*v + 0.05 * normal(rng));
        }
    }
    points
}

/// torchcfm's `scurve` (`SKLearnDataModule` in `runner/src/datamodules/distribution_datamodule.py`,
/// atong01/conditional-flow-matching; the target of the "N → scurve" column of the SF2M paper):
/// `1.5 · make_s_curve(n, noise=0.05)[:, [0, 2]]` with scikit-learn's `make_s_curve`: t ~ U(−3π/2,
/// 3π/2), the point (sin t, sign(t)(cos t − 1)) plus N(0, 0.05²·I) noise, times 1.5. (The dropped
/// middle coordinate, the S curve's width, does not enter.)
pub fn s_curve(n: usize, rng: &mut impl Rng) -> Vec<[f64; 2]> {
    (0..n)
        .map(|_| {
            let t = 3.0 * PI * (rng.gen::<f64>() - 0.5);
            let x = t.sin() + 0.05 * normal(rng);
            let z = t.signum() * (t.cos() - 1.0) + 0.05 * normal(rng);
            [1.5 * x, 1.5 * z]
        })
        .collect()
}

/// FFJORD's `swissroll` (`lib/toy_data.py`, rtqichen/ffjord):
/// `make_swiss_roll(n, noise=1.0)[:, [0, 2]] / 5` with scikit-learn's `make_swiss_roll`:
/// t ~ U(3π/2, 9π/2), the point (t cos t, t sin t) plus N(0, I) noise, divided by 5.
pub fn swiss_roll(n: usize, rng: &mut impl Rng) -> Vec<[f64; 2]> {
    (0..n)
        .map(|_| {
            let t = 1.5 * PI * (1.0 + 2.0 * rng.gen::<f64>());
            let x = t * t.cos() + normal(rng);
            let z = t * t.sin() + normal(rng);
            [x / 5.0, z / 5.0]
        })
        .collect()
}

/// The swiss roll of the drifting paper's toy notebook (Deng et al. 2026; MATH.md §5):
/// t = π/2 + 4πu (u ~ U[0, 1)), the points (t cos t, t sin t) divided by the largest norm among
/// the n drawn, plus 0.03·N(0, I).
pub fn drifting_swiss_roll(n: usize, rng: &mut impl Rng) -> Vec<[f64; 2]> {
    let t: Vec<f64> = (0..n)
        .map(|_| 0.5 * PI + 4.0 * PI * rng.gen::<f64>())
        .collect();
    let largest = t.iter().fold(0.0f64, |m, &t| m.max(t.abs()));
    t.into_iter()
        .map(|t| {
            [
                t * t.cos() / largest + 0.03 * normal(rng),
                t * t.sin() / largest + 0.03 * normal(rng),
            ]
        })
        .collect()
}

/// FFJORD's `rings` (`lib/toy_data.py`, rtqichen/ffjord): four concentric circles of radii
/// 3·{1, ¾, ½, ¼}; the three outer ones get ⌊n/4⌋ points each and the innermost the rest, each at
/// evenly spaced angles 2πk/count; rows shuffled, plus N(0, 0.08²·I) noise.
pub fn rings(n: usize, rng: &mut impl Rng) -> Vec<[f64; 2]> {
    let quarter = n / 4;
    let counts = [quarter, quarter, quarter, n - 3 * quarter];
    let radii = [1.0, 0.75, 0.5, 0.25];
    let mut points = Vec::with_capacity(n);
    for (count, radius) in counts.into_iter().zip(radii) {
        for k in 0..count {
            let t = full_turn(k, count);
            points.push([3.0 * radius * t.cos(), 3.0 * radius * t.sin()]);
        }
    }
    points.shuffle(rng);
    for p in &mut points {
        for v in p.iter_mut() {
            *v += 0.08 * normal(rng);
        }
    }
    points
}

/// FFJORD's `2spirals` (`lib/toy_data.py`, rtqichen/ffjord): draw m = 3π·√U (U ~ U[0, 1)) and
/// the point s = (−m cos m + a, m sin m + b) with a, b ~ U[0, ½) independent; the data are the
/// points s followed by their reflections −s (the same draws), divided by 3, plus N(0, 0.1²·I)
/// noise drawn independently for every row. Rows come unshuffled, first spiral first.
///
/// FFJORD returns 2·⌊n/2⌋ points; for odd n the first spiral here has one more point, whose
/// reflection is left out, so exactly `n` come back.
pub fn two_spirals(n: usize, rng: &mut impl Rng) -> Vec<[f64; 2]> {
    let first = n - n / 2;
    let spiral: Vec<[f64; 2]> = (0..first)
        .map(|_| {
            let m = 3.0 * PI * rng.gen::<f64>().sqrt();
            let a = 0.5 * rng.gen::<f64>();
            let b = 0.5 * rng.gen::<f64>();
            [-m * m.cos() + a, m * m.sin() + b]
        })
        .collect();
    let reflected = spiral.iter().take(n / 2).map(|s| [-s[0], -s[1]]);
    let mut points: Vec<[f64; 2]> = spiral.iter().copied().chain(reflected).collect();
    for p in &mut points {
        for v in p.iter_mut() {
            *v = *v / 3.0 + 0.1 * normal(rng);
        }
    }
    points
}

#[cfg(test)]
mod tests {
    use super::super::{mean_square_norm, moments, Toy};
    use super::*;

    #[test]
    fn sklearn_moons_are_scaled_half_circles_with_gaussian_noise() {
        // Truth (the definition): every point is 2·(grid point + 0.05 ε) − (1, 0), so undoing the
        // scaling leaves a point within 0.05·|ε| of a unit half circle — below 0.3 (6 sd) for all
        // of 20 000 points; the mean is 2·E[grid] − (1, 0) → (0, 0.5) up to the grid's
        // discretization (O(1/n)) and the noise's standard error 0.1/√n ≈ 7e-4; tolerance 5e-3.
        let n = 20_000;
        let p = Toy::SklearnMoons.sample(n, 5);
        let mean = [0, 1].map(|j| (0..n).map(|i| p.get(i, j)).sum::<f64>() / n as f64);
        assert!(
            mean[0].abs() < 5e-3 && (mean[1] - 0.5).abs() < 5e-3,
            "{mean:?}"
        );
        for i in 0..n {
            let (x, y) = ((p.get(i, 0) + 1.0) / 2.0, p.get(i, 1) / 2.0);
            let upper = (x.hypot(y) - 1.0).abs();
            let lower = ((x - 1.0).hypot(y - 0.5) - 1.0).abs();
            assert!(upper.min(lower) < 0.3, "row {i}: ({x}, {y})");
        }
    }

    #[test]
    fn dsb_moons_are_standardized_to_scalar_mean_zero_and_sd_seven() {
        // Truth: the definition standardizes all coordinates together to mean 0 and standard
        // deviation 1, then scales by 7; so the mean over both coordinates is 0 and their pooled
        // second moment 49. Independently of the constants in the code, the scalar mean and
        // variance of make_moons(noise = 0.1) are estimated here from sk-moons' grid (the same
        // make_moons, noise 0.05) by adding the noise-variance difference 0.01 − 0.0025: the
        // normalized points must match. 200 000 points: standard errors ≈ 7·0.72/√400000 ≈ 0.008
        // (mean) and ≈ 0.15 (second moment); tolerances 0.04 and 0.6.
        let n = 200_000;
        let p = Toy::DsbMoons.sample(n, 6);
        let all = p.as_slice();
        let mean = all.iter().sum::<f64>() / all.len() as f64;
        let m2 = all.iter().map(|v| v * v).sum::<f64>() / all.len() as f64;
        assert!(mean.abs() < 0.04 && (m2 - 49.0).abs() < 0.6, "{mean} {m2}");
        // The unscaled moons from sk-moons: x = (u + 1)/2, y = v/2.
        let q = Toy::SklearnMoons.sample(n, 7);
        let raw: Vec<f64> = (0..n)
            .flat_map(|i| [(q.get(i, 0) + 1.0) / 2.0, q.get(i, 1) / 2.0])
            .collect();
        let m = raw.iter().sum::<f64>() / raw.len() as f64;
        let var =
            raw.iter().map(|v| (v - m).powi(2)).sum::<f64>() / raw.len() as f64 + (0.01 - 0.0025);
        // A point of dsb-moons mapped back by the empirical statistics lies near a half circle.
        let sd = var.sqrt();
        let near = (0..n)
            .filter(|&i| {
                let (x, y) = (p.get(i, 0) / 7.0 * sd + m, p.get(i, 1) / 7.0 * sd + m);
                let upper = (x.hypot(y) - 1.0).abs();
                let lower = ((x - 1.0).hypot(y - 0.5) - 1.0).abs();
                upper.min(lower) < 0.2
            })
            .count();
        // Noise sd 0.1 per coordinate: the radial error exceeds 0.2 (2 sd) for ≈ 4.6% of points
        // if the statistics are right; wrong statistics (e.g. per-column) push far more out.
        assert!(near as f64 > 0.94 * n as f64, "{near} of {n}");
    }

    #[test]
    fn moons_noise_is_one_uniform_shift_along_the_diagonal() {
        // Truth (torchdyn's generate_moons): row i is 3·(base_i + (u_i, u_i)) − 1 with base_i the
        // i-th point of the deterministic half-circle grid and u_i ~ U[0, 0.2). So both
        // coordinates carry the same u_i (to rounding), u_i ∈ [0, 0.2), E u = 0.1 and
        // Var u = 0.2²/12 = 1/300. 100 001 points (odd: the lower moon gets the extra one):
        // standard errors 1.8e-4 (mean) and 1.1e-5 (variance); tolerances 1e-3 and 1e-4.
        let n = 100_001;
        let p = Toy::Moons.sample(n, 3);
        let (n_out, n_in) = (n / 2, n - n / 2);
        let mut shifts = Vec::with_capacity(n);
        for i in 0..n {
            let base = if i < n_out {
                let t = half_turn(i, n_out);
                [t.cos(), t.sin()]
            } else {
                let t = half_turn(i - n_out, n_in);
                [1.0 - t.cos(), 0.5 - t.sin()]
            };
            let u = [0, 1].map(|j| (p.get(i, j) + 1.0) / 3.0 - base[j]);
            assert!((u[0] - u[1]).abs() < 1e-12, "row {i}: {u:?}");
            assert!(u[0] > -1e-12 && u[0] < 0.2 + 1e-12, "row {i}: {u:?}");
            shifts.push(u[0]);
        }
        let mean = shifts.iter().sum::<f64>() / n as f64;
        let var = shifts.iter().map(|u| (u - mean).powi(2)).sum::<f64>() / n as f64;
        assert!((mean - 0.1).abs() < 1e-3, "{mean}");
        assert!((var - 1.0 / 300.0).abs() < 1e-4, "{var}");
        // Truth: the mean tends to 3·(½ + 0.1, ¼ + 0.1) − 1 = (0.8, 0.05); the grid's deviation
        // from its limit is O(1/n).
        let (mean, _) = moments(&p);
        assert!(
            (mean[0] - 0.8).abs() < 2e-3 && (mean[1] - 0.05).abs() < 2e-3,
            "{mean:?}"
        );
    }

    #[test]
    fn circles_radii_and_second_moment() {
        // Truth: half the points on radius 3.5, half on 1.75 (n even), noise N(0, 0.175²·I):
        // E‖x‖² = 12.25·(½ + ½·¼) + 2·0.175² = 7.7175, and the radius threshold 2.625 splits the
        // two circles (5 noise sd from each) into exactly n/2 and n/2. 100 000 points: standard
        // error of E‖x‖² ≈ 5.4/√100000 ≈ 0.017 (mostly from the deterministic grid, so far
        // less); tolerance 0.02.
        let p = Toy::Circles.sample(100_000, 4);
        let outer = (0..p.rows())
            .filter(|&i| p.get(i, 0).hypot(p.get(i, 1)) > 2.625)
            .count();
        assert_eq!(outer, 50_000);
        let m2 = mean_square_norm(&p);
        assert!((m2 - 7.7175).abs() < 0.02, "{m2}");
        let (mean, _) = moments(&p);
        assert!(mean[0].abs() < 0.01 && mean[1].abs() < 0.01, "{mean:?}");
    }

    #[test]
    fn s_curve_moments() {
        // Truth: t ~ U(−3π/2, 3π/2): E sin t = 0, E sin² t = ½; z = sign(t)(cos t − 1) is odd in
        // t so E z = 0, and E z² = E cos² t − 2 E cos t + 1 = 3/2 + 4/(3π) (E cos t = −2/(3π)).
        // With noise variance 0.05² and scale 1.5: Var x = 2.25·(½ + 0.0025),
        // Var z = 2.25·(3/2 + 4/(3π) + 0.0025) ≈ 4.3356. 200 000 points: standard errors of the
        // variances, measured over 10 seeds at 10⁶ points and scaled, ≈ 0.002 (x) and 0.007 (z);
        // tolerances 0.01 and 0.03.
        let p = Toy::SCurve.sample(200_000, 5);
        let (mean, var) = moments(&p);
        let want = [
            2.25 * (0.5 + 0.0025),
            2.25 * (1.5 + 4.0 / (3.0 * PI) + 0.0025),
        ];
        for j in 0..2 {
            assert!(mean[j].abs() < 0.02, "{mean:?}");
            assert!(
                (var[j] - want[j]).abs() < [0.01, 0.03][j],
                "{var:?} vs {want:?}"
            );
        }
    }

    #[test]
    fn drifting_swiss_roll_radius() {
        // Truth: the notebook's definition — the noise-free radius is t/t_max with t uniform on
        // [π/2, 9π/2], so its mean is (5π/2)/(9π/2) = 5/9 up to t_max's sampling (the largest of
        // 100 000 draws is 9π/2 to 10⁻⁴); the 0.03 noise shifts the mean radius by < 10⁻³.
        let p = Toy::DriftingSwissRoll.sample(100_000, 5);
        let mean_radius = (0..p.rows())
            .map(|i| p.get(i, 0).hypot(p.get(i, 1)))
            .sum::<f64>()
            / p.rows() as f64;
        assert!((mean_radius - 5.0 / 9.0).abs() < 0.004, "{mean_radius}");
    }

    #[test]
    fn swiss_roll_second_moment() {
        // Truth: ‖x‖² = (t² + 2t(ε₁ cos t + ε₃ sin t) + ε₁² + ε₃²)/25 with t ~ U(3π/2, 9π/2), so
        // E‖x‖² = (E t² + 2)/25 = ((a² + ab + b²)/3 + 2)/25 = (9.75π² + 2)/25 ≈ 3.929.
        // 100 000 points: standard error ≈ 2.3/√100000 ≈ 0.007; tolerance 0.035.
        let m2 = mean_square_norm(&Toy::SwissRoll.sample(100_000, 6));
        let want = (9.75 * PI * PI + 2.0) / 25.0;
        assert!((m2 - want).abs() < 0.035, "{m2} vs {want}");
    }

    #[test]
    fn rings_second_moment() {
        // Truth: n/4 points on each radius 3·{1, ¾, ½, ¼} (4 | n), noise N(0, 0.08²·I):
        // E‖x‖² = 9·(1 + 9/16 + 1/4 + 1/16)/4 + 2·0.08² = 4.21875 + 0.0128; the grids average to
        // 0. The spread comes from the noise only (cross term sd ≈ 2·0.08·2.1/√n): tolerance 0.01.
        let p = Toy::Rings.sample(100_000, 7);
        let m2 = mean_square_norm(&p);
        assert!((m2 - (4.21875 + 0.0128)).abs() < 0.01, "{m2}");
        let (mean, _) = moments(&p);
        assert!(mean[0].abs() < 0.01 && mean[1].abs() < 0.01, "{mean:?}");
    }

    #[test]
    fn two_spirals_are_point_reflections_and_have_the_right_second_moment() {
        // Truth 1: the second half is the reflection of the first before the N(0, 0.1²) noise,
        // so row i + n/2 + row i ~ N(0, 2·0.1²·I): mean 0, variance 0.02 per coordinate.
        // Truth 2: with m = 3π√U (density 2s/(9π²) on [0, 3π]) E m² = 9π²/2,
        // E[m cos m] = −4/(3π), E[m sin m] = 2 − 8/(9π²), E a = E b = ¼, E a² = E b² = 1/12, so
        // E‖x‖² = (9π²/2 + ½(4/(3π) + 2 − 8/(9π²)) + 1/6)/9 + 2·0.1². 100 000 points: standard
        // error ≈ 2.6/√100000 ≈ 0.008; tolerance 0.04.
        let n = 100_000;
        let p = Toy::TwoSpirals.sample(n, 8);
        let sums: Vec<f64> = (0..n / 2)
            .flat_map(|i| [0, 1].map(move |j| (i, j)))
            .map(|(i, j)| p.get(i, j) + p.get(i + n / 2, j))
            .collect();
        let mean = sums.iter().sum::<f64>() / sums.len() as f64;
        let var = sums.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / sums.len() as f64;
        assert!(
            mean.abs() < 0.002 && (var - 0.02).abs() < 0.0005,
            "{mean} {var}"
        );
        let pi2 = PI * PI;
        let want = (4.5 * pi2 + 0.5 * (4.0 / (3.0 * PI) + 2.0 - 8.0 / (9.0 * pi2)) + 1.0 / 6.0)
            / 9.0
            + 0.02;
        let m2 = mean_square_norm(&p);
        assert!((m2 - want).abs() < 0.04, "{m2} vs {want}");
    }
}
