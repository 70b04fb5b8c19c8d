//! The noise levels a diffusion sampler steps through: a grid of times between the start and the
//! end of a schedule's sampling interval, spaced uniformly in t, in λ = log(α/σ) (logSNR, DPM-Solver's
//! default) or in EDM's σ/α with exponent ρ (Karras et al. 2022, eq. 5), plus the final level
//! σ = 0 where the samplers return the denoised x̂1 (EDM's σ_N = 0; diffusers'
//! `final_sigmas_type="zero"`; score_sde's noise removal).

use std::fmt;
use std::str::FromStr;

use crate::error::{ensure, Error, Result};
use crate::path::{Level, Schedule};

/// How the levels between the start and the end are spaced.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TimeGrid {
    /// Uniform in t (score_sde's `linspace(1, ε, N)`; EDM's grid on the [`crate::path::Edm`]
    /// schedule).
    Uniform,
    /// Uniform in λ = log(α/σ) (Lu et al. 2022, "logSNR").
    LogSnr,
    /// Uniform in (σ/α)^{1/ρ} (Karras et al. 2022, eq. 5; ρ = 7 by default).
    Karras {
        /// The exponent ρ > 0.
        rho: f64,
    },
}

impl fmt::Display for TimeGrid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimeGrid::Uniform => f.write_str("uniform"),
            TimeGrid::LogSnr => f.write_str("logsnr"),
            TimeGrid::Karras { rho } => write!(f, "karras:{rho}"),
        }
    }
}

impl FromStr for TimeGrid {
    type Err = Error;

    /// `uniform`, `logsnr`, `karras` (ρ = 7) or `karras:RHO`.
    fn from_str(s: &str) -> Result<Self> {
        let bad = || Error::InvalidOption {
            name: "time grid",
            value: s.to_string(),
            reason: "expected one of uniform, logsnr, karras, karras:RHO",
        };
        match s.split_once(':') {
            None => match s {
                "uniform" => Ok(TimeGrid::Uniform),
                "logsnr" => Ok(TimeGrid::LogSnr),
                "karras" => Ok(TimeGrid::Karras { rho: 7.0 }),
                _ => Err(bad()),
            },
            Some(("karras", rho)) => rho
                .parse()
                .ok()
                .filter(|r: &f64| *r > 0.0 && r.is_finite())
                .map(|rho| TimeGrid::Karras { rho })
                .ok_or_else(bad),
            Some(_) => Err(bad()),
        }
    }
}

/// Options of a grid of levels; build with [`Discretization::new`] and the setters, evaluate with
/// [`Discretization::levels`].
#[derive(Debug, Clone, PartialEq)]
pub struct Discretization {
    steps: usize,
    grid: TimeGrid,
    interval: Option<(f64, f64)>,
    denoise_final: bool,
}

impl Discretization {
    /// `steps ≥ 1` steps spaced uniformly in λ over the schedule's sampling interval, the last one
    /// to σ = 0.
    pub fn new(steps: usize) -> Self {
        Self {
            steps,
            grid: TimeGrid::LogSnr,
            interval: None,
            denoise_final: true,
        }
    }

    /// The spacing (default [`TimeGrid::LogSnr`]).
    pub fn grid(mut self, grid: TimeGrid) -> Self {
        self.grid = grid;
        self
    }

    /// The first and last time with σ > 0 (default [`Schedule::sampling_interval`]).
    pub fn interval(mut self, start: f64, end: f64) -> Self {
        self.interval = Some((start, end));
        self
    }

    /// Whether the last step goes to σ = 0 (default true): then `steps` steps visit `steps` levels
    /// from start to end and the last goes to σ = 0; otherwise they visit `steps + 1` levels from
    /// start to end.
    pub fn denoise_final(mut self, denoise_final: bool) -> Self {
        self.denoise_final = denoise_final;
        self
    }

    /// The number of steps.
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// The levels of `schedule`, in the order of sampling (noise to data): `steps + 1` of them.
    ///
    /// Errors: [`Error::InvalidOption`] for zero steps, an interval outside [0, 1] or not
    /// increasing, or a grid that needs λ (logsnr, karras) where λ is not finite.
    pub fn levels(&self, schedule: &dyn Schedule) -> Result<Vec<Level>> {
        ensure(self.steps >= 1, "steps", 0.0, "at least one step is needed")?;
        let (start, end) = self
            .interval
            .unwrap_or_else(|| schedule.sampling_interval());
        ensure(
            (0.0..=1.0).contains(&start) && start.is_finite(),
            "t_start",
            start,
            "the first time must lie in [0, 1]",
        )?;
        ensure(
            end > start && end <= 1.0,
            "t_end",
            end,
            "the last time must lie in (t_start, 1]",
        )?;
        let points = if self.denoise_final {
            self.steps
        } else {
            self.steps + 1
        };
        let (lambda_start, lambda_end) = (schedule.log_snr(start), schedule.log_snr(end));
        if self.grid != TimeGrid::Uniform {
            ensure(
                lambda_start.is_finite() && lambda_end.is_finite(),
                "t_start",
                start,
                "a logsnr or karras grid needs finite log(α/σ) at both ends of the interval",
            )?;
        }
        let fraction = |i: usize| {
            if points == 1 {
                0.0
            } else {
                i as f64 / (points - 1) as f64
            }
        };
        let mut levels: Vec<Level> = (0..points)
            .map(|i| {
                let u = fraction(i);
                let t = match self.grid {
                    _ if i == 0 => start,
                    _ if i == points - 1 => end,
                    TimeGrid::Uniform => start + u * (end - start),
                    TimeGrid::LogSnr => {
                        schedule.time_of_log_snr(lambda_start + u * (lambda_end - lambda_start))
                    }
                    TimeGrid::Karras { rho } => {
                        // σ/α = e^{−λ}; (σ/α)^{1/ρ} = e^{−λ/ρ} is interpolated linearly.
                        let (a, b) = ((-lambda_start / rho).exp(), (-lambda_end / rho).exp());
                        schedule.time_of_log_snr(-rho * (a + u * (b - a)).ln())
                    }
                };
                Level::at(schedule, t)
            })
            .collect();
        if self.denoise_final {
            levels.push(Level::data(end));
        }
        Ok(levels)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::path::{Edm, ScheduleKind, VpLinear};

    #[test]
    fn grids_are_uniform_in_their_variable() {
        // Truth: the defining spacing — consecutive differences of t, λ or (σ/α)^{1/ρ} are equal
        // (to round-off of the closed-form inverses, 1e-9), the ends are the sampling interval,
        // and the final level is σ = 0.
        for kind in ScheduleKind::ALL {
            let s = kind.build();
            let (start, end) = s.sampling_interval();
            for grid in [
                TimeGrid::Uniform,
                TimeGrid::LogSnr,
                TimeGrid::Karras { rho: 7.0 },
            ] {
                let levels = Discretization::new(10)
                    .grid(grid)
                    .levels(s.as_ref())
                    .unwrap();
                assert_eq!(levels.len(), 11);
                assert_eq!((levels[0].t, levels[9].t), (start, end));
                assert_eq!(levels[10].sigma, 0.0);
                let coordinate = |l: &Level| match grid {
                    TimeGrid::Uniform => l.t,
                    TimeGrid::LogSnr => l.log_snr(),
                    TimeGrid::Karras { rho } => l.sigma_edm().powf(1.0 / rho),
                };
                let first = coordinate(&levels[1]) - coordinate(&levels[0]);
                for pair in levels[..10].windows(2) {
                    let step = coordinate(&pair[1]) - coordinate(&pair[0]);
                    assert!(
                        (step - first).abs() < 1e-9 * first.abs().max(1.0),
                        "{kind} {grid}: {step} vs {first}"
                    );
                }
            }
        }
    }

    #[test]
    fn karras_grid_on_edm_is_the_uniform_grid() {
        // Truth: the EDM schedule is defined so that uniform t gives Karras' σ grid (ρ = 7).
        let edm = Edm::default();
        let uniform = Discretization::new(18)
            .grid(TimeGrid::Uniform)
            .levels(&edm)
            .unwrap();
        let karras = Discretization::new(18)
            .grid(TimeGrid::Karras { rho: 7.0 })
            .levels(&edm)
            .unwrap();
        for (u, k) in uniform.iter().zip(&karras) {
            assert!((u.sigma - k.sigma).abs() < 1e-10 * u.sigma.max(1e-3));
        }
    }

    #[test]
    fn bad_options_are_named() {
        let vp = VpLinear::default();
        let name = |d: Discretization| match d.levels(&vp).unwrap_err() {
            Error::InvalidOption { name, .. } => name,
            other => panic!("{other:?}"),
        };
        assert_eq!(name(Discretization::new(0)), "steps");
        assert_eq!(name(Discretization::new(5).interval(0.5, 0.2)), "t_end");
        assert_eq!(name(Discretization::new(5).interval(0.0, 1.0)), "t_start");
        assert!("karras:0".parse::<TimeGrid>().is_err());
        assert_eq!(
            "karras:5".parse::<TimeGrid>().unwrap(),
            TimeGrid::Karras { rho: 5.0 }
        );
    }
}
