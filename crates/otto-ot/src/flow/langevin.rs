//! Langevin particles for `dX = −∇V(X) dt + √(2D) dW`, whose law solves Fokker–Planck
//! `∂_t ρ = ∇·(ρ∇V) + DΔρ` (MATH.md §6):
//!
//! - **ULA**, the unadjusted Langevin algorithm (Euler–Maruyama with step h):
//!   `X ← X − h∇V(X) + √(2Dh) ξ`, `ξ ~ N(0, I)`. Biased: for OU (V = x²/2, D = 1) its stationary
//!   variance is `1/(1 − h/2)`, not 1 (Roberts & Tweedie 1996).
//! - **MALA**, the Metropolis-adjusted Langevin algorithm (Roberts & Tweedie 1996,
//!   *Exponential convergence of Langevin distributions and their discrete approximations*,
//!   Bernoulli 2): the ULA move as a proposal `Y`, accepted with probability
//!   `min(1, e^{−(V(Y) − V(X))/D} q(X|Y)/q(Y|X))`, `q(y|x) ∝ exp(−|y − x + h∇V(x)|²/(4Dh))`, so
//!   that `e^{−V/D}/Z` is exactly invariant.
//!
//! Particles are processed in fixed chunks, each with its own ChaCha8 stream derived from the seed
//! and the chunk index, in parallel over cores: a run is reproducible whatever the thread count.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal, Uniform};
use rayon::prelude::*;

use crate::error::{OtError, Result};
use crate::flow::check_positive;
use crate::flow::energy::{FreeEnergy, Potential};
use crate::flow::grid::GridDensity;
use crate::gaussian::Gaussian;
use crate::marginal::uniform;
use crate::matrix::Matrix;
use crate::sliced::SlicedW2;

/// Particles per chunk: the unit of parallel work and of random streams.
const CHUNK: usize = 256;

/// Options of a Langevin particle scheme; build with [`Langevin::ula`] or [`Langevin::mala`], run
/// with [`Langevin::run`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Langevin {
    h: f64,
    metropolis: bool,
    seed: u64,
}

/// The particles after a Langevin run.
#[derive(Debug, Clone)]
pub struct ParticleRun {
    /// The final particles, one per row.
    pub particles: Matrix,
    /// The fraction of accepted proposals (MALA; 1 for ULA).
    pub acceptance: f64,
    /// The physical time reached, `steps · h`.
    pub time: f64,
}

impl Langevin {
    /// The unadjusted Langevin algorithm with step `h > 0`, seed 0.
    pub fn ula(h: f64) -> Self {
        Self {
            h,
            metropolis: false,
            seed: 0,
        }
    }

    /// The Metropolis-adjusted Langevin algorithm with step `h > 0`, seed 0.
    pub fn mala(h: f64) -> Self {
        Self {
            metropolis: true,
            ..Self::ula(h)
        }
    }

    /// The seed: the same seed gives the same particles.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Moves `particles` (one per row, n × d) by `steps` steps for the free energy
    /// `D∫ρ log ρ + ∫Vρ`. Errors: [`OtError::Unsupported`] for a porous term or a potential given on
    /// a grid (no gradient off the grid), and for MALA with `D = 0` (no target density).
    pub fn run(
        &self,
        energy: &FreeEnergy,
        particles: &Matrix,
        steps: usize,
    ) -> Result<ParticleRun> {
        check_positive("h", self.h)?;
        energy.validate()?;
        particles.check_finite("particles")?;
        if energy.porous_term().is_some() {
            return Err(OtError::Unsupported {
                what: "Langevin particles for a porous-medium term",
                reason: "the particle scheme samples linear Fokker–Planck only",
            });
        }
        let potential = energy.potential_term();
        if let Some(p) = potential {
            let mut g = vec![0.0; particles.cols()];
            p.gradient(&vec![0.0; particles.cols()], &mut g)?;
        }
        let d = energy.diffusion_coefficient();
        if self.metropolis && d <= 0.0 {
            return Err(OtError::Unsupported {
                what: "MALA with D = 0",
                reason: "the target e^{−V/D} needs D > 0",
            });
        }
        let dim = particles.cols();
        let mut out = particles.clone();
        let accepted: usize = out
            .as_mut_slice()
            .par_chunks_mut(CHUNK * dim.max(1))
            .enumerate()
            .map(|(chunk, xs)| {
                let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
                rng.set_stream(chunk as u64);
                let mut mover = Mover::new(potential, d, self.h, dim);
                xs.chunks_exact_mut(dim)
                    .map(|x| {
                        (0..steps)
                            .filter(|_| mover.step(x, self.metropolis, &mut rng))
                            .count()
                    })
                    .sum::<usize>()
            })
            .sum();
        let proposals = (particles.rows() * steps).max(1);
        Ok(ParticleRun {
            particles: out,
            acceptance: accepted as f64 / proposals as f64,
            time: steps as f64 * self.h,
        })
    }
}

/// Per-thread buffers of one Langevin move.
struct Mover<'a> {
    potential: Option<&'a Potential>,
    d: f64,
    h: f64,
    grad: Vec<f64>,
    proposal: Vec<f64>,
    grad_proposal: Vec<f64>,
}

impl<'a> Mover<'a> {
    fn new(potential: Option<&'a Potential>, d: f64, h: f64, dim: usize) -> Self {
        Self {
            potential,
            d,
            h,
            grad: vec![0.0; dim],
            proposal: vec![0.0; dim],
            grad_proposal: vec![0.0; dim],
        }
    }

    fn gradient(&self, x: &[f64], out: &mut [f64]) {
        match self.potential {
            Some(p) => p.gradient(x, out).expect("checked before the run"),
            None => out.fill(0.0),
        }
    }

    fn value(&self, x: &[f64]) -> f64 {
        self.potential
            .map_or(0.0, |p| p.value(x).expect("checked before the run"))
    }

    /// One move of `x` in place; true when accepted (always for ULA).
    fn step(&mut self, x: &mut [f64], metropolis: bool, rng: &mut ChaCha8Rng) -> bool {
        let mut grad = std::mem::take(&mut self.grad);
        self.gradient(x, &mut grad);
        let noise = (2.0 * self.d * self.h).sqrt();
        for ((y, &xi), &g) in self.proposal.iter_mut().zip(x.iter()).zip(&grad) {
            let z: f64 = StandardNormal.sample(rng);
            *y = xi - self.h * g + noise * z;
        }
        let accept = if metropolis {
            let mut grad_y = std::mem::take(&mut self.grad_proposal);
            self.gradient(&self.proposal, &mut grad_y);
            // log q(x|y) − log q(y|x) with q(y|x) ∝ exp(−|y − x + h∇V(x)|²/(4Dh)).
            let (mut back, mut fwd) = (0.0, 0.0);
            for k in 0..x.len() {
                back += (x[k] - self.proposal[k] + self.h * grad_y[k]).powi(2);
                fwd += (self.proposal[k] - x[k] + self.h * grad[k]).powi(2);
            }
            self.grad_proposal = grad_y;
            let log_ratio = -(self.value(&self.proposal) - self.value(x)) / self.d
                - (back - fwd) / (4.0 * self.d * self.h);
            let u: f64 = Uniform::new(0.0, 1.0).sample(rng);
            u.ln() < log_ratio
        } else {
            true
        };
        self.grad = grad;
        if accept {
            x.copy_from_slice(&self.proposal);
        }
        accept
    }
}

/// `n` independent draws from `N(m, Σ)`, one per row, reproducible from `seed`
/// (`x = m + Q Λ^½ z` with `Σ = Q Λ Qᵀ`, so semi-definite covariances work too).
pub fn gaussian_particles(g: &Gaussian, n: usize, seed: u64) -> Matrix {
    let d = g.dim();
    let cov = nalgebra::DMatrix::from_row_slice(d, d, g.cov().as_slice());
    let eig = nalgebra::SymmetricEigen::new(cov);
    let root = &eig.eigenvectors
        * nalgebra::DMatrix::from_diagonal(&eig.eigenvalues.map(|l| l.max(0.0).sqrt()));
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut m = Matrix::zeros(n, d);
    let mut z = nalgebra::DVector::zeros(d);
    for i in 0..n {
        z.iter_mut()
            .for_each(|v| *v = StandardNormal.sample(&mut rng));
        let x = &root * &z;
        for (k, out) in m.row_mut(i).iter_mut().enumerate() {
            *out = g.mean()[k] + x[k];
        }
    }
    m
}

/// The distance between a particle cloud (uniform weights) and a grid density (its nodes weighted
/// by their masses): exact W2 by 1-D OT on a 1-D grid ([`crate::one_d`]); the sliced distance
/// SW2 with the options `sliced` on a 2-D grid ([`crate::sliced`]). Returns the distance, not
/// its square.
pub fn distance_to_grid(
    particles: &Matrix,
    density: &GridDensity,
    sliced: &SlicedW2,
) -> Result<f64> {
    let grid = density.grid();
    if particles.cols() != grid.dim() {
        return Err(OtError::Shape {
            what: "particles",
            expected: format!("{} columns (the grid's dimension)", grid.dim()),
            got: format!("{} columns", particles.cols()),
        });
    }
    let masses = density.masses();
    let total: f64 = masses.iter().sum();
    let b: Vec<f64> = masses.iter().map(|v| v / total).collect();
    let a = uniform(particles.rows().max(1));
    if grid.dim() == 1 {
        let nodes = grid.axes()[0].nodes();
        Ok(crate::one_d::w2_squared(particles.as_slice(), &a, &nodes, &b)?.sqrt())
    } else {
        sliced.distance(particles, &a, &grid.points(), &b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::fixtures::{normal_1d, ou_1d as ou};
    use crate::flow::grid::Grid;

    fn variance(x: &Matrix) -> f64 {
        let n = x.rows() as f64;
        let m = x.as_slice().iter().sum::<f64>() / n;
        x.as_slice().iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1.0)
    }

    #[test]
    fn ula_has_the_closed_form_bias_and_mala_removes_it() {
        // Truth: ULA on OU, X ← (1 − h)X + √(2h)ξ, has stationary variance 2h/(1 − (1 − h)²) =
        // 1/(1 − h/2) = 1.1111 at h = 0.2 (MATH.md §6); MALA leaves N(0, 1) invariant. Start
        // from N(0, 1) and run 60 steps: the ULA variance relaxes as (1 − h)^{2k} = 0.64^k, so the
        // transient is < 1e-11. Monte Carlo: 40 000 particles give a variance sd of
        // v·√(2/n) ≈ 0.008; tolerance 0.03 (≈ 4 sd), far below the bias 0.111 that separates them.
        let g = normal_1d(0.0, 1.0);
        let x0 = gaussian_particles(&g, 40_000, 1);
        let ula = Langevin::ula(0.2).seed(2).run(&ou(), &x0, 60).unwrap();
        let v = variance(&ula.particles);
        assert!((v - 1.0 / 0.9).abs() < 0.03, "ULA variance {v}");
        let mala = Langevin::mala(0.2).seed(2).run(&ou(), &x0, 60).unwrap();
        let v = variance(&mala.particles);
        assert!((v - 1.0).abs() < 0.03, "MALA variance {v}");
        assert!(mala.acceptance > 0.9 && mala.acceptance < 1.0);
    }

    #[test]
    fn seeded_and_independent_of_threads() {
        // Truth: reproducibility — the same seed gives bit-identical particles, on a single
        // thread and on the default pool; another seed differs.
        let g = normal_1d(0.5, 0.3);
        let x0 = gaussian_particles(&g, 1000, 3);
        let run = |s: u64| {
            Langevin::mala(0.1)
                .seed(s)
                .run(&ou(), &x0, 5)
                .unwrap()
                .particles
        };
        let single = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap()
            .install(|| run(4));
        assert_eq!(single, run(4));
        assert_ne!(run(4), run(5));
    }

    #[test]
    fn particles_match_the_grid_density_in_w2() {
        // Truth: W2 between n samples of a density and the density itself is the Monte Carlo
        // error, ≈ c/√n in 1-D (c ≈ 0.5–1 for a unit Gaussian): with 20 000 draws of N(0, 1) it is
        // ≈ 0.01; against N(0.3, 1) it is ≈ the shift 0.3 (W2 of a translation). Tolerances 0.03.
        let grid = Grid::line(-7.0, 7.0, 1400).unwrap();
        let unit = normal_1d(0.0, 1.0);
        let shifted = normal_1d(0.3, 1.0);
        let x = gaussian_particles(&unit, 20_000, 9);
        let sw = SlicedW2::default();
        let same =
            distance_to_grid(&x, &GridDensity::gaussian(&grid, &unit).unwrap(), &sw).unwrap();
        let moved =
            distance_to_grid(&x, &GridDensity::gaussian(&grid, &shifted).unwrap(), &sw).unwrap();
        assert!(same < 0.03, "{same}");
        assert!((moved - 0.3).abs() < 0.03, "{moved}");
    }

    #[test]
    fn unsupported_energies_are_errors() {
        let x = Matrix::zeros(4, 1);
        let porous = FreeEnergy::porous_medium(1.0, 2.0);
        assert!(Langevin::ula(0.1).run(&porous, &x, 1).is_err());
        let on_grid = FreeEnergy::new().potential(Potential::OnGrid(vec![0.0; 10]));
        assert!(matches!(
            Langevin::ula(0.1).run(&on_grid, &x, 1),
            Err(OtError::Unsupported { .. })
        ));
        let frozen = FreeEnergy::new()
            .diffusion(0.0)
            .potential(Potential::DoubleWell);
        assert!(Langevin::mala(0.1).run(&frozen, &x, 1).is_err());
        assert!(Langevin::ula(0.0).run(&ou(), &x, 1).is_err());
    }
}
