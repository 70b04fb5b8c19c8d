//! `otto sample --levels` and `--x0`, the inputs bench/peers/ uses to run otto on another
//! implementation's noise levels and start points: the same levels reproduce the default run bit
//! for bit, the start points are used as they are, and bad level files fail with one line.

mod common;

use std::path::{Path, PathBuf};

use common::{json_of, otto, s, stderr_of, train, write_npy};
use otto::field::Denoiser;
use otto::path::Level;
use otto::sampler::{Ddim, Discretization, Method, OdeSolver, TimeGrid};
use otto::train::{RunDir, TrainedRun};
use otto_ot::Matrix;

fn train_ddpm(dir: &Path) -> PathBuf {
    let args = [
        "--method", "ddpm", "--target", "moons", "--steps", "300", "--batch", "256",
    ];
    train(&dir.join("ddpm"), &args)
}

fn read_bytes(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

fn read_matrix(path: &Path) -> Matrix {
    let bytes = read_bytes(path);
    let npy = npyz::NpyFile::new(&bytes[..]).unwrap();
    let shape = npy.shape().to_vec();
    Matrix::new(
        shape[0] as usize,
        shape[1] as usize,
        npy.into_vec().unwrap(),
    )
    .unwrap()
}

fn levels_rows(levels: &[Level]) -> Vec<f64> {
    levels
        .iter()
        .flat_map(|l| [l.t, l.alpha, l.sigma])
        .collect()
}

#[test]
fn levels_equal_to_the_grid_reproduce_the_default_run_bit_for_bit() {
    // Truth: the grid otto builds itself (the library's Discretization with the CLI's default
    // grid for each sampler) written to a file and read back is the same f64 values, so the
    // samples must be byte-identical to the run without --levels.
    let dir = tempfile::tempdir().unwrap();
    let run = train_ddpm(dir.path());
    let trained = TrainedRun::load(&RunDir::open(&run).unwrap(), false).unwrap();
    let denoiser = trained.field.with_denoiser().unwrap();
    for (solver, grid) in [
        ("ddim", TimeGrid::LogSnr),
        ("dpmpp-2m", TimeGrid::LogSnr),
        ("edm-heun", TimeGrid::Karras { rho: 7.0 }),
    ] {
        let levels = Discretization::new(12)
            .grid(grid)
            .levels(denoiser.schedule())
            .unwrap();
        let file = write_npy(
            dir.path(),
            &format!("{solver}-levels.npy"),
            &[levels.len() as u64, 3],
            &levels_rows(&levels),
        );
        let sample = |extra: &[&str], out: &Path| {
            let base = [
                "sample",
                "--run",
                s(&run),
                "--solver",
                solver,
                "--n",
                "300",
                "--seed",
                "5",
                "--json",
                "--out",
                s(out),
            ];
            json_of(&otto(&[&base[..], extra].concat()))
        };
        let default = dir.path().join(format!("{solver}-default.npy"));
        let given = dir.path().join(format!("{solver}-levels-out.npy"));
        let a = sample(&["--steps", "12"], &default);
        let b = sample(&["--levels", s(&file)], &given);
        assert_eq!(a["nfe"], b["nfe"], "{solver}");
        assert_eq!(read_bytes(&default), read_bytes(&given), "{solver}");
    }
}

#[test]
fn start_points_are_used_as_they_are() {
    // Truth: the library's own samplers called on the same start points and levels (DDIM(η = 0)
    // on an uneven hand-made grid; Euler over the run's interval for an ODE solver) give the same f64 values
    // bit for bit: the CLI must neither rescale nor redraw --x0.
    let dir = tempfile::tempdir().unwrap();
    let run = train_ddpm(dir.path());
    let trained = TrainedRun::load(&RunDir::open(&run).unwrap(), false).unwrap();
    let denoiser = trained.field.with_denoiser().unwrap();
    let points: Vec<f64> = (0..40)
        .map(|i| ((i * 37 % 23) as f64 - 11.0) / 7.0)
        .collect();
    let x0 = write_npy(dir.path(), "x0.npy", &[20, 2], &points);
    let start = Matrix::new(20, 2, points).unwrap();
    let schedule = denoiser.schedule();
    let mut levels: Vec<Level> = [0.0, 0.2, 0.45, 0.8, 0.97]
        .iter()
        .map(|&t| Level::at(schedule, t))
        .collect();
    levels.push(Level::data(0.97));
    let file = write_npy(dir.path(), "levels.npy", &[6, 3], &levels_rows(&levels));
    let out = dir.path().join("ddim.npy");
    let v = json_of(&otto(&[
        "sample",
        "--run",
        s(&run),
        "--solver",
        "ddim",
        "--x0",
        s(&x0),
        "--levels",
        s(&file),
        "--out",
        s(&out),
        "--json",
    ]));
    assert_eq!((v["n"].as_u64(), v["nfe"].as_u64()), (Some(20), Some(5)));
    let expected = Ddim::new(0.0).solve(&denoiser, &start, &levels).unwrap();
    assert_eq!(read_matrix(&out), expected.x);

    let out = dir.path().join("euler.npy");
    json_of(&otto(&[
        "sample",
        "--run",
        s(&run),
        "--solver",
        "euler",
        "--steps",
        "7",
        "--x0",
        s(&x0),
        "--out",
        s(&out),
        "--json",
    ]));
    let (t0, t1) = trained.interval();
    let expected = OdeSolver::new(Method::Euler)
        .steps(7)
        .solve(&trained.field, &start, t0, t1)
        .unwrap();
    assert_eq!(read_matrix(&out), expected.x);
}

#[test]
fn bad_level_files_fail_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let run = train_ddpm(dir.path());
    let sample = |solver: &str, extra: &[&str]| {
        let base = ["sample", "--run", s(&run), "--solver", solver];
        stderr_of(&otto(&[&base[..], extra].concat()))
    };
    let file = |name: &str, shape: &[u64], rows: &[f64]| write_npy(dir.path(), name, shape, rows);
    let good = [0.0, 0.006, 1.0, 0.5, 0.6, 0.8, 0.99, 1.0, 0.0];
    let cases: Vec<(PathBuf, &str)> = vec![
        (
            file("two-cols.npy", &[3, 2], &good[..6]),
            "got shape [3, 2]",
        ),
        (file("one-row.npy", &[1, 3], &good[..3]), "K ≥ 1 steps"),
        (
            file(
                "nan.npy",
                &[3, 3],
                &[0.0, f64::NAN, 1.0, 0.5, 0.6, 0.8, 0.99, 1.0, 0.0],
            ),
            "non-finite",
        ),
        (
            file(
                "alpha.npy",
                &[3, 3],
                &[0.0, 0.0, 1.0, 0.5, 0.6, 0.8, 0.99, 1.0, 0.0],
            ),
            "at index 0",
        ),
        (
            file(
                "order.npy",
                &[3, 3],
                &[0.5, 0.6, 0.8, 0.0, 0.006, 1.0, 0.99, 1.0, 0.0],
            ),
            "must increase",
        ),
        (
            file(
                "zero.npy",
                &[3, 3],
                &[0.0, 0.006, 1.0, 0.99, 1.0, 0.0, 1.0, 1.0, 0.0],
            ),
            "σ = 0 only on the last",
        ),
    ];
    for (path, expected) in &cases {
        let err = sample("dpmpp-2m", &["--n", "10", "--levels", s(path)]);
        assert!(err.contains(expected), "{}: {err}", path.display());
        assert!(
            err.contains(path.file_name().unwrap().to_str().unwrap()),
            "{err}"
        );
    }
    let ok = file("ok.npy", &[3, 3], &good);
    let err = sample("euler", &["--levels", s(&ok)]);
    assert!(err.contains("diffusion samplers"), "{err}");
    let err = sample("ddim", &["--levels", s(&ok), "--grid", "uniform"]);
    assert!(err.contains("cannot be used with"), "{err}");
    let wide = file("wide.npy", &[2, 3], &good[..6]);
    let err = sample("ddim", &["--x0", s(&wide)]);
    assert!(err.contains("3 columns"), "{err}");
}
