//! The README's library example: train OT-CFM briefly, integrate the learned field, measure W2.
//! Run with `cargo run --release -p otto --example quickstart`.

use otto::data::Toy;
use otto::field::VectorField;
use otto::sampler::{Method, OdeSolver};
use otto::train::{train, RunDir, Silent, TrainConfig, TrainedRun};
use otto_ot::{exact, marginal::uniform, squared_euclidean};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Train OT-CFM from 8gaussians to moons for 2000 steps into runs/example.
    let config = TrainConfig {
        steps: 2000,
        batch: 256,
        ..TrainConfig::default()
    };
    let run = RunDir::create("runs/example")?;
    train(&config, &run, false, &mut Silent)?;

    // Load it as a vector field and integrate 1000 source points with RK4.
    let model = TrainedRun::load(&run, false)?;
    let x0 = Toy::EightGaussians.sample(1000, 7);
    let x1 = OdeSolver::new(Method::Rk4)
        .steps(20)
        .solve(&model.field as &dyn VectorField, &x0, 0.0, 1.0)?
        .x;

    // Exact W2 to fresh moons with otto-ot's network simplex.
    let moons = Toy::Moons.sample(1000, 8);
    let plan = exact::solve(
        &uniform(1000),
        &uniform(1000),
        &squared_euclidean(&x1, &moons)?,
    )?;
    println!("W2 = {:.3} ({})", plan.cost.sqrt(), plan.status.name());
    Ok(())
}
