//! A trained otto run from Python (`otto_ot.generative`): load `config.toml` + `model.safetensors`
//! (or `ema.safetensors`), sample, and compute log-likelihoods through the probability-flow ODE.
//! Flow and diffusion runs are vector fields ([`TrainedRun`]): sampling integrates the ODE from the
//! run's prior with otto's solvers or, on an affine Gaussian path, steps its denoiser with a
//! diffusion sampler; drifting runs are one-step generators ([`TrainedGenerator`]).

use numpy::PyArray2;
use otto::field::Denoiser;
use otto::field::VectorField;
use otto::likelihood::{DivergenceEstimator, Likelihood};
use otto::path::Level;
use otto::sampler::{DiffusionOptions, DiffusionSampler, Method as OdeMethod, OdeSolver};
use otto::train::{Method, RunDir, TrainConfig, TrainedGenerator, TrainedRun};
use otto_ot::Matrix;
use pyo3::prelude::*;

use crate::arrays::{matrix, to_numpy1, to_numpy2};
use crate::errors::InputError;
use crate::runtime::run;

enum Model {
    Field(TrainedRun),
    Generator(TrainedGenerator),
}

/// A trained run loaded from its directory.
#[pyclass(frozen, module = "otto_ot._core")]
pub struct Run {
    model: std::sync::Arc<Model>,
    config: TrainConfig,
    root: String,
}

fn error(e: impl std::fmt::Display) -> PyErr {
    InputError::new_err(e.to_string())
}

impl Run {
    fn field(&self, what: &str) -> PyResult<&TrainedRun> {
        match self.model.as_ref() {
            Model::Field(run) => Ok(run),
            Model::Generator(_) => Err(InputError::new_err(format!(
                "{} is a drifting run, a one-step generator: it has no {what}",
                self.root
            ))),
        }
    }
}

/// How a field run is sampled: an ODE solver or a diffusion sampler.
#[derive(Clone, Copy)]
enum Integrator {
    Ode(OdeMethod),
    Diffusion(DiffusionSampler),
}

/// The integrator named `solver`; an unknown name lists the valid ones.
fn integrator(solver: &str) -> PyResult<Integrator> {
    if let Ok(method) = solver.parse() {
        return Ok(Integrator::Ode(method));
    }
    if let Ok(sampler) = solver.parse() {
        return Ok(Integrator::Diffusion(sampler));
    }
    let names = |names: Vec<&str>| names.join(", ");
    Err(InputError::new_err(format!(
        "unknown solver '{solver}'; the ODE solvers are {} and the diffusion samplers {}",
        names(OdeMethod::ALL.iter().map(|m| m.name()).collect()),
        names(DiffusionSampler::ALL.iter().map(|s| s.name()).collect()),
    )))
}

/// Noise levels from a (K+1) × 3 array of rows (t, α, σ), noise to data (K ≥ 1); the samplers
/// check the values (finite, α > 0, σ > 0 but on the last row, log(α/σ) increasing).
fn level_rows(levels: &Bound<'_, PyAny>) -> PyResult<Vec<Level>> {
    let rows = matrix(levels, "levels")?;
    if rows.cols() != 3 || rows.rows() < 2 {
        return Err(InputError::new_err(format!(
            "levels: expected a (K+1) × 3 array of rows (t, α, σ) with K ≥ 1 steps, got {} × {}",
            rows.rows(),
            rows.cols()
        )));
    }
    Ok((0..rows.rows())
        .map(|i| Level {
            t: rows.get(i, 0),
            alpha: rows.get(i, 1),
            sigma: rows.get(i, 2),
        })
        .collect())
}

#[pymethods]
impl Run {
    /// Loads the run in `path` (`ema`: the EMA weights).
    #[new]
    #[pyo3(signature = (path, ema = false))]
    fn new(path: std::path::PathBuf, ema: bool) -> PyResult<Self> {
        let dir = RunDir::open(&path).map_err(error)?;
        let text = dir.read_to_string("config.toml").map_err(error)?;
        let config = TrainConfig::from_toml(&text)
            .map_err(|e| error(format!("{}: {e}", dir.file("config.toml").display())))?;
        let model = if config.method == Method::Drifting {
            Model::Generator(TrainedGenerator::load(&dir, ema).map_err(error)?)
        } else {
            Model::Field(TrainedRun::load(&dir, ema).map_err(error)?)
        };
        Ok(Self {
            model: std::sync::Arc::new(model),
            config,
            root: path.display().to_string(),
        })
    }

    /// The training method (`ot-cfm`, `ddpm`, `drifting`, …).
    #[getter]
    fn method(&self) -> &'static str {
        self.config.method.name()
    }

    /// The data dimension.
    #[getter]
    fn dim(&self) -> usize {
        match self.model.as_ref() {
            Model::Field(run) => run.field.dim(),
            Model::Generator(g) => g.mlp.config().output_dim,
        }
    }

    /// The run's configuration as TOML text (`config.toml`).
    #[getter]
    fn config_toml(&self) -> String {
        self.config.to_toml()
    }

    /// `n` samples of a field run from its prior (or from `x0`, n × d) with `solver`: an ODE
    /// solver (euler, midpoint, heun, rk4, dopri5) integrating the probability flow in `steps`
    /// steps, or, on an affine Gaussian path (diffusion runs), a diffusion sampler stepping the
    /// denoiser through `steps` noise levels of `grid` (or through `levels`, a (K+1) × 3 array of
    /// rows (t, α, σ); `x0` then lies at the first level) with DDIM's `eta`. A drifting run's
    /// generator samples in one network evaluation (`solver`, `steps` and `x0` do not apply).
    #[pyo3(signature = (n, steps, solver, seed, x0 = None, levels = None, eta = 0.0, grid = None))]
    #[allow(clippy::too_many_arguments)]
    fn sample<'py>(
        &self,
        py: Python<'py>,
        n: usize,
        steps: usize,
        solver: &str,
        seed: u64,
        x0: Option<Bound<'py, PyAny>>,
        levels: Option<Bound<'py, PyAny>>,
        eta: f64,
        grid: Option<&str>,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let start = x0.map(|x| matrix(&x, "x0")).transpose()?;
        let levels = levels.map(|l| level_rows(&l)).transpose()?;
        let integrator = match self.model.as_ref() {
            Model::Field(_) => Some(integrator(solver)?),
            Model::Generator(_) => None,
        };
        if start.is_some() && integrator.is_none() {
            return Err(InputError::new_err(
                "x0 does not apply to a drifting run: its generator maps its own noise",
            ));
        }
        if levels.is_some() && !matches!(integrator, Some(Integrator::Diffusion(_))) {
            return Err(InputError::new_err(format!(
                "levels apply to the diffusion samplers, not to solver '{solver}'"
            )));
        }
        let options = DiffusionOptions {
            eta,
            grid: grid.map(|g| g.parse()).transpose().map_err(error)?,
            ..DiffusionOptions::default()
        };
        let (model, method) = (self.model.clone(), self.config.method);
        let x: Matrix = run(py, move |_| match (model.as_ref(), integrator) {
            (Model::Field(trained), Some(Integrator::Ode(method))) => {
                let (t0, t1) = trained.interval();
                let x0 = start.unwrap_or_else(|| trained.prior(n, seed));
                let solver = OdeSolver::new(method).steps(steps);
                Ok(solver
                    .solve_by_rows(&trained.field, &x0, t0, t1)
                    .map_err(error)?
                    .x)
            }
            (Model::Field(trained), Some(Integrator::Diffusion(sampler))) => {
                let Some(denoiser) = trained.field.with_denoiser() else {
                    return Err(InputError::new_err(format!(
                        "solver '{}' steps a denoiser on an affine Gaussian path, which this {} run does not have; use an ODE solver (euler, midpoint, heun, rk4, dopri5)",
                        sampler.name(),
                        method.name()
                    )));
                };
                let levels = match levels {
                    Some(levels) => levels,
                    None => options
                        .levels(sampler, denoiser.schedule(), steps, true)
                        .map_err(error)?,
                };
                let x0 = start.unwrap_or_else(|| trained.prior_at(n, seed, levels[0].sigma));
                let solution = options.run(sampler, &denoiser, &x0, &levels, seed);
                Ok(solution.map_err(error)?.x)
            }
            (Model::Generator(g), _) => g.sample(n, seed).map_err(error),
            (Model::Field(_), None) => unreachable!("a field run has an integrator"),
        })?;
        Ok(to_numpy2(py, x))
    }

    /// `log p(x)` in nats for every row of `x`: the probability-flow ODE integrated backward to the
    /// run's source, whose density must be known in closed form (Gaussian or Gaussian-mixture
    /// sources). `divergence`: `exact` or `hutchinson` (`probes` Rademacher vectors from `seed`).
    #[pyo3(signature = (x, steps, solver, divergence, probes, seed))]
    #[allow(clippy::too_many_arguments)]
    fn log_likelihood<'py>(
        &self,
        py: Python<'py>,
        x: Bound<'py, PyAny>,
        steps: usize,
        solver: &str,
        divergence: &str,
        probes: usize,
        seed: u64,
    ) -> PyResult<Bound<'py, numpy::PyArray1<f64>>> {
        let trained = self.field("likelihood")?;
        let x = matrix(&x, "x")?;
        if x.cols() != trained.field.dim() {
            return Err(InputError::new_err(format!(
                "x has {} columns; the model's dimension is {}",
                x.cols(),
                trained.field.dim()
            )));
        }
        let estimator = match divergence {
            "exact" => DivergenceEstimator::Exact,
            "hutchinson" => DivergenceEstimator::Hutchinson { probes, seed },
            other => {
                return Err(InputError::new_err(format!(
                    "divergence {other:?} is not one of 'exact', 'hutchinson'"
                )))
            }
        };
        let method: OdeMethod = solver.parse().map_err(error)?;
        let source = trained.source_density().map_err(error)?;
        let likelihood = Likelihood::new(OdeSolver::new(method).steps(steps)).divergence(estimator);
        let model = self.model.clone();
        let logp = run(py, move |_| {
            let Model::Field(trained) = model.as_ref() else {
                unreachable!("checked above")
            };
            let (t0, t1) = trained.interval();
            let result = likelihood
                .log_density(&trained.field, &x, t1, t0, |x0| source.log_density(x0))
                .map_err(error)?;
            if !result.status.is_completed() {
                return Err(InputError::new_err(format!(
                    "the likelihood ODE stopped at t = {} ({:?}); try solver='rk4'",
                    result.t, result.status
                )));
            }
            Ok(result.log_density)
        })?;
        Ok(to_numpy1(py, logp))
    }
}
