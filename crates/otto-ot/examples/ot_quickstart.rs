//! The README's library example: exact and entropic OT between two point clouds.
//! Run with `cargo run --release -p otto-ot --example ot_quickstart`.

use otto_ot::{entropic::Sinkhorn, exact, marginal::uniform, squared_euclidean, Matrix};

fn main() -> Result<(), otto_ot::OtError> {
    let x = Matrix::from_fn(500, 2, |i, k| ((i * 37 + k * 11) % 101) as f64 / 50.0);
    let y = Matrix::from_fn(500, 2, |i, k| ((i * 53 + k * 7) % 97) as f64 / 40.0 + 1.0);
    let (a, b) = (uniform(500), uniform(500));
    let cost = squared_euclidean(&x, &y)?;

    let plan = exact::solve(&a, &b, &cost)?; // network simplex: plan, duals and a status
    println!("W2 = {:.4} ({})", plan.cost.sqrt(), plan.status.name());

    let ent = Sinkhorn::new(0.05).tolerance(1e-9).solve(&a, &b, &cost)?;
    println!(
        "entropic cost {:.4}, {} iterations",
        ent.transport_cost,
        ent.status.iterations()
    );
    Ok(())
}
