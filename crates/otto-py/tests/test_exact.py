"""Exact OT from Python against independent truths: SciPy's assignment solver (brute-force LP
optimum for uniform n×n), POT's network simplex on the same arrays, and the primal–dual
optimality conditions."""

import numpy as np
import otto_ot
import pytest
from scipy.optimize import linear_sum_assignment


def clouds(n, m=None, d=2, seed=0):
    rng = np.random.default_rng(seed)
    m = n if m is None else m
    x = rng.normal(size=(n, d))
    y = rng.normal(size=(m, d)) + 0.5
    return x, y, ((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)


@pytest.mark.parametrize("n", [1, 7, 64, 300])
def test_uniform_cost_matches_the_assignment_optimum(n):
    _, _, M = clouds(n, seed=n)
    rows, cols = linear_sum_assignment(M)
    want = M[rows, cols].sum() / n
    assert otto_ot.emd2([], [], M) == pytest.approx(want, rel=1e-12, abs=1e-15)


def test_plan_is_optimal_and_feasible_with_general_weights():
    rng = np.random.default_rng(1)
    _, _, M = clouds(40, 55, seed=1)
    a = rng.random(40)
    a /= a.sum()
    b = rng.random(55)
    b /= b.sum()
    G, log = otto_ot.emd(a, b, M, log=True)
    np.testing.assert_allclose(G.sum(1), a, atol=1e-14)
    np.testing.assert_allclose(G.sum(0), b, atol=1e-14)
    assert G.min() >= 0
    assert log["cost"] == pytest.approx((G * M).sum(), rel=1e-12)
    # Strong duality and dual feasibility: ⟨a, u⟩ + ⟨b, v⟩ = cost, u_i + v_j ≤ M_ij.
    u, v = log["u"], log["v"]
    assert a @ u + b @ v == pytest.approx(log["cost"], rel=1e-10)
    assert (u[:, None] + v[None, :] - M).max() < 1e-10
    # Complementary slackness: the support lies where the dual constraint is tight.
    assert np.abs((M - u[:, None] - v[None, :])[G > 0]).max() < 1e-10
    # Centred duals (POT's convention): Σ a u = Σ b v.
    assert a @ u == pytest.approx(b @ v, abs=1e-10)


def test_same_optimum_as_pot():
    ot = pytest.importorskip("ot")
    _, _, M = clouds(200, 150, seed=2)
    rng = np.random.default_rng(2)
    a = rng.random(200)
    a /= a.sum()
    b = rng.random(150)
    b /= b.sum()
    assert otto_ot.emd2(a, b, M) == pytest.approx(ot.emd2(a, b, M), rel=1e-12)


def test_memory_order_and_dtype_are_read_not_transposed():
    _, _, M = clouds(30, 45, seed=3)
    a = np.full(30, 1 / 30)
    b = np.full(45, 1 / 45)
    want = otto_ot.emd(a, b, M)
    fortran = otto_ot.emd(a, b, np.asfortranarray(M))
    np.testing.assert_array_equal(fortran, want)
    wide = np.zeros((30, 90))
    wide[:, ::2] = M  # a strided view
    np.testing.assert_array_equal(otto_ot.emd(a, b, wide[:, ::2]), want)
    single = otto_ot.emd(a.astype(np.float32), b.astype(np.float32), M.astype(np.float32))
    assert single.dtype == np.float32
    assert otto_ot.emd2(a, b, M.astype(np.float32)) == pytest.approx(
        otto_ot.emd2(a, b, M), rel=1e-6
    )


def test_multiple_target_histograms():
    _, _, M = clouds(20, 25, seed=4)
    rng = np.random.default_rng(4)
    B = rng.random((25, 3))
    B /= B.sum(0)
    costs = otto_ot.emd2([], B, M)
    assert costs.shape == (3,)
    for k in range(3):
        assert costs[k] == pytest.approx(otto_ot.emd2([], B[:, k], M), rel=1e-14)


def test_iteration_cap_is_a_warning():
    _, _, M = clouds(100, seed=5)
    with pytest.warns(UserWarning, match="numItermax"):
        _, log = otto_ot.emd([], [], M, numItermax=3, log=True)
    assert log["result_code"] == 3 and log["warning"]


def test_exact_w2_and_one_dimensional_solver():
    rng = np.random.default_rng(6)
    x = rng.normal(size=50)
    y = rng.normal(size=70) * 2 + 1
    M = (x[:, None] - y[None, :]) ** 2
    # The monotone coupling is optimal on the line: the general LP must agree.
    assert otto_ot.emd2_1d(x, y) == pytest.approx(otto_ot.emd2([], [], M), rel=1e-12)
    np.testing.assert_allclose(otto_ot.emd_1d(x, y).sum(0), np.full(70, 1 / 70), atol=1e-15)
    assert otto_ot.w2(x[:, None], y[:, None]) == pytest.approx(
        np.sqrt(otto_ot.emd2_1d(x, y)), rel=1e-12
    )
    # W1 on the line: ∫|F⁻¹ − G⁻¹| = ∫|F − G|.
    grid = np.sort(np.concatenate([x, y]))
    F = np.searchsorted(np.sort(x), grid, side="right") / 50
    G = np.searchsorted(np.sort(y), grid, side="right") / 70
    w1 = np.sum(np.abs(F - G)[:-1] * np.diff(grid))
    assert otto_ot.wasserstein_1d(x, y, p=1) == pytest.approx(w1, rel=1e-12)


def test_sliced_equals_exact_in_one_dimension():
    # Truth: in d = 1 every direction is ±1, so sliced W2 is W2.
    rng = np.random.default_rng(7)
    x = rng.normal(size=(80, 1))
    y = rng.normal(size=(60, 1)) + 2
    assert otto_ot.sliced_wasserstein_distance(x, y, seed=3) == pytest.approx(
        otto_ot.w2(x, y), rel=1e-12
    )


@pytest.mark.parametrize("n", [64, 512])
def test_exact_pairs_are_the_optimal_permutation(n):
    # The kernel of otto_ot.torchcfm.OTPlanSampler("exact"), solved on the calling thread.
    _, _, M = clouds(n, seed=n)
    rows, cols = linear_sum_assignment(M)
    i, j = otto_ot._core.exact_pairs(M, n, False, 0)
    assert list(i) == list(range(n))
    assert M[i, j].sum() == pytest.approx(M[rows, cols].sum(), rel=1e-12)


@pytest.mark.parametrize("n, d", [(64, 2), (600, 3)])
def test_exact_pairs_from_points_are_the_optimal_pairs(n, d):
    # The cost built by otto from the points (on the calling thread up to 512 × 512, on the pool
    # past it): truth, SciPy's assignment on the NumPy cost, and the same seeded draws as the
    # cost-matrix kernel gives on that cost.
    x, y, M = clouds(n, d=d, seed=n)
    i, j = otto_ot._core.exact_pairs_sqeuclidean(x, y.astype(np.float32), n, False, 0)
    assert list(i) == list(range(n))
    y32 = y.astype(np.float32).astype(np.float64)
    M32 = ((x[:, None, :] - y32[None, :, :]) ** 2).sum(-1)
    assert M32[i, j].sum() == pytest.approx(M32[linear_sum_assignment(M32)].sum(), rel=1e-12)
    i, j = otto_ot._core.exact_pairs_sqeuclidean(x, y, 3 * n, True, 5)
    want = otto_ot._core.exact_pairs(M, 3 * n, True, 5)
    np.testing.assert_array_equal(i, want[0])
    np.testing.assert_array_equal(j, want[1])
    with pytest.raises(ValueError, match="x1"):
        otto_ot._core.exact_pairs_sqeuclidean(x, y[:, :1], n, False, 0)
    y[3, 0] = np.nan
    with pytest.raises(ValueError, match="x1"):
        otto_ot._core.exact_pairs_sqeuclidean(x, y, n, False, 0)


def test_exact_pairs_past_the_calling_threads_pivot_budget():
    # C_ij = i·j needs more pivots than the calling thread's budget at n = 300 (its block search
    # degenerates), so otto's pool solves it again; truth: by the rearrangement inequality the
    # optimum pairs i with n − 1 − i.
    n = 300
    M = np.outer(np.arange(n), np.arange(n)) / n**2
    i, j = otto_ot._core.exact_pairs(M, n, False, 0)
    assert list(j) == [n - 1 - k for k in i]


def test_plan_sampling():
    _, _, M = clouds(50, seed=8)
    G = otto_ot.emd([], [], M)
    i, j = otto_ot.sample_plan(G, 50, replace=False, seed=0)
    assert sorted(i) == list(range(50)) and sorted(j) == list(range(50))
    assert np.all(G[i, j] > 0)
    # With replacement from a 2×2 plan: frequencies follow the plan.
    P = np.array([[0.1, 0.4], [0.3, 0.2]])
    i, j = otto_ot.sample_plan(P, 200_000, seed=1)
    freq = np.bincount(2 * i + j, minlength=4) / 200_000
    np.testing.assert_allclose(freq, P.ravel(), atol=4e-3)
    with pytest.raises(ValueError, match="not a permutation"):
        otto_ot.sample_plan(P, 2, replace=False)
