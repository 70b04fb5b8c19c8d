"""What crosses the Python boundary: errors that name the argument, warnings, panics, the GIL,
Ctrl-C, fork and the thread count."""

import multiprocessing as mp
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import otto_ot
import pytest

M = otto_ot.dist(np.arange(12.0).reshape(6, 2), np.arange(10.0).reshape(5, 2))


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: otto_ot.emd([], [], M[:, :, None]), "M must be 2-D"),
        (lambda: otto_ot.emd(np.ones(5) / 5, [], M), "a has 5 weights"),
        (lambda: otto_ot.emd([], np.ones(4) / 4, M), "b has 4 weights"),
        (
            lambda: otto_ot.emd([], [], np.where(M > 3, np.inf, M)),
            r"M holds a non-finite value \(inf\) at \[0, 1\]",
        ),
        (lambda: otto_ot.emd([], [], M.astype(complex)), "M has dtype complex128"),
        (
            lambda: otto_ot.emd(np.array([0.5, 0.5, 0.5, 0.5, -1.0, 0.0]), [], M),
            "a .*negative weight",
        ),
        (lambda: otto_ot.emd(np.ones(6) / 3, [], M), "same mass"),
        (lambda: otto_ot.emd([], [np.nan] * 5, M), "b holds a non-finite value"),
        (lambda: otto_ot.sinkhorn([], [], M, 0.0), "reg must be positive"),
        (lambda: otto_ot.sinkhorn([], [], M, 1.0, method="greenkhorn"), "sinkhorn_log"),
        (lambda: otto_ot.emd_1d([1.0, 2.0], [1.0], metric="chebyshev"), "metric 'chebyshev'"),
        (lambda: otto_ot.bures_wasserstein_distance([0.0], [0.0], [[1.0]], [[-1.0]]), "Ct"),
        (lambda: otto_ot.set_num_threads(0), "at least 1"),
    ],
)
def test_bad_input_is_a_value_error_naming_the_argument(call, match):
    with pytest.raises(ValueError, match=match) as info:
        call()
    assert isinstance(info.value, otto_ot.InputError)


@pytest.mark.parametrize("here", [False, True], ids=["on otto's pool", "on the calling thread"])
def test_a_panic_is_an_internal_error_and_the_module_survives(here):
    with pytest.raises(RuntimeError, match="deliberate panic") as info:
        otto_ot._core._panic_in_worker(here)
    assert isinstance(info.value, otto_ot.InternalError)
    assert otto_ot.emd2([], [], M) > 0


def test_thread_count_is_settable():
    before = otto_ot.get_num_threads()
    try:
        otto_ot.set_num_threads(1)
        assert otto_ot.get_num_threads() == 1
        otto_ot.set_num_threads(3)
        assert otto_ot.get_num_threads() == 3
        assert otto_ot.emd2([], [], M) > 0
    finally:
        otto_ot.set_num_threads(before)


def test_long_solves_release_the_gil():
    # While one thread solves, Python code in another keeps running.
    x = np.random.default_rng(0).normal(size=(1500, 2))
    C = otto_ot.dist(x, x + 1)
    done = threading.Event()
    ticks = 0

    def solve():
        otto_ot.sinkhorn2([], [], C, 1e-3, numItermax=400, stopThr=0.0, warn=False)
        done.set()

    t = threading.Thread(target=solve)
    t.start()
    while not done.is_set():
        ticks += 1
        time.sleep(0.001)
    t.join()
    assert ticks > 20


def _solve_in_child(queue):
    queue.put(otto_ot.emd2([], [], M))


def test_works_in_a_forked_child_after_the_pool_started():
    # The parent's pool threads do not exist in a forked child (e.g. a DataLoader worker).
    want = otto_ot.emd2([], [], M)
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    children = [ctx.Process(target=_solve_in_child, args=(queue,)) for _ in range(2)]
    for c in children:
        c.start()
    results = [queue.get(timeout=30) for _ in children]
    for c in children:
        c.join(timeout=30)
        assert c.exitcode == 0
    assert results == [want, want]


def test_ctrl_c_interrupts_a_long_solve_within_a_second():
    script = textwrap.dedent(
        """
        import signal, sys, time, numpy as np, otto_ot
        # A shell's background job starts with SIGINT ignored and Python then installs no
        # KeyboardInterrupt handler: restore it, so the test does not depend on how it was run.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        x = np.random.default_rng(0).normal(size=(3000, 2))
        C = otto_ot.dist(x, x + 1)
        print("ready", flush=True)
        try:
            otto_ot.sinkhorn2([], [], C, 1e-4, numItermax=10**9, stopThr=0.0, warn=False)
            print("finished", flush=True)
        except KeyboardInterrupt:
            print("interrupted", time.monotonic(), flush=True)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(1.0)  # well inside the solve
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    line = proc.stdout.readline().split()
    proc.wait(timeout=30)
    assert line[0] == "interrupted"
    assert float(line[1]) - sent < 1.0


def test_ctrl_c_stops_an_exact_solve_and_frees_the_pool():
    # Truth: with one worker thread, a call made after an interrupted solve waits for that
    # solve if it still runs. The network simplex polls the cancel flag at every pivot, so the
    # next call starts at once: it must take well under what was left of the big solve.
    script = textwrap.dedent(
        """
        import signal, sys, time, numpy as np, otto_ot
        signal.signal(signal.SIGINT, signal.default_int_handler)  # as in the test above
        otto_ot.set_num_threads(1)
        rng = np.random.default_rng(0)
        C = otto_ot.dist(rng.normal(size=(4000, 2)), rng.normal(size=(4000, 2)) + 0.5)
        small = otto_ot.dist(rng.normal(size=(20, 2)), rng.normal(size=(20, 2)))
        start = time.monotonic()
        otto_ot.emd2([], [], C)
        print("full", time.monotonic() - start, flush=True)
        print("ready", flush=True)
        try:
            otto_ot.emd2([], [], C)
            print("finished", flush=True)
        except KeyboardInterrupt:
            interrupted = time.monotonic()
            otto_ot.emd2([], [], small)
            print("interrupted", interrupted, time.monotonic() - interrupted, flush=True)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    full = float(proc.stdout.readline().split()[1])
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(full / 5)  # well inside the solve
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    line = proc.stdout.readline().split()
    proc.wait(timeout=60)
    assert line[0] == "interrupted"
    assert float(line[1]) - sent < 1.0
    assert float(line[2]) < 0.5 * full, f"next call took {line[2]} s; the full solve {full} s"
