//! `otto data`: writes points of a built-in data set to a `.npy` file, reproducible from a seed —
//! to look at a data set, feed it to another tool, or compute a finite-sample baseline (the W2
//! between two independent draws, with `otto ot w2`).

use std::path::PathBuf;

use anyhow::{ensure, Result};
use clap::Args;
use otto::data::Toy;

use crate::npy;

#[derive(Args)]
pub struct DataArgs {
    /// Built-in data set: gaussian (gaussian:D), 8gaussians, moons, sk-moons, dsb-moons, … (an
    /// unknown name lists them all).
    pub name: Toy,
    /// Number of points.
    #[arg(long, default_value_t = 10_000)]
    pub n: usize,
    /// Seed of the draw.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output .npy (n × d float64).
    #[arg(long, value_name = "FILE.npy")]
    pub out: PathBuf,
}

pub fn run(args: DataArgs) -> Result<()> {
    ensure!(args.n > 0, "--n must be at least 1");
    let points = args.name.sample(args.n, args.seed);
    npy::write_matrix(&args.out, &points)?;
    println!(
        "{} points of {} (seed {}) → {}",
        args.n,
        args.name,
        args.seed,
        args.out.display()
    );
    Ok(())
}
