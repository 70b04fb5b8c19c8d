//! Where a solve runs: on otto's own rayon pool, off the GIL, interruptible, panic-proof and safe
//! after `fork`.
//!
//! - **Fork.** A process forked from one whose pool has started (e.g. a torch DataLoader worker)
//!   inherits the pool's bookkeeping but not its threads; using it would wait forever. The pool is
//!   therefore tagged with the id of the process that built it and rebuilt on first use in a new
//!   process (the stale one is leaked: its threads do not exist there).
//! - **Ctrl-C.** The caller's thread waits for the job in slices of [`POLL`], releasing the GIL,
//!   and checks Python's signal handlers between slices; on KeyboardInterrupt the job's cancel
//!   flag is raised and the exception returns to Python at once. Solvers that poll the flag
//!   (Sinkhorn at its next iteration, the network simplex at its next pivot) stop; the others
//!   (1-D, sliced, Gaussian closed forms: short) finish in the background, their result dropped.
//! - **Panics** are caught in the job and become [`InternalError`], never an unwind into Python.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pyo3::prelude::*;
use rayon::{ThreadPool, ThreadPoolBuilder};

use crate::errors::{InputError, InternalError};

/// How often a waiting caller looks for Ctrl-C.
const POLL: Duration = Duration::from_millis(50);

struct Pool {
    pid: u32,
    threads: usize,
    pool: Arc<ThreadPool>,
}

static POOL: Mutex<Option<Pool>> = Mutex::new(None);
/// Threads requested by `set_num_threads` (0: rayon's default, the number of CPUs).
static REQUESTED: Mutex<usize> = Mutex::new(0);

fn build(threads: usize) -> PyResult<Pool> {
    let pool = ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("otto-{i}"))
        .build()
        .map_err(|e| InternalError::new_err(format!("could not start otto's thread pool: {e}")))?;
    Ok(Pool {
        pid: std::process::id(),
        threads: pool.current_num_threads(),
        pool: Arc::new(pool),
    })
}

/// The pool of this process, built on first use (again after a fork).
fn pool() -> PyResult<Arc<ThreadPool>> {
    let mut slot = POOL.lock().unwrap_or_else(|e| e.into_inner());
    let pid = std::process::id();
    match slot.as_ref() {
        Some(p) if p.pid == pid => Ok(p.pool.clone()),
        _ => {
            if let Some(stale) = slot.take() {
                if stale.pid != pid {
                    // Built by the parent: its threads are not in this process.
                    std::mem::forget(stale);
                }
            }
            let requested = *REQUESTED.lock().unwrap_or_else(|e| e.into_inner());
            let p = build(requested)?;
            let handle = p.pool.clone();
            *slot = Some(p);
            Ok(handle)
        }
    }
}

/// Sets the number of threads otto's solvers use (`n ≥ 1`); takes effect on the next call.
#[pyfunction]
pub fn set_num_threads(n: usize) -> PyResult<()> {
    if n == 0 {
        return Err(InputError::new_err("n must be at least 1"));
    }
    *REQUESTED.lock().unwrap_or_else(|e| e.into_inner()) = n;
    let mut slot = POOL.lock().unwrap_or_else(|e| e.into_inner());
    if slot
        .as_ref()
        .is_some_and(|p| p.threads != n || p.pid != std::process::id())
    {
        // Leak rather than join: a job of an interrupted call may still be running on it.
        if let Some(old) = slot.take() {
            std::mem::forget(old);
        }
    }
    Ok(())
}

/// The number of threads otto's solvers use.
#[pyfunction]
pub fn get_num_threads() -> PyResult<usize> {
    Ok(pool()?.current_num_threads())
}

/// A cancel flag a job may poll; raised when the caller is interrupted.
pub type Cancel = Arc<AtomicBool>;

/// Runs `job` on otto's pool with the GIL released and returns its result; Ctrl-C returns
/// KeyboardInterrupt within [`POLL`] (raising the job's cancel flag), a panic becomes
/// [`InternalError`].
pub fn run<T, F>(py: Python<'_>, job: F) -> PyResult<T>
where
    T: Send + 'static,
    F: FnOnce(&Cancel) -> PyResult<T> + Send + 'static,
{
    let pool = pool()?;
    let cancel: Cancel = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel();
    let flag = cancel.clone();
    pool.spawn(move || {
        let result = catch_unwind(AssertUnwindSafe(|| job(&flag)));
        // The receiver is gone if the caller was interrupted: nothing to report.
        let _ = tx.send(result);
    });
    let mut rx = rx;
    loop {
        let (received, back) = py.detach(move || (rx.recv_timeout(POLL), rx));
        rx = back;
        match received {
            Ok(Ok(result)) => return result,
            Ok(Err(payload)) => return Err(panic_error(payload)),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if let Err(interrupt) = py.check_signals() {
                    cancel.store(true, Ordering::Relaxed);
                    return Err(interrupt);
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(InternalError::new_err(
                    "otto's worker stopped without a result",
                ))
            }
        }
    }
}

/// Runs `job` on the calling thread with the GIL released, a panic becoming [`InternalError`]:
/// for jobs that take a few milliseconds at most and start no threads, where handing the job to
/// otto's pool would cost more than it saves (a wake-up on another core, whose caches hold none
/// of the inputs; measured 1.2 ms of a 5 ms exact solve between PyTorch steps). Nothing polls
/// Ctrl-C meanwhile, hence the bound on the job's length.
pub fn run_here<T, F>(py: Python<'_>, job: F) -> PyResult<T>
where
    T: Send,
    F: FnOnce() -> PyResult<T> + Send,
{
    py.detach(|| catch_unwind(AssertUnwindSafe(job)))
        .unwrap_or_else(|payload| Err(panic_error(payload)))
}

/// The Python exception for a caught panic.
fn panic_error(payload: Box<dyn std::any::Any + Send>) -> PyErr {
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    InternalError::new_err(format!(
        "otto panicked (a bug, please report it): {message}"
    ))
}

/// Panics inside a job — on otto's pool, or with `here` on the calling thread ([`run_here`]) — to
/// test that a panic reaches Python as [`InternalError`] (private API).
#[pyfunction]
#[pyo3(signature = (here = false))]
pub fn _panic_in_worker(py: Python<'_>, here: bool) -> PyResult<()> {
    let job = || -> PyResult<()> { panic!("deliberate panic to test the boundary") };
    if here {
        run_here(py, job)
    } else {
        run(py, move |_| job())
    }
}
