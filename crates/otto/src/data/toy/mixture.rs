//! Data sets that are mixtures of simple pieces: the standard normal, Gaussians at the vertices of
//! an octagon, five curved arms, and uniform squares. Each function draws its points from `rng`.

use std::f64::consts::{FRAC_1_SQRT_2, PI};

use otto_ot::Matrix;
use rand::seq::SliceRandom;
use rand::Rng;
use rand_distr::StandardNormal;

fn normal(rng: &mut impl Rng) -> f64 {
    rng.sample(StandardNormal)
}

/// `n` points of N(0, I_d), as torchcfm's examples draw their source (`torch.randn(n, d)`).
pub fn gaussian(n: usize, dim: usize, rng: &mut impl Rng) -> Matrix {
    Matrix::from_fn(n, dim, |_, _| normal(rng))
}

/// The unit vectors to the vertices of the octagon, in torchcfm's (and DSB's) order.
const OCTAGON: [[f64; 2]; 8] = [
    [1.0, 0.0],
    [-1.0, 0.0],
    [0.0, 1.0],
    [0.0, -1.0],
    [FRAC_1_SQRT_2, FRAC_1_SQRT_2],
    [FRAC_1_SQRT_2, -FRAC_1_SQRT_2],
    [-FRAC_1_SQRT_2, FRAC_1_SQRT_2],
    [-FRAC_1_SQRT_2, -FRAC_1_SQRT_2],
];

/// `n` draws of the equal mixture of N(r·c, s²·I) over the eight octagon vertices c.
fn octagon_mixture(n: usize, radius: f64, sd: f64, rng: &mut impl Rng) -> Vec<[f64; 2]> {
    labelled_octagon_mixture(n, radius, sd, rng)
        .into_iter()
        .map(|(p, _)| p)
        .collect()
}

/// [`octagon_mixture`] with each point's mode index (0..8 in torchcfm's order of centres: (1, 0),
/// (−1, 0), (0, 1), (0, −1), (1, 1)/√2, (1, −1)/√2, (−1, 1)/√2, (−1, −1)/√2); the same random
/// stream.
pub(super) fn labelled_octagon_mixture(
    n: usize,
    radius: f64,
    sd: f64,
    rng: &mut impl Rng,
) -> Vec<([f64; 2], usize)> {
    (0..n)
        .map(|_| {
            let mode = rng.gen_range(0..8);
            let c = OCTAGON[mode];
            (
                [
                    radius * c[0] + sd * normal(rng),
                    radius * c[1] + sd * normal(rng),
                ],
                mode,
            )
        })
        .collect()
}

/// torchcfm's `sample_8gaussians(n)` = `eight_normal_sample(n, 2, scale=5, var=0.1)`
/// (`torchcfm/utils.py`, atong01/conditional-flow-matching): a centre c drawn uniformly from
/// 5·{(±1, 0), (0, ±1), (±1/√2, ±1/√2)}, plus noise from
/// `MultivariateNormal(0, math.sqrt(var) * eye(2))`. That second argument is the *covariance*, so
/// the noise is N(0, √0.1·I): per-coordinate variance √0.1 ≈ 0.316 (standard deviation
/// 0.1^¼ ≈ 0.562), not 0.1.
pub fn eight_gaussians(n: usize, rng: &mut impl Rng) -> Vec<[f64; 2]> {
    octagon_mixture(n, 5.0, 0.1f64.sqrt().sqrt(), rng)
}

/// The torchcfm runner's `8gaussians` of its two-data-set benchmark (`data_distrib` in
/// `runner/src/datamodules/components/two_dim.py`, atong01/conditional-flow-matching, adapted
/// from the diffusion Schrödinger bridge code of De Bortoli et al.): a centre c drawn uniformly
/// from 4·{(±1, 0), (0, ±1), (±1/√2, ±1/√2)}, plus N(0, 0.5²·I), all times 3 — centres on the
/// circle of radius 12, noise standard deviation 1.5. This is the `moon-8gaussians` task of the
/// flow-matching and SF2M papers.
pub fn dsb_eight_gaussians(n: usize, rng: &mut impl Rng) -> Vec<[f64; 2]> {
    octagon_mixture(n, 12.0, 1.5, rng)
}

/// The torchcfm runner's `gaussians` data set (the "N → 8gaussians" column of the flow-matching
/// and SF2M papers): `TorchDynDataModule` (`runner/src/datamodules/distribution_datamodule.py`,
/// atong01/conditional-flow-matching) calls torchdyn's `generate_gaussians` with 8 Gaussians of
/// standard deviation 1 on the circle of radius 5 and `N // 8` points each (torchdyn
/// `datasets/static_datasets.py`), so the modes are *equally* filled, not drawn at random; each
/// mode's points also share one offset `noise·N(0, I)` with `noise = 1e-4`. Here the `n mod 8`
/// points left over go one each to distinct modes chosen at random, and the rows are shuffled.
pub fn torchdyn_eight_gaussians(n: usize, rng: &mut impl Rng) -> Vec<[f64; 2]> {
    labelled_torchdyn_eight_gaussians(n, rng)
        .into_iter()
        .map(|(p, _)| p)
        .collect()
}

/// [`torchdyn_eight_gaussians`] with each point's mode index (0..8, the order of
/// [`labelled_octagon_mixture`]); the same random stream.
pub(super) fn labelled_torchdyn_eight_gaussians(
    n: usize,
    rng: &mut impl Rng,
) -> Vec<([f64; 2], usize)> {
    const NOISE: f64 = 1e-4;
    let offsets: Vec<[f64; 2]> = (0..8)
        .map(|_| [NOISE * normal(rng), NOISE * normal(rng)])
        .collect();
    let mut extra: Vec<usize> = (0..8).collect();
    extra.shuffle(rng);
    let mut points = Vec::with_capacity(n);
    for (mode, c) in OCTAGON.iter().enumerate() {
        let count = n / 8 + usize::from(extra[..n % 8].contains(&mode));
        for _ in 0..count {
            let p = [
                5.0 * c[0] + normal(rng) + offsets[mode][0],
                5.0 * c[1] + normal(rng) + offsets[mode][1],
            ];
            points.push((p, mode));
        }
    }
    points.shuffle(rng);
    points
}

/// FFJORD's `pinwheel` (`lib/toy_data.py`, rtqichen/ffjord): five classes c = 0..4; for each
/// point draw r ~ N(1, 0.3²) (radial) and τ ~ N(0, 0.1²) (tangential), set the angle
/// a = 2πc/5 + 0.25·e^r, and return 2·(r cos a + τ sin a, −r sin a + τ cos a) (FFJORD's
/// `einsum("ti,tij->tj", features, rotations)`), rows in random order.
///
/// FFJORD draws `n // 5` points per class, so it returns fewer than `n` points when 5 ∤ n; here
/// the `n mod 5` extra points go one each to the first classes, so exactly `n` come back.
pub fn pinwheel(n: usize, rng: &mut impl Rng) -> Vec<[f64; 2]> {
    const CLASSES: usize = 5;
    let mut points: Vec<[f64; 2]> = (0..n)
        .map(|i| {
            let class = i % CLASSES;
            let r = 1.0 + 0.3 * normal(rng);
            let tau = 0.1 * normal(rng);
            let a = 2.0 * PI * class as f64 / CLASSES as f64 + 0.25 * r.exp();
            let (s, c) = a.sin_cos();
            [2.0 * (r * c + tau * s), 2.0 * (-r * s + tau * c)]
        })
        .collect();
    points.shuffle(rng);
    points
}

/// FFJORD's `checkerboard` (`lib/toy_data.py`, rtqichen/ffjord): x₁ ~ U[−2, 2),
/// x₂ = U[0, 1) − 2B + (⌊x₁⌋ mod 2) with B ~ Bernoulli(½), and the point is 2·(x₁, x₂). The result
/// is uniform on the eight 2×2 squares of [−4, 4)² with ⌊x/2⌋ + ⌊y/2⌋ even.
pub fn checkerboard(n: usize, rng: &mut impl Rng) -> Vec<[f64; 2]> {
    (0..n)
        .map(|_| {
            let x1: f64 = 4.0 * rng.gen::<f64>() - 2.0;
            let shift = if rng.gen::<bool>() { 2.0 } else { 0.0 };
            let x2 = rng.gen::<f64>() - shift + x1.floor().rem_euclid(2.0);
            [2.0 * x1, 2.0 * x2]
        })
        .collect()
}

/// The checkerboard of the drifting paper's toy notebook (Deng et al. 2026; MATH.md §5): b, r, c
/// ~ U{0, 1}, cell (i, j) = (2r + b, 2c + b), the point ((i + u, j + v) − 2)/2 with u, v ~ U[0, 1),
/// plus 0.05·N(0, I): eight cells of a 4×4 grid on [−1, 1]².
pub fn drifting_checkerboard(n: usize, rng: &mut impl Rng) -> Vec<[f64; 2]> {
    labelled_drifting_checkerboard(n, rng)
        .into_iter()
        .map(|(p, _)| p)
        .collect()
}

/// [`drifting_checkerboard`] with each point's cell as its class, 2i + ⌊j/2⌋ ∈ 0..8 (the cell
/// drawn, before the noise); the same random stream.
pub(super) fn labelled_drifting_checkerboard(
    n: usize,
    rng: &mut impl Rng,
) -> Vec<([f64; 2], usize)> {
    (0..n)
        .map(|_| {
            let b = usize::from(rng.gen::<bool>());
            let i = 2 * usize::from(rng.gen::<bool>()) + b;
            let j = 2 * usize::from(rng.gen::<bool>()) + b;
            let (u, v): (f64, f64) = (rng.gen(), rng.gen());
            (
                [
                    (i as f64 + u - 2.0) / 2.0 + 0.05 * normal(rng),
                    (j as f64 + v - 2.0) / 2.0 + 0.05 * normal(rng),
                ],
                2 * i + j / 2,
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::{mean_square_norm, moments, Toy};
    use super::{labelled_torchdyn_eight_gaussians, OCTAGON};
    use otto_ot::Matrix;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    /// The mean over the rows of the squared distance to the nearest vertex of the octagon of
    /// radius `radius` (the angularly nearest vertex).
    fn mean_square_distance_to_octagon(p: &Matrix, radius: f64) -> f64 {
        let eighth = std::f64::consts::FRAC_PI_4;
        (0..p.rows())
            .map(|i| {
                let (x, y) = (p.get(i, 0), p.get(i, 1));
                let angle = (y.atan2(x) / eighth).round() * eighth;
                (x - radius * angle.cos()).powi(2) + (y - radius * angle.sin()).powi(2)
            })
            .sum::<f64>()
            / p.rows() as f64
    }

    #[test]
    fn gaussian_has_unit_covariance_in_any_dimension() {
        // Truth: N(0, I_d) has mean 0 and unit variance per coordinate. 100 000 points: standard
        // error of a mean 0.003, of a variance √(2/100000) ≈ 0.0045; tolerances 0.02.
        let p = Toy::Gaussian { dim: 7 }.sample(100_000, 5);
        assert_eq!(p.cols(), 7);
        let (mean, var) = moments(&p);
        for j in 0..7 {
            assert!(
                mean[j].abs() < 0.02 && (var[j] - 1.0).abs() < 0.02,
                "{mean:?} {var:?}"
            );
        }
    }

    #[test]
    fn eight_gaussians_noise_has_variance_root_tenth() {
        // Truth: centres on the circle of radius 5 average to 0 and have E[c_x²] = ½, so the
        // per-coordinate variance is 25/2 + √0.1 = 12.816 (12.51 if the noise variance were 0.1).
        // 200 000 points: standard error of the variance ≈ 12.8·√(2/200000) ≈ 0.04; tolerance
        // 0.15. Second truth: the distance to the nearest centre, squared, has mean 2·√0.1 (the
        // noise is small next to the 3.8 separation of centres; a point nearer another centre has
        // probability ≈ 6e-4, a bias below 0.003): standard error 0.002, tolerance 0.02.
        let p = Toy::EightGaussians.sample(200_000, 1);
        let (mean, var) = moments(&p);
        for j in 0..2 {
            assert!(mean[j].abs() < 0.05, "{mean:?}");
            assert!((var[j] - (12.5 + 0.1f64.sqrt())).abs() < 0.15, "{var:?}");
        }
        let nearest = mean_square_distance_to_octagon(&p, 5.0);
        assert!((nearest - 2.0 * 0.1f64.sqrt()).abs() < 0.02, "{nearest}");
    }

    #[test]
    fn dsb_eight_gaussians_radius_twelve_sd_one_and_a_half() {
        // Truth: 3·(4c + 0.5ε) = 12c + 1.5ε with ‖c‖ = 1, so the per-coordinate variance is
        // 144/2 + 2.25 = 74.25 and the squared distance to the nearest centre has mean 2·1.5² =
        // 4.5 (centres 9.2 apart, 6 sd: misassignment is negligible). 200 000 points: standard
        // errors 74.25·√(2/200000) ≈ 0.23 and 4.5/√200000 ≈ 0.01; tolerances 0.8 and 0.05.
        let p = Toy::DsbEightGaussians.sample(200_000, 4);
        let (mean, var) = moments(&p);
        for j in 0..2 {
            assert!(mean[j].abs() < 0.1, "{mean:?}");
            assert!((var[j] - 74.25).abs() < 0.8, "{var:?}");
        }
        let nearest = mean_square_distance_to_octagon(&p, 12.0);
        assert!((nearest - 4.5).abs() < 0.05, "{nearest}");
    }

    #[test]
    fn torchdyn_eight_gaussians_equal_modes_radius_five_unit_sd() {
        // Truth: 5c + ε with ‖c‖ = 1, ε ~ N(0, I): per-coordinate variance 25/2 + 1 = 13.5, and
        // the squared distance to the point's own centre has mean 2 (χ² with 2 degrees of
        // freedom). 80 000 points: standard errors √(13.5/80000) ≈ 0.013 (mean),
        // 13.5·√(2/80000) ≈ 0.07 (variance), 2/√80000 ≈ 0.007 (distance).
        let p = Toy::TorchdynEightGaussians.sample(80_000, 9);
        let (mean, var) = moments(&p);
        for j in 0..2 {
            assert!(mean[j].abs() < 0.06, "{mean:?}");
            assert!((var[j] - 13.5).abs() < 0.35, "{var:?}");
        }
        let labelled = labelled_torchdyn_eight_gaussians(80_000, &mut ChaCha8Rng::seed_from_u64(9));
        let own = labelled
            .iter()
            .map(|(x, mode)| {
                (x[0] - 5.0 * OCTAGON[*mode][0]).powi(2) + (x[1] - 5.0 * OCTAGON[*mode][1]).powi(2)
            })
            .sum::<f64>()
            / 80_000.0;
        assert!((own - 2.0).abs() < 0.035, "{own}");
        // Equal modes: every mode holds ⌊n/8⌋ points, the n mod 8 extra ones in distinct modes.
        for n in [80_000, 11, 5] {
            let mut counts = [0usize; 8];
            for (_, mode) in labelled_torchdyn_eight_gaussians(n, &mut ChaCha8Rng::seed_from_u64(2))
            {
                counts[mode] += 1;
            }
            let mut sorted = counts;
            sorted.sort_unstable();
            let mut expected = [n / 8; 8];
            expected[8 - n % 8..].iter_mut().for_each(|c| *c += 1);
            assert_eq!(sorted, expected, "n = {n}: {counts:?}");
        }
    }

    #[test]
    fn pinwheel_second_moment() {
        // Truth: the rotation keeps norms, so ‖x‖² = 4(r² + τ²) with r ~ N(1, 0.09),
        // τ ~ N(0, 0.01): E‖x‖² = 4·(1 + 0.09 + 0.01) = 4.4. Equal class counts (5 | n) and
        // rotational symmetry of order 5 only hold in distribution for the mean, whose truth is
        // 0. 100 000 points: standard error of E‖x‖² ≈ 4·0.63/√100000 ≈ 0.008; tolerance 0.04.
        let p = Toy::Pinwheel.sample(100_000, 2);
        let (mean, _) = moments(&p);
        assert!(mean[0].abs() < 0.03 && mean[1].abs() < 0.03, "{mean:?}");
        let m2 = mean_square_norm(&p);
        assert!((m2 - 4.4).abs() < 0.04, "{m2}");
    }

    #[test]
    fn checkerboard_support_and_moments() {
        // Truth: every point lies in [−4, 4)² on a square with ⌊x/2⌋ + ⌊y/2⌋ even; x is uniform
        // on [−4, 4) (variance 64/12 = 16/3) and y has the same law. 100 000 points: standard
        // error of the variance ≈ 0.015; tolerance 0.08.
        let p = Toy::Checkerboard.sample(100_000, 3);
        for i in 0..p.rows() {
            let (x, y) = (p.get(i, 0), p.get(i, 1));
            assert!(
                (-4.0..4.0).contains(&x) && (-4.0..4.0).contains(&y),
                "{x} {y}"
            );
            let parity = ((x / 2.0).floor() + (y / 2.0).floor()).rem_euclid(2.0);
            assert_eq!(parity, 0.0, "({x}, {y}) is on a light square");
        }
        let (mean, var) = moments(&p);
        for j in 0..2 {
            assert!(mean[j].abs() < 0.03, "{mean:?}");
            assert!((var[j] - 16.0 / 3.0).abs() < 0.08, "{var:?}");
        }
    }

    #[test]
    fn drifting_checkerboard_cells_and_moments() {
        // Truth: the notebook's definition — each coordinate is uniform on [−1, 1) (variance
        // 1/3) plus N(0, 0.05²) (variance 1/3 + 0.0025), and the noise-free point lies on a cell
        // whose row and column indices have the same parity. Noise σ = 0.05 carries a point
        // uniform in a cell of width w = ½ across one of a coordinate's borders with probability
        // p = 2σ/(w√(2π)) = 0.0798, and one crossing (not two) changes the parity: the fraction
        // still on a dark cell is 1 − 2p(1 − p) = 0.853. 100 000 points: standard errors ≈ 0.001.
        let p = Toy::DriftingCheckerboard.sample(100_000, 4);
        let (mean, var) = moments(&p);
        let on_dark = (0..p.rows())
            .filter(|&i| {
                let cell = |v: f64| ((v + 1.0) * 2.0).floor();
                (cell(p.get(i, 0)) + cell(p.get(i, 1))).rem_euclid(2.0) == 0.0
            })
            .count() as f64
            / p.rows() as f64;
        for j in 0..2 {
            assert!(mean[j].abs() < 0.01, "{mean:?}");
            assert!((var[j] - (1.0 / 3.0 + 0.0025)).abs() < 0.005, "{var:?}");
        }
        assert!((on_dark - 0.853).abs() < 0.005, "{on_dark}");
    }
}
