//! Running one scheme of `otto flow` on a [`Problem`]: every scheme returns a [`Trajectory`] of
//! densities on the problem's grid (particles as histograms), so that reports, files and plots
//! treat them alike.

use std::time::Instant;

use anyhow::{bail, Result};
use clap::ValueEnum;
use otto_ot::flow::langevin::gaussian_particles;
use otto_ot::flow::{
    EntropicJko, FlowRun, FokkerPlanck, GaussianJko, GridDensity, Langevin, Potential, Snapshot,
};
use otto_ot::Matrix;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::problem::Problem;

/// A gradient-flow scheme.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scheme {
    /// Fokker–Planck PDE: Scharfetter–Gummel fluxes, implicit Euler (the reference).
    Fp,
    /// Exact JKO recursion for Gaussians (quadratic V, Gaussian --init).
    JkoGaussian,
    /// Entropic JKO (Peyré 2015), generalized Sinkhorn on the grid; --gamma is the blur.
    EntropicJko,
    /// Unadjusted Langevin particles (Euler–Maruyama).
    Langevin,
    /// Metropolis-adjusted Langevin particles.
    Mala,
    /// Every scheme that applies, on one problem: one table, one overlay plot.
    Compare,
}

impl Scheme {
    /// The schemes `compare` runs, in table order.
    pub const ALL: [Scheme; 5] = [
        Scheme::Fp,
        Scheme::JkoGaussian,
        Scheme::EntropicJko,
        Scheme::Langevin,
        Scheme::Mala,
    ];

    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Scheme::Fp => "fp",
            Scheme::JkoGaussian => "jko-gaussian",
            Scheme::EntropicJko => "entropic-jko",
            Scheme::Langevin => "langevin",
            Scheme::Mala => "mala",
            Scheme::Compare => "compare",
        }
    }

    /// The default physical time step: 10⁻³ for the PDE, 0.05 for the JKO schemes (Peyré's
    /// τ = 2h = 0.1), 10⁻² for particles.
    pub fn default_h(self) -> f64 {
        match self {
            Scheme::Fp => 1e-3,
            Scheme::JkoGaussian | Scheme::EntropicJko => 0.05,
            Scheme::Langevin | Scheme::Mala | Scheme::Compare => 1e-2,
        }
    }

    /// True for the particle schemes.
    pub fn is_particles(self) -> bool {
        matches!(self, Scheme::Langevin | Scheme::Mala)
    }

    /// Why this scheme cannot run on `problem`, if it cannot (one line).
    pub fn unsupported(self, problem: &Problem) -> Option<&'static str> {
        let energy = &problem.energy;
        let porous = energy.porous_term().is_some();
        let on_grid = matches!(energy.potential_term(), Some(Potential::OnGrid(_)));
        match self {
            Scheme::Fp if porous => Some("the Fokker–Planck solver is linear (no --porous)"),
            Scheme::JkoGaussian if problem.ou.is_none() => {
                Some("needs a quadratic --potential, --diffusion > 0 and no --porous")
            }
            Scheme::JkoGaussian if problem.initial_gaussian.is_none() => {
                Some("needs --init gaussian:MEAN,VAR")
            }
            Scheme::Langevin | Scheme::Mala if porous => {
                Some("particles sample linear Fokker–Planck only (no --porous)")
            }
            Scheme::Langevin | Scheme::Mala if on_grid => {
                Some("a potential given on the grid has no gradient between nodes")
            }
            Scheme::Mala if energy.diffusion_coefficient() <= 0.0 => {
                Some("MALA's target e^{−V/D} needs --diffusion > 0")
            }
            _ => None,
        }
    }
}

/// Run options shared by every scheme.
pub struct Options {
    /// `--h`, or the scheme's default.
    pub h: Option<f64>,
    /// `--steps`: then `t_end = steps·h`.
    pub steps: Option<usize>,
    pub gamma: f64,
    pub particles: usize,
    pub seed: u64,
    /// Densities to save besides the initial one.
    pub frames: usize,
}

/// What a scheme produced.
pub struct Trajectory {
    pub scheme: Scheme,
    /// The time step actually used (`t_end/steps`).
    pub h: f64,
    pub steps: usize,
    pub t_end: f64,
    /// Saved densities, the initial and the final one included.
    pub snapshots: Vec<Snapshot>,
    /// `(t, F(ρ_t))` before the first step and after every step.
    pub energies: Vec<(f64, f64)>,
    /// Inner iterations summed over steps (Sinkhorn iterations, or one per step).
    pub iterations: usize,
    /// How the run stopped.
    pub status: String,
    /// The largest per-step error of the run (marginal error, or mass change).
    pub step_error: f64,
    /// Wall time of the scheme itself (not the histograms, files or plots).
    pub time_s: f64,
    /// The final particles (particle schemes).
    pub particles: Option<Matrix>,
    /// MALA's acceptance rate.
    pub acceptance: Option<f64>,
}

impl Trajectory {
    /// The final density.
    pub fn last(&self) -> &GridDensity {
        &self
            .snapshots
            .last()
            .expect("a run saves its final density")
            .density
    }
}

/// The number of steps of about `h` that reach `t_end` exactly, and the step they use.
pub fn steps_for(t_end: f64, h: f64) -> (usize, f64) {
    let steps = ((t_end / h) - 1e-9).ceil().max(1.0) as usize;
    (steps, t_end / steps as f64)
}

/// Runs `scheme` on `problem`.
pub fn run(scheme: Scheme, problem: &Problem, options: &Options) -> Result<Trajectory> {
    if let Some(reason) = scheme.unsupported(problem) {
        bail!("{} does not apply to this problem: {reason}", scheme.name());
    }
    let h = options.h.unwrap_or(scheme.default_h());
    if !(h > 0.0 && h.is_finite()) {
        bail!("--h must be positive and finite, got {h}");
    }
    let (steps, h) = match options.steps {
        Some(0) => bail!("--steps must be at least 1"),
        Some(k) => (k, h),
        None => steps_for(problem.t_end, h),
    };
    let t_end = steps as f64 * h;
    let save_every = (steps / options.frames.max(1)).max(1);
    match scheme {
        Scheme::Fp => {
            let start = Instant::now();
            let run = FokkerPlanck::new(h).save_every(save_every).solve(
                &problem.energy,
                &problem.initial,
                t_end,
            )?;
            Ok(from_grid_run(scheme, h, steps, t_end, run, start))
        }
        Scheme::EntropicJko => {
            let dx = problem.spacing();
            if options.gamma.sqrt() < 0.5 * dx {
                bail!(
                    "--gamma {} is too small for the grid: the blur √γ = {:.3} is under half the cell width {dx:.3}, \
                     so the Gibbs kernel cannot move mass; raise --gamma or --grid",
                    options.gamma,
                    options.gamma.sqrt()
                );
            }
            let start = Instant::now();
            let run = EntropicJko::new(options.gamma, 2.0 * h)
                .save_every(save_every)
                .run(&problem.energy, &problem.initial, steps)?;
            Ok(from_grid_run(scheme, h, steps, t_end, run, start))
        }
        Scheme::JkoGaussian => jko_gaussian(problem, h, steps, save_every),
        Scheme::Langevin | Scheme::Mala => {
            particles(scheme, problem, options, h, steps, save_every)
        }
        Scheme::Compare => unreachable!("compare runs the other schemes"),
    }
}

fn from_grid_run(
    scheme: Scheme,
    h: f64,
    steps: usize,
    t_end: f64,
    run: FlowRun,
    start: Instant,
) -> Trajectory {
    let time_s = start.elapsed().as_secs_f64();
    let times = std::iter::once(0.0).chain(run.log.iter().map(|s| s.time));
    let energies = times.zip(run.energies()).collect();
    Trajectory {
        scheme,
        h,
        steps: run.log.len(),
        t_end: if run.status.is_converged() || steps == run.log.len() {
            t_end
        } else {
            run.log.last().map_or(0.0, |s| s.time)
        },
        iterations: run.status.iterations(),
        status: run.status.name().to_string(),
        step_error: run.status.error(),
        snapshots: run.snapshots,
        energies,
        time_s,
        particles: None,
        acceptance: None,
    }
}

fn jko_gaussian(problem: &Problem, h: f64, steps: usize, save_every: usize) -> Result<Trajectory> {
    let (Some(ou), Some(g0)) = (&problem.ou, &problem.initial_gaussian) else {
        unreachable!("checked by Scheme::unsupported")
    };
    let start = Instant::now();
    let gaussians = GaussianJko::new(h).run(ou, g0, steps)?;
    let time_s = start.elapsed().as_secs_f64();
    let mut snapshots = Vec::new();
    let mut energies = Vec::new();
    for (k, g) in gaussians.iter().enumerate() {
        let density = GridDensity::gaussian(&problem.grid, g)?;
        let t = k as f64 * h;
        energies.push((t, problem.energy.value(&density)?));
        if k % save_every == 0 || k == steps {
            snapshots.push(Snapshot { time: t, density });
        }
    }
    Ok(Trajectory {
        scheme: Scheme::JkoGaussian,
        h,
        steps,
        t_end: steps as f64 * h,
        snapshots,
        energies,
        iterations: steps,
        status: "converged".into(),
        step_error: 0.0,
        time_s,
        particles: None,
        acceptance: None,
    })
}

fn particles(
    scheme: Scheme,
    problem: &Problem,
    options: &Options,
    h: f64,
    steps: usize,
    save_every: usize,
) -> Result<Trajectory> {
    if options.particles < 2 {
        bail!("--particles must be at least 2, got {}", options.particles);
    }
    let mut x = match &problem.initial_gaussian {
        Some(g) => gaussian_particles(g, options.particles, options.seed),
        None => sample_grid(&problem.initial, options.particles, options.seed),
    };
    let mut density = histogram(&x, problem)?;
    let mut snapshots = vec![Snapshot {
        time: 0.0,
        density: density.clone(),
    }];
    let mut energies = vec![(0.0, problem.energy.value(&density)?)];
    let mut time_s = 0.0;
    let mut accepted = 0.0;
    for k in 1..=steps {
        // One seed per step (a run is reproducible from --seed alone).
        let seed = options
            .seed
            .wrapping_add((k as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let mover = match scheme {
            Scheme::Mala => Langevin::mala(h),
            _ => Langevin::ula(h),
        }
        .seed(seed);
        let start = Instant::now();
        let out = mover.run(&problem.energy, &x, 1)?;
        time_s += start.elapsed().as_secs_f64();
        accepted += out.acceptance;
        x = out.particles;
        if x.as_slice().iter().any(|v| !v.is_finite()) {
            bail!(
                "{} diverged at step {k} (t = {:.4}): reduce --h",
                scheme.name(),
                k as f64 * h
            );
        }
        density = histogram(&x, problem)?;
        let t = k as f64 * h;
        energies.push((t, problem.energy.value(&density)?));
        if k % save_every == 0 || k == steps {
            snapshots.push(Snapshot {
                time: t,
                density: density.clone(),
            });
        }
    }
    Ok(Trajectory {
        scheme,
        h,
        steps,
        t_end: steps as f64 * h,
        snapshots,
        energies,
        iterations: steps,
        status: "converged".into(),
        step_error: 0.0,
        time_s,
        particles: Some(x),
        acceptance: (scheme == Scheme::Mala).then_some(accepted / steps as f64),
    })
}

/// The particles as a density on the grid: counts per cell over `n ΔV` (particles outside the box
/// are dropped, and the histogram renormalized).
fn histogram(x: &Matrix, problem: &Problem) -> Result<GridDensity> {
    let grid = &problem.grid;
    let axis = grid.axes()[0];
    let n = axis.n;
    let cell = |v: f64| {
        let i = ((v - axis.lo) / axis.spacing()).floor();
        (i >= 0.0 && i < n as f64).then_some(i as usize)
    };
    let mut counts = vec![0.0; grid.len()];
    for i in 0..x.rows() {
        let row = x.row(i);
        let flat = match row {
            [a] => cell(*a),
            [a, b] => cell(*a).zip(cell(*b)).map(|(p, q)| p * n + q),
            _ => None,
        };
        if let Some(f) = flat {
            counts[f] += 1.0;
        }
    }
    match GridDensity::from_values(grid, counts) {
        Ok(d) => Ok(d.density),
        Err(_) => bail!("every particle left --domain: widen it or reduce --h"),
    }
}

/// `n` draws from a grid density: a cell by its mass, then uniform within the cell.
fn sample_grid(density: &GridDensity, n: usize, seed: u64) -> Matrix {
    let grid = density.grid();
    let masses = density.masses();
    let mut cumulative = Vec::with_capacity(masses.len());
    let mut total = 0.0;
    for m in &masses {
        total += m;
        cumulative.push(total);
    }
    let dx = grid.axes()[0].spacing();
    let d = grid.dim();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut x = Matrix::zeros(n, d);
    for i in 0..n {
        let u = rng.gen::<f64>() * total;
        let flat = cumulative.partition_point(|&c| c < u).min(masses.len() - 1);
        let node = grid.node(flat);
        for (k, out) in x.row_mut(i).iter_mut().enumerate() {
            *out = node[k] + dx * (rng.gen::<f64>() - 0.5);
        }
    }
    x
}
