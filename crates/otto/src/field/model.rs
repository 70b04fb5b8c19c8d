//! A trained network as a field: the network's output is read through its parameterization
//! (velocity, score, noise or data) and converted to the velocity a sampler integrates — or, on an
//! affine Gaussian path, to the score an SDE sampler needs ([`crate::path::Parameterization`]).

use std::sync::Mutex;

use otto_ot::Matrix;

use super::{Denoiser, Divergence, ScoreField, VectorField};
use crate::network::{Mlp, NetworkError, Workspace};
use crate::path::{
    Conversion, EdmPreconditioning, Level, Parameterization, Schedule, SchedulePoint,
};
use crate::sampler::row_blocks::in_row_block;

/// A trained [`Mlp`] with what its output means.
pub struct NetworkField {
    mlp: Mlp,
    parameterization: Parameterization,
    schedule: Option<Box<dyn Schedule>>,
    preconditioning: Option<EdmPreconditioning>,
    /// SF2M's score network s_θ ≈ (σ²/2)∇log p_t and the bridge's σ.
    score_network: Option<(Box<NetworkField>, f64)>,
    /// One scratch per thread that may evaluate the field at once (indexed by rayon's thread
    /// index), so that row blocks solved in parallel do not wait on each other.
    scratch: Vec<Mutex<Box<Scratch>>>,
}

/// The engine's workspace and the `f32` buffers one pass reads and writes, kept from call to call
/// so that a sampler's steps reuse the same memory instead of allocating (and faulting in) fresh
/// pages for every network evaluation.
#[derive(Default)]
struct Scratch {
    workspace: Option<Workspace>,
    t: Vec<f32>,
    x: Vec<f32>,
    out: Vec<f32>,
}

/// How the network is fed and read at one time: its time input, the scale of its point input,
/// and the affine map from (x, its output) to the requested quantity.
struct Reading {
    time: f64,
    input_scale: f64,
    conversion: Conversion,
}

/// Why a network cannot be used as a field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    /// Only velocity outputs can be integrated without the schedule of an affine Gaussian path.
    #[error("a network predicting {0} needs the schedule of its affine path to give a velocity")]
    NeedsSchedule(&'static str),
    /// The network's input and output dimensions differ.
    #[error("the network maps dimension {input} to {output}; a field needs them equal")]
    Dimensions { input: usize, output: usize },
}

impl NetworkField {
    /// Wraps `mlp`, whose output is `parameterization` on a path with `schedule` (`None` for
    /// torchcfm's interpolants, which only velocity networks use).
    pub fn new(
        mlp: Mlp,
        parameterization: Parameterization,
        schedule: Option<Box<dyn Schedule>>,
    ) -> Result<Self, FieldError> {
        let c = mlp.config();
        if c.input_dim != c.output_dim {
            return Err(FieldError::Dimensions {
                input: c.input_dim,
                output: c.output_dim,
            });
        }
        if schedule.is_none() && parameterization != Parameterization::Velocity {
            return Err(FieldError::NeedsSchedule(parameterization.name()));
        }
        Ok(Self {
            mlp,
            parameterization,
            schedule,
            preconditioning: None,
            score_network: None,
            scratch: scratch_slots(),
        })
    }

    /// SF2M's two networks (Tong et al. 2024, "Simulation-free Schrödinger bridges via score and
    /// flow matching"; torchcfm's SF2M example): `flow` gives the velocity v(t, x) and `score`
    /// gives s_θ(t, x) ≈ (σ²/2)∇log p_t (trained with the loss ‖λ(t)s_θ + ε‖², λ(t) = 2σ_t/σ²),
    /// so the score of the marginals is `∇log p_t = (2/σ²) s_θ`.
    pub fn with_score_network(flow: Mlp, score: Mlp, sigma: f64) -> Result<Self, FieldError> {
        let (f, s) = (flow.config(), score.config());
        if (f.input_dim, f.output_dim) != (s.input_dim, s.output_dim) {
            return Err(FieldError::Dimensions {
                input: s.input_dim,
                output: s.output_dim,
            });
        }
        let mut field = Self::new(flow, Parameterization::Velocity, None)?;
        let score = Self::new(score, Parameterization::Velocity, None)?;
        field.score_network = Some((Box::new(score), sigma));
        Ok(field)
    }

    /// Reads the network as EDM's preconditioned F (Karras et al. 2022, eq. 7; see
    /// [`EdmPreconditioning`]): at a level with α, σ the network sees `c_in(σ̃) x/α` at time
    /// `c_noise(σ̃)`, σ̃ = σ/α, and `x̂1 = c_skip(σ̃) x/α + c_out(σ̃) F`. Needs a schedule.
    pub fn with_preconditioning(
        mut self,
        preconditioning: EdmPreconditioning,
    ) -> Result<Self, FieldError> {
        if self.schedule.is_none() {
            return Err(FieldError::NeedsSchedule("data (EDM-preconditioned)"));
        }
        self.parameterization = Parameterization::Data;
        self.preconditioning = Some(preconditioning);
        Ok(self)
    }

    /// The network.
    pub fn mlp(&self) -> &Mlp {
        &self.mlp
    }

    /// The field with its score, when the path is affine Gaussian (a schedule is known) or SF2M's
    /// score network is attached.
    pub fn with_score(&self) -> Option<&dyn ScoreField> {
        (self.schedule.is_some() || self.score_network.is_some()).then_some(self as &dyn ScoreField)
    }

    /// The field as a denoiser, when the path is affine Gaussian (a schedule is known).
    pub fn with_denoiser(&self) -> Option<NetworkDenoiser<'_>> {
        self.schedule.as_deref().map(|schedule| NetworkDenoiser {
            field: self,
            schedule,
        })
    }

    /// The network's output at time t for every row of x, converted to `to` at the schedule's
    /// values at t, or at `level`'s α and σ when given.
    fn evaluate(
        &self,
        t: f64,
        level: Option<&Level>,
        x: &Matrix,
        to: Parameterization,
        out: &mut Matrix,
    ) {
        match self.reading(t, level, to) {
            Some(r) => self.run(
                r.time,
                r.input_scale,
                x,
                self.mlp.config().output_dim,
                |mlp, ts, xs, raw, ws| mlp.forward(ts, xs, raw, ws),
                |raw| converted(r.conversion, x, raw, out),
            ),
            // Without a schedule only the identity conversion exists; any other request is a
            // misuse that must not pass for a result.
            None => out.as_mut_slice().fill(f64::NAN),
        }
    }

    /// How to feed and read the network for `to` at time t (at `level`'s α and σ when given);
    /// `None` when that needs a schedule this field lacks.
    fn reading(&self, t: f64, level: Option<&Level>, to: Parameterization) -> Option<Reading> {
        let Some(s) = &self.schedule else {
            return (to == self.parameterization).then_some(Reading {
                time: t,
                input_scale: 1.0,
                conversion: Conversion {
                    xt: 0.0,
                    value: 1.0,
                },
            });
        };
        let point = match level {
            Some(level) => SchedulePoint::at_level(s.as_ref(), level),
            None => SchedulePoint::at(s.as_ref(), t),
        };
        let c = self.parameterization.conversion_at(to, &point);
        Some(match &self.preconditioning {
            None => Reading {
                time: t,
                input_scale: 1.0,
                conversion: c,
            },
            // x̂1 = (c_skip/α) x + c_out F, then `to` = c.xt x + c.value x̂1.
            Some(p) => {
                let sigma = point.sigma / point.alpha;
                Reading {
                    time: p.c_noise(sigma),
                    input_scale: p.c_in(sigma) / point.alpha,
                    conversion: Conversion {
                        xt: c.xt + c.value * p.c_skip(sigma) / point.alpha,
                        value: c.value * p.c_out(sigma),
                    },
                }
            }
        })
    }

    /// Runs one pass of the network, `pass(mlp, t, x, out, workspace)` on `f32` copies of
    /// `scale · x` with the same time t for every row and `cols` outputs per row, and hands the
    /// n × cols outputs to `finish`.
    fn run<R>(
        &self,
        t: f64,
        scale: f64,
        x: &Matrix,
        cols: usize,
        pass: impl FnOnce(&Mlp, &[f32], &[f32], &mut [f32], &mut Workspace) -> Result<(), NetworkError>,
        finish: impl FnOnce(&[f32]) -> R,
    ) -> R {
        let n = x.rows();
        let slot = rayon::current_thread_index().unwrap_or(0) % self.scratch.len();
        let mut guard = self.scratch[slot].lock().unwrap_or_else(|e| e.into_inner());
        let Scratch {
            workspace,
            t: ts,
            x: xs,
            out,
        } = &mut **guard;
        // Inside a row block of a row-parallel solve the pass stays on this thread.
        let threads = if in_row_block() {
            1
        } else {
            rayon::current_num_threads()
        };
        let ws = match workspace {
            Some(ws) if ws.capacity() >= n && ws.threads() == threads => ws,
            _ => workspace.insert(Workspace::with_threads(&self.mlp, n, threads)),
        };
        ts.clear();
        ts.resize(n, t as f32);
        xs.clear();
        xs.extend(x.as_slice().iter().map(|&v| (scale * v) as f32));
        out.resize(n * cols, 0.0);
        pass(&self.mlp, ts, xs, out, ws)
            .expect("the buffers are sized from the network's own configuration");
        finish(out)
    }

    /// The velocity and a divergence from one engine `pass` writing rows `[F, div F]` (F the
    /// network at t', s x): with the velocity `u = c.xt · x + c.value · F`,
    /// `div u = c.xt · identity(i) + c.value · s · div F`, where `identity(i)` is the estimator's
    /// divergence of the identity map at row i (d exactly; the mean |z|² of Hutchinson's probes).
    fn fused_divergence(
        &self,
        t: f64,
        x: &Matrix,
        out: &mut Matrix,
        divergence: &mut [f64],
        identity: impl Fn(usize) -> f64,
        pass: impl FnOnce(&Mlp, &[f32], &[f32], &mut [f32], &mut Workspace) -> Result<(), NetworkError>,
    ) {
        let Some(r) = self.reading(t, None, Parameterization::Velocity) else {
            out.as_mut_slice().fill(f64::NAN);
            divergence.fill(f64::NAN);
            return;
        };
        let od = self.mlp.config().output_dim;
        let c = r.conversion;
        self.run(r.time, r.input_scale, x, od + 1, pass, |packed| {
            let d = x.cols();
            let points = x.as_slice().chunks_exact(d);
            let velocities = out.as_mut_slice().chunks_exact_mut(d);
            let rows = packed.chunks_exact(od + 1).zip(divergence.iter_mut());
            for (i, (((row, div), x), u)) in rows.zip(points).zip(velocities).enumerate() {
                for ((u, &x), &f) in u.iter_mut().zip(x).zip(row) {
                    *u = c.xt * x + c.value * f64::from(f);
                }
                *div = c.xt * identity(i) + c.value * r.input_scale * f64::from(row[od]);
            }
        })
    }
}

/// One scratch slot per hardware thread.
fn scratch_slots() -> Vec<Mutex<Box<Scratch>>> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    (0..threads).map(|_| Mutex::default()).collect()
}

/// `out = c.xt · x + c.value · net` for the network's `f32` outputs `net` (the shape of `x`).
fn converted(c: Conversion, x: &Matrix, net: &[f32], out: &mut Matrix) {
    let values = out.as_mut_slice().iter_mut().zip(x.as_slice()).zip(net);
    for ((o, &x), &v) in values {
        *o = c.xt * x + c.value * f64::from(v);
    }
}

impl VectorField for NetworkField {
    fn dim(&self) -> usize {
        self.mlp.config().input_dim
    }

    fn velocity(&self, t: f64, x: &Matrix, out: &mut Matrix) {
        self.evaluate(t, None, x, Parameterization::Velocity, out);
    }
}

impl Divergence for NetworkField {
    /// `J u v = c.xt · v + c.value · s · J_net v`: the velocity is the affine [`Conversion`]
    /// `c.xt · x + c.value · net(t', s x)` of the network's output (s the input scale, 1 unless
    /// preconditioned), whose JVP comes from [`Mlp::jvp_input`] (in f32, like the forward pass).
    fn jvp(&self, t: f64, x: &Matrix, v: &Matrix, out: &mut Matrix) {
        match self.reading(t, None, Parameterization::Velocity) {
            Some(r) => {
                let vs: Vec<f32> = v
                    .as_slice()
                    .iter()
                    .map(|&v| (r.input_scale * v) as f32)
                    .collect();
                self.run(
                    r.time,
                    r.input_scale,
                    x,
                    self.mlp.config().output_dim,
                    |mlp, ts, xs, raw, ws| mlp.jvp_input(ts, xs, &vs, raw, ws),
                    |raw| converted(r.conversion, v, raw, out),
                )
            }
            None => out.as_mut_slice().fill(f64::NAN),
        }
    }

    /// One fused engine call ([`Mlp::forward_and_divergence`]): with the velocity
    /// `c.xt · x + c.value · F(t', s x)`, `∇·u = d · c.xt + c.value · s · ∇·F` (s the input
    /// scale, 1 unless preconditioned).
    fn velocity_and_divergence(
        &self,
        t: f64,
        x: &Matrix,
        out: &mut Matrix,
        divergence: &mut [f64],
    ) {
        let d = x.cols() as f64;
        self.fused_divergence(
            t,
            x,
            out,
            divergence,
            |_| d,
            |mlp, ts, xs, packed, ws| mlp.forward_and_divergence(ts, xs, packed, ws),
        )
    }

    /// One fused engine call ([`Mlp::forward_and_hutchinson`]): `zᵀ J_u z = c.xt · |z|² +
    /// c.value · s · zᵀ J_F z`, averaged over the probes.
    fn velocity_and_hutchinson(
        &self,
        t: f64,
        x: &Matrix,
        probes: &[Matrix],
        out: &mut Matrix,
        divergence: &mut [f64],
    ) {
        let zs: Vec<f32> = probes
            .iter()
            .flat_map(|z| z.as_slice())
            .map(|&v| v as f32)
            .collect();
        let weight = 1.0 / probes.len() as f64;
        let squares = |i: usize| -> f64 {
            let square = |z: &Matrix| z.row(i).iter().map(|v| v * v).sum::<f64>();
            weight * probes.iter().map(square).sum::<f64>()
        };
        self.fused_divergence(t, x, out, divergence, squares, |mlp, ts, xs, packed, ws| {
            mlp.forward_and_hutchinson(ts, xs, &zs, packed, ws)
        })
    }
}

impl ScoreField for NetworkField {
    /// The score through the parameterization's conversion, or SF2M's `(2/σ²) s_θ`; only
    /// reachable through [`NetworkField::with_score`], which requires one of them.
    fn score(&self, t: f64, x: &Matrix, out: &mut Matrix) {
        let Some((network, sigma)) = &self.score_network else {
            return self.evaluate(t, None, x, Parameterization::Score, out);
        };
        network.velocity(t, x, out);
        let scale = 2.0 / (sigma * sigma);
        out.as_mut_slice().iter_mut().for_each(|o| *o *= scale);
    }
}

/// A [`NetworkField`] on an affine Gaussian path read as a [`Denoiser`]
/// ([`NetworkField::with_denoiser`]).
pub struct NetworkDenoiser<'a> {
    field: &'a NetworkField,
    schedule: &'a dyn Schedule,
}

impl Denoiser for NetworkDenoiser<'_> {
    fn dim(&self) -> usize {
        self.field.mlp.config().input_dim
    }

    /// The network at the level's time, its output converted to x̂1 with the level's α and σ.
    fn denoise(&self, level: &Level, x: &Matrix, out: &mut Matrix) {
        self.field
            .evaluate(level.t, Some(level), x, Parameterization::Data, out);
    }

    fn schedule(&self) -> &dyn Schedule {
        self.schedule
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::{Activation, MlpConfig};
    use crate::path::VpTrig;

    #[test]
    fn exact_divergence_matches_finite_differences() {
        // Truth: Σ_j (u_j(x + h e_j) − u_j(x − h e_j))/(2h) from the field's own f32 forward pass,
        // h = 3e-3. SiLU keeps u smooth (SELU's kink would spoil differences): truncation
        // h²|∂³u|/6 ≈ 1e-6 for these O(1) untrained networks; the f32 forward has relative
        // round-off ≈ 1e-7, amplified to ≈ 1e-7·|u|/h ≈ 3e-5. Tolerance 1e-3·max(1, |div|).
        // Two fields: a velocity network (J u = J_net), and a noise network on VP-trig, whose
        // conversion to a velocity adds c.xt·I (divergence d·c.xt + c.value·div_net), and an
        // EDM-preconditioned network on VP-trig (input scaled by c_in/α). Measured errors 2e-6 to
        // 1.1e-5.
        let config = MlpConfig::new(2, 2).width(32).activation(Activation::Silu);
        let x = Matrix::from_rows(&[
            vec![0.3, -0.7],
            vec![1.1, 0.4],
            vec![-1.0, 1.5],
            vec![0.0, -2.5],
        ])
        .unwrap();
        let (n, d) = x.shape();
        let fields = [
            NetworkField::new(
                Mlp::new(config, 3).unwrap(),
                Parameterization::Velocity,
                None,
            ),
            NetworkField::new(
                Mlp::new(config, 4).unwrap(),
                Parameterization::Noise,
                Some(Box::new(VpTrig)),
            ),
            NetworkField::new(
                Mlp::new(config, 5).unwrap(),
                Parameterization::Data,
                Some(Box::new(VpTrig)),
            )
            .and_then(|f| f.with_preconditioning(EdmPreconditioning::default())),
        ];
        let h = 3e-3;
        for (f, field) in fields.into_iter().enumerate() {
            let field = field.unwrap();
            for t in [0.2, 0.5, 0.8] {
                let mut div = vec![0.0; n];
                field.divergence(t, &x, &mut div);
                let mut fd = vec![0.0; n];
                for j in 0..d {
                    let shifted = |s: f64| {
                        let mut y = x.clone();
                        (0..n).for_each(|i| y.set(i, j, x.get(i, j) + s));
                        let mut u = Matrix::zeros(n, d);
                        field.velocity(t, &y, &mut u);
                        u
                    };
                    let (up, down) = (shifted(h), shifted(-h));
                    (0..n).for_each(|i| fd[i] += (up.get(i, j) - down.get(i, j)) / (2.0 * h));
                }
                for (a, b) in div.iter().zip(&fd) {
                    assert!(
                        (a - b).abs() < 1e-3 * b.abs().max(1.0),
                        "field {f} t={t}: divergence {a} vs fd {b}"
                    );
                }
                // The fused engine call gives the same velocity and divergence as the velocity
                // pass and the d JVPs (f32 round-off of different summation orders: 1e-5).
                let (mut u, mut fused_u, mut fused) =
                    (Matrix::zeros(n, d), Matrix::zeros(n, d), vec![0.0; n]);
                field.velocity(t, &x, &mut u);
                field.velocity_and_divergence(t, &x, &mut fused_u, &mut fused);
                for (a, b) in fused.iter().zip(&div) {
                    assert!(
                        (a - b).abs() < 1e-5 * b.abs().max(1.0),
                        "field {f}: {a} vs {b}"
                    );
                }
                assert_eq!(fused_u, u, "field {f}: the fused velocity differs");
            }
        }
    }

    #[test]
    fn edm_preconditioned_denoiser_is_eq_7() {
        // Truth: Karras et al. 2022, eq. 7 written out with the network's own forward pass:
        // x̂1 = c_skip(σ̃) x/α + c_out(σ̃) F(c_in(σ̃) x/α; c_noise(σ̃)), σ̃ = σ/α, at a level of
        // the VP-linear schedule (α ≠ 1). f32 network: tolerance 1e-5 relative.
        let config = MlpConfig::new(2, 2).width(16).activation(Activation::Silu);
        let mlp = Mlp::new(config, 9).unwrap();
        let p = EdmPreconditioning::new(0.7).unwrap();
        let schedule = crate::path::VpLinear::default();
        let field = NetworkField::new(
            mlp.clone(),
            Parameterization::Data,
            Some(Box::new(schedule)),
        )
        .unwrap()
        .with_preconditioning(p)
        .unwrap();
        let level = Level::at(&schedule, 0.4);
        let x = Matrix::from_rows(&[vec![0.3, -0.7], vec![1.1, 0.4]]).unwrap();
        let mut out = Matrix::zeros(2, 2);
        field.with_denoiser().unwrap().denoise(&level, &x, &mut out);
        let sigma = level.sigma / level.alpha;
        let scale = p.c_in(sigma) / level.alpha;
        let xs: Vec<f32> = x.as_slice().iter().map(|v| (scale * v) as f32).collect();
        let mut f = vec![0.0f32; 4];
        let mut ws = Workspace::new(&mlp, 2);
        mlp.forward(&[p.c_noise(sigma) as f32; 2], &xs, &mut f, &mut ws)
            .unwrap();
        for ((o, xk), fk) in out.as_slice().iter().zip(x.as_slice()).zip(&f) {
            let expected = p.c_skip(sigma) * xk / level.alpha + p.c_out(sigma) * *fk as f64;
            assert!((o - expected).abs() < 1e-5 * expected.abs().max(1.0));
        }
        let interpolant_only = NetworkField::new(mlp, Parameterization::Velocity, None).unwrap();
        assert!(interpolant_only.with_preconditioning(p).is_err());
    }

    #[test]
    fn the_sf2m_score_is_the_score_network_times_two_over_sigma_squared() {
        // Truth: the definition of SF2M's read-out — velocity = the flow network's output, score
        // = (2/σ²) × the score network's output — against the networks' own forward passes.
        let config = MlpConfig::new(2, 2).width(12).activation(Activation::Silu);
        let (flow, score) = (Mlp::new(config, 21).unwrap(), Mlp::new(config, 22).unwrap());
        let sigma = 0.6;
        let field = NetworkField::with_score_network(flow.clone(), score.clone(), sigma).unwrap();
        let x = Matrix::from_rows(&[vec![0.3, -0.7], vec![1.1, 0.4], vec![-1.0, 1.5]]).unwrap();
        let t = 0.3;
        let xs: Vec<f32> = x.as_slice().iter().map(|&v| v as f32).collect();
        let (mut raw_v, mut raw_s) = (vec![0.0f32; 6], vec![0.0f32; 6]);
        flow.forward(
            &[t as f32; 3],
            &xs,
            &mut raw_v,
            &mut Workspace::new(&flow, 3),
        )
        .unwrap();
        score
            .forward(
                &[t as f32; 3],
                &xs,
                &mut raw_s,
                &mut Workspace::new(&score, 3),
            )
            .unwrap();
        let (mut v, mut s) = (Matrix::zeros(3, 2), Matrix::zeros(3, 2));
        field.velocity(t, &x, &mut v);
        field.with_score().unwrap().score(t, &x, &mut s);
        for k in 0..6 {
            assert_eq!(v.as_slice()[k], raw_v[k] as f64);
            let want = 2.0 / (sigma * sigma) * raw_s[k] as f64;
            assert!((s.as_slice()[k] - want).abs() < 1e-12 * want.abs().max(1.0));
        }
        let wide = Mlp::new(MlpConfig::new(2, 2).width(12), 1).unwrap();
        let three = Mlp::new(MlpConfig::new(3, 3), 1).unwrap();
        assert!(NetworkField::with_score_network(wide, three, sigma).is_err());
        assert!(NetworkField::new(flow, Parameterization::Velocity, None)
            .unwrap()
            .with_score()
            .is_none());
    }
}
