//! A trained otto run from Python (`otto_ot.generative`): load `config.toml` + `model.safetensors`
//! (or `ema.safetensors`), sample, and compute log-likelihoods through the probability-flow ODE.
//! Flow and diffusion runs are vector fields ([`TrainedRun`]): sampling integrates the ODE from the
//! run's prior with otto's solvers; drifting runs are one-step generators ([`TrainedGenerator`]).

use numpy::PyArray2;
use otto::field::VectorField;
use otto::likelihood::{DivergenceEstimator, Likelihood};
use otto::sampler::{Method as OdeMethod, OdeSolver};
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

    /// `n` samples: the probability-flow ODE from the run's prior (or from `x0`, n × d) with
    /// `solver` (euler, midpoint, heun, rk4, dopri5) and `steps` steps; a drifting run's generator
    /// in one network evaluation (`solver`, `steps` and `x0` do not apply).
    #[pyo3(signature = (n, steps, solver, seed, x0 = None))]
    fn sample<'py>(
        &self,
        py: Python<'py>,
        n: usize,
        steps: usize,
        solver: &str,
        seed: u64,
        x0: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let start = x0.map(|x| matrix(&x, "x0")).transpose()?;
        let method: Option<OdeMethod> = match self.model.as_ref() {
            Model::Field(_) => Some(solver.parse().map_err(error)?),
            Model::Generator(_) => None,
        };
        if start.is_some() && method.is_none() {
            return Err(InputError::new_err(
                "x0 does not apply to a drifting run: its generator maps its own noise",
            ));
        }
        let model = self.model.clone();
        let x: Matrix = run(py, move |_| match model.as_ref() {
            Model::Generator(g) => g.sample(n, seed).map_err(error),
            Model::Field(trained) => {
                let (t0, t1) = trained.interval();
                let x0 = start.unwrap_or_else(|| trained.prior(n, seed));
                let solver = OdeSolver::new(method.expect("a field run")).steps(steps);
                let solution = solver.solve(&trained.field, &x0, t0, t1).map_err(error)?;
                Ok(solution.x)
            }
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
