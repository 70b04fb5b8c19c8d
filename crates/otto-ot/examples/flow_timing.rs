//! Times the gradient-flow schemes of `otto_ot::flow` (issue 5, item 9).
//!
//! 1. The entropic JKO step on the 2-D anisotropic OU problem (V = ½xᵀAx, A = [[1, .6], [.6, 2]],
//!    D = 1, from N((1.5, −1), diag(.3, .2))) on n×n grids over [−6, 6]², γ = 0.02, τ = 0.1,
//!    tolerance 1e-6: one cold step, then `steps` warm-started steps; prints seconds per warm step
//!    and per iteration at n = 64, 128, 256.
//! 2. The whole 1-D OU study of the unit tests (N(2, 0.25) → T = 1 on 600 cells over [−6, 6]):
//!    Fokker–Planck (Δt = 2·10⁻⁴), exact Gaussian JKO (h = 0.05, 0.01), entropic JKO (τ = 0.1,
//!    γ = 0.02 and 0.005, 20 steps each), and ULA + MALA (40 000 particles, 60 steps of h = 0.2).
//!
//! ```sh
//! cargo run --release -p otto-ot --example flow_timing            # 5 warm steps per grid
//! cargo run --release -p otto-ot --example flow_timing -- 10      # 10 warm steps
//! RAYON_NUM_THREADS=1 cargo run --release -p otto-ot --example flow_timing   # one core
//! ```

use std::time::Instant;

use otto_ot::flow::langevin::gaussian_particles;
use otto_ot::flow::{
    EntropicJko, FokkerPlanck, FreeEnergy, GaussianJko, Grid, GridDensity, Langevin,
    OrnsteinUhlenbeck, Potential,
};
use otto_ot::{gaussian::Gaussian, Matrix};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let steps: usize = std::env::args().nth(1).map_or(Ok(5), |s| s.parse())?;

    let a = Matrix::from_rows(&[vec![1.0, 0.6], vec![0.6, 2.0]])?;
    let energy = FreeEnergy::fokker_planck(Potential::quadratic(&[0.0, 0.0], &a)?, 1.0);
    let s0 = Matrix::from_rows(&[vec![0.3, 0.0], vec![0.0, 0.2]])?;
    let start = Gaussian::new(&[1.5, -1.0], &s0)?;
    println!(
        "# entropic JKO, 2-D OU on [-6, 6]^2, gamma 0.02, tau 0.1, tol 1e-6; {steps} warm steps"
    );
    println!("grid\tcold_s\twarm_s_per_step\titerations_per_warm_step\tms_per_iteration");
    for n in [64, 128, 256] {
        let grid = Grid::square(-6.0, 6.0, n)?;
        let rho0 = GridDensity::gaussian(&grid, &start)?;
        let solver = EntropicJko::new(0.02, 0.1).tolerance(1e-6);
        let t = Instant::now();
        let cold = solver.step(&energy, &rho0, None)?;
        let cold_s = t.elapsed().as_secs_f64();
        let (mut current, mut duals) = (cold.density, (cold.log_a, cold.log_b));
        let (mut seconds, mut iterations) = (0.0, 0);
        for _ in 0..steps {
            let t = Instant::now();
            let step = solver.step(&energy, &current, Some((&duals.0, &duals.1)))?;
            seconds += t.elapsed().as_secs_f64();
            iterations += step.status.iterations();
            assert!(step.status.is_converged(), "{:?}", step.status);
            current = step.density;
            duals = (step.log_a, step.log_b);
        }
        println!(
            "{n}x{n}\t{cold_s:.4}\t{:.4}\t{:.1}\t{:.3}",
            seconds / steps as f64,
            iterations as f64 / steps as f64,
            1e3 * seconds / iterations as f64
        );
    }

    let one = Matrix::new(1, 1, vec![1.0])?;
    let ou = FreeEnergy::fokker_planck(Potential::quadratic(&[0.0], &one)?, 1.0);
    let g0 = Gaussian::new(&[2.0], &Matrix::new(1, 1, vec![0.25])?)?;
    let grid = Grid::line(-6.0, 6.0, 600)?;
    let rho0 = GridDensity::gaussian(&grid, &g0)?;
    println!("# 1-D OU study, N(2, 0.25) -> T = 1");
    println!("part\tseconds\tmean\tvariance");
    let total = Instant::now();
    let report = |name: &str, t: Instant, mean: f64, var: f64| {
        println!(
            "{name}\t{:.4}\t{mean:.6}\t{var:.6}",
            t.elapsed().as_secs_f64()
        );
    };
    let t = Instant::now();
    let fp = FokkerPlanck::new(2e-4).solve(&ou, &rho0, 1.0)?;
    report(
        "fokker_planck",
        t,
        fp.last().mean()[0],
        fp.last().covariance().get(0, 0),
    );
    let t = Instant::now();
    let problem = OrnsteinUhlenbeck::from_energy(&ou)?;
    for (h, n) in [(0.05, 20), (0.01, 100)] {
        let last = GaussianJko::new(h)
            .run(&problem, &g0, n)?
            .pop()
            .expect("steps");
        report(
            &format!("exact_jko_h{h}"),
            t,
            last.mean()[0],
            last.cov().get(0, 0),
        );
    }
    for gamma in [0.02, 0.005] {
        let t = Instant::now();
        let run = EntropicJko::new(gamma, 0.1).run(&ou, &rho0, 20)?;
        let last = run.last();
        report(
            &format!("entropic_jko_gamma{gamma}"),
            t,
            last.mean()[0],
            last.covariance().get(0, 0),
        );
    }
    let x0 = gaussian_particles(&g0, 40_000, 1);
    for (name, scheme) in [("ula", Langevin::ula(0.2)), ("mala", Langevin::mala(0.2))] {
        let t = Instant::now();
        let p = scheme.seed(2).run(&ou, &x0, 60)?.particles;
        let n = p.rows() as f64;
        let mean = p.as_slice().iter().sum::<f64>() / n;
        let var = p.as_slice().iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
        report(name, t, mean, var);
    }
    println!("total\t{:.4}", total.elapsed().as_secs_f64());
    Ok(())
}
