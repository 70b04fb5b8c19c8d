//! Butcher tableaux of the explicit Runge–Kutta methods in [`super::ode`] (Hairer, Nørsett &
//! Wanner, *Solving ODEs I*, §II.1 and Table II.5.2).

/// A Butcher tableau: stage i is evaluated at `t + c_i h`, `x + h Σ_j a_ij k_j`; the step is
/// `x + h Σ_i b_i k_i`, and `h Σ_i e_i k_i` estimates its local error (adaptive methods only).
pub(super) struct Tableau {
    pub(super) c: &'static [f64],
    pub(super) a: &'static [&'static [f64]],
    pub(super) b: &'static [f64],
    pub(super) e: &'static [f64],
}

pub(super) const EULER: Tableau = Tableau {
    c: &[0.0],
    a: &[&[]],
    b: &[1.0],
    e: &[],
};

pub(super) const MIDPOINT: Tableau = Tableau {
    c: &[0.0, 0.5],
    a: &[&[], &[0.5]],
    b: &[0.0, 1.0],
    e: &[],
};

pub(super) const HEUN: Tableau = Tableau {
    c: &[0.0, 1.0],
    a: &[&[], &[1.0]],
    b: &[0.5, 0.5],
    e: &[],
};

pub(super) const RK4: Tableau = Tableau {
    c: &[0.0, 0.5, 0.5, 1.0],
    a: &[&[], &[0.5], &[0.0, 0.5], &[0.0, 0.0, 1.0]],
    b: &[1.0 / 6.0, 1.0 / 3.0, 1.0 / 3.0, 1.0 / 6.0],
    e: &[],
};

/// The fifth-order weights b of Dopri5, also its last stage row (FSAL).
const DOPRI5_WEIGHTS: [f64; 7] = [
    35.0 / 384.0,
    0.0,
    500.0 / 1113.0,
    125.0 / 192.0,
    -2187.0 / 6784.0,
    11.0 / 84.0,
    0.0,
];

/// Dormand & Prince (1980), Table 2 (Hairer et al., Table II.5.2); the seventh stage is evaluated
/// at the new point (a_7j = b_j), so it is the next step's first stage (FSAL). `e = b − b̂` with
/// b̂ the embedded fourth-order weights.
pub(super) const DOPRI5: Tableau = Tableau {
    c: &[0.0, 0.2, 0.3, 0.8, 8.0 / 9.0, 1.0, 1.0],
    a: &[
        &[],
        &[0.2],
        &[3.0 / 40.0, 9.0 / 40.0],
        &[44.0 / 45.0, -56.0 / 15.0, 32.0 / 9.0],
        &[
            19372.0 / 6561.0,
            -25360.0 / 2187.0,
            64448.0 / 6561.0,
            -212.0 / 729.0,
        ],
        &[
            9017.0 / 3168.0,
            -355.0 / 33.0,
            46732.0 / 5247.0,
            49.0 / 176.0,
            -5103.0 / 18656.0,
        ],
        DOPRI5_WEIGHTS.split_at(6).0,
    ],
    b: &DOPRI5_WEIGHTS,
    e: &[
        71.0 / 57600.0,
        0.0,
        -71.0 / 16695.0,
        71.0 / 1920.0,
        -17253.0 / 339200.0,
        22.0 / 525.0,
        -1.0 / 40.0,
    ],
};
