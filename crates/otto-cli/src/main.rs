//! `otto`: generative modeling in Wasserstein space, from the command line.
//!
//! A thin layer over the `otto` and `otto-ot` libraries: it parses flags into solver options,
//! reads and writes `.npy` files, and prints a table (or JSON with `--json`). Errors are one line
//! on stderr and a non-zero exit code.

mod bench;
mod bench_drift;
mod compare;
mod data;
mod demo;
mod drift;
mod eval;
mod flow;
mod likelihood;
mod npy;
mod ot;
mod ot_demo;
mod plot;
mod plot_run;
mod report;
mod sample;
mod samplers;
mod schedule;
mod solvers;
mod train;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "otto",
    version,
    about = "Generative modeling in Wasserstein space: optimal transport, flow matching, diffusion, bridges",
    long_about = None
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The main job: train OT-CFM from 8gaussians to moons, sample, evaluate, plot (about a minute;
    /// `--method drifting`: the drifting paper's toy).
    Demo(demo::DemoArgs),
    /// Train a flow-matching, diffusion, bridge or drifting model into a run directory.
    Train(Box<train::TrainArgs>),
    /// Draw points from a trained run with an ODE solver or a diffusion sampler (DDIM, DPM-Solver++, EDM, SDE).
    Sample(sample::SampleArgs),
    /// Sample quality of a trained run: W2, MMD, energy distance, NPE, test NLL.
    Eval(eval::EvalArgs),
    /// Log-density of points under a trained run or a Gaussian mixture, through the probability-flow ODE.
    Likelihood(likelihood::LikelihoodArgs),
    /// PNGs of a trained run: samples, trajectories, vector field, loss.
    Plot(plot_run::PlotArgs),
    /// Points of a built-in data set, written to a .npy file.
    Data(data::DataArgs),
    /// Optimal-transport solvers on .npy inputs.
    #[command(subcommand)]
    Ot(ot::OtCommand),
    /// Discretization error of every sampler versus NFE on a closed-form field, with orders.
    Solvers(solvers::SolversArgs),
    /// Several methods trained and evaluated under one protocol: one table, one figure.
    Compare(compare::CompareArgs),
    /// Wasserstein gradient flows on a grid: Fokker–Planck, exact and entropic JKO, Langevin/MALA.
    Flow(flow::FlowArgs),
    /// Drift fields of drifting models (Deng et al. 2026) on given points, and their particle
    /// flows.
    #[command(subcommand)]
    Drift(drift::DriftCommand),
    /// Time otto's solvers on the standard benchmark problems.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
}

/// The one line that says what is wrong with the command line: clap's message, with its tip
/// ("a similar argument exists") and the arguments it lists, without the usage block.
fn one_line(error: &clap::Error) -> String {
    let rendered = error.render().to_string();
    let parts: Vec<&str> = rendered
        .lines()
        .map(str::trim)
        .filter(|line| {
            !line.is_empty() && !line.starts_with("Usage:") && !line.starts_with("For more")
        })
        .collect();
    let mut line = String::new();
    for part in parts {
        if !line.is_empty() {
            line.push_str(if line.ends_with(':') { " " } else { "; " });
        }
        line.push_str(part);
    }
    format!("{line} (see --help)")
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => e.exit(),
        Err(e) => {
            eprintln!("{}", one_line(&e));
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        Command::Demo(args) => demo::run(args),
        Command::Data(args) => data::run(args),
        Command::Ot(cmd) => ot::run(cmd),
        Command::Train(args) => train::run(*args),
        Command::Sample(args) => sample::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Likelihood(args) => likelihood::run(args),
        Command::Plot(args) => plot_run::run(args),
        Command::Bench(cmd) => bench::run(cmd),
        Command::Solvers(args) => solvers::run(args),
        Command::Compare(args) => compare::run(args),
        Command::Flow(args) => flow::run(args),
        Command::Drift(cmd) => drift::run(cmd),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
