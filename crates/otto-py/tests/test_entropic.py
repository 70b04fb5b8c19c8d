"""Entropic OT from Python: the Sinkhorn fixed point's conditions, POT's log-domain solver on the
same arrays, and the Gaussian closed forms."""

import numpy as np
import otto_ot
import pytest


def problem(n=60, m=80, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    y = rng.normal(size=(m, 2)) + 1
    a = rng.random(n) + 0.1
    b = rng.random(m) + 0.1
    return x, y, a / a.sum(), b / b.sum(), otto_ot.dist(x, y)


def test_plan_is_the_sinkhorn_fixed_point():
    _, _, a, b, M = problem()
    reg = 0.3
    G, log = otto_ot.sinkhorn(a, b, M, reg, stopThr=1e-12, log=True)
    np.testing.assert_allclose(G.sum(1), a, atol=1e-12)
    np.testing.assert_allclose(G.sum(0), b, atol=1e-12)
    # Gibbs form: π_ij = a_i b_j exp((f_i + g_j − M_ij)/reg) = u_i K_ij v_j.
    want = np.exp(log["log_u"][:, None] + log["log_v"][None, :] - M / reg)
    np.testing.assert_allclose(G, want, rtol=1e-10)
    assert otto_ot.sinkhorn2(a, b, M, reg, stopThr=1e-12) == pytest.approx((G * M).sum(), rel=1e-10)


def test_same_plan_as_pot_log_domain():
    ot = pytest.importorskip("ot")
    _, _, a, b, M = problem(seed=1)
    ours = otto_ot.sinkhorn(a, b, M, 0.5, stopThr=1e-11)
    theirs = ot.sinkhorn(a, b, M, 0.5, method="sinkhorn_log", stopThr=1e-11, numItermax=100000)
    np.testing.assert_allclose(ours, theirs, atol=1e-11)


def test_patched_stabilized_kernel_matches_pot_and_keeps_its_log():
    # Truth: POT's own sinkhorn_stabilized on the same converging problem; its log's duals must
    # rebuild the plan as POT defines them, π = exp((α_i + β_j − M_ij)/reg), logu = α/reg.
    ot = pytest.importorskip("ot")
    import otto_ot.pot

    _, _, a, b, M = problem(seed=2)
    reg = 0.5
    theirs = ot.sinkhorn(
        a, b, M, reg, method="sinkhorn_stabilized", stopThr=1e-11, numItermax=100000
    )
    before = otto_ot.pot.calls["sinkhorn_stabilized"]["otto"]
    otto_ot.pot.patch()
    try:
        G, log = ot.sinkhorn(
            a, b, M, reg, method="sinkhorn_stabilized", stopThr=1e-11, numItermax=100000, log=True
        )
    finally:
        otto_ot.pot.unpatch()
    assert otto_ot.pot.calls["sinkhorn_stabilized"]["otto"] == before + 1
    np.testing.assert_allclose(G, theirs, atol=1e-11)
    rebuilt = np.exp((log["alpha"][:, None] + log["beta"][None, :] - M) / reg)
    np.testing.assert_allclose(rebuilt, G, rtol=1e-9)
    np.testing.assert_allclose(log["logu"], log["alpha"] / reg)
    np.testing.assert_allclose(log["logv"], log["beta"] / reg)
    assert log["warmstart"][0] is log["alpha"] and log["n_iter"] > 0


def test_unbalanced_fixed_point():
    # Truth: the optimality condition of the KL-penalized problem (Chizat et al. 2018):
    # f = −(reg_m reg/(reg_m + reg)) log Σ_j b_j exp((g_j − M_ij)/reg), i.e. the row marginal is
    # a ⊙ exp(−f/reg_m).
    _, _, a, b, M = problem(seed=2)
    a = 2 * a  # masses may differ
    reg, reg_m = 0.4, 1.5
    G, log = otto_ot.sinkhorn_unbalanced(a, b, M, reg, reg_m, stopThr=1e-12, log=True)
    np.testing.assert_allclose(G.sum(1), a * np.exp(-log["f"] / reg_m), rtol=1e-8)
    np.testing.assert_allclose(G.sum(0), b * np.exp(-log["g"] / reg_m), rtol=1e-8)


def test_sinkhorn_divergence_properties():
    x, y, a, b, _ = problem(seed=3)
    assert otto_ot.sinkhorn_divergence(x, x, 1.0) == pytest.approx(0.0, abs=1e-9)
    s = otto_ot.sinkhorn_divergence(x, y, 0.02, a, b, stopThr=1e-6, numItermax=100000)
    w2 = otto_ot.emd2(a, b, otto_ot.dist(x, y))
    assert 0 < s < w2 * 1.05 and s > 0.9 * w2  # → W2² as reg → 0


def test_iteration_cap_is_a_warning():
    _, _, a, b, M = problem(seed=4)
    with pytest.warns(UserWarning, match="did not converge"):
        _, log = otto_ot.sinkhorn(a, b, M, 0.01, numItermax=5, log=True)
    assert log["status"] == "iteration_cap"


def test_gaussian_closed_forms():
    rng = np.random.default_rng(5)
    d = 3
    ms, mt = rng.normal(size=d), rng.normal(size=d)
    R = rng.normal(size=(d, d))
    Cs = R @ R.T + np.eye(d)
    R = rng.normal(size=(d, d))
    Ct = R @ R.T + 0.5 * np.eye(d)
    A, shift = otto_ot.bures_wasserstein_mapping(ms, mt, Cs, Ct)
    # The map pushes N(ms, Cs) to N(mt, Ct) and is the gradient of a convex function.
    np.testing.assert_allclose(A @ ms + shift, mt, atol=1e-12)
    np.testing.assert_allclose(A @ Cs @ A, Ct, atol=1e-10)
    np.testing.assert_allclose(A, A.T, atol=1e-12)
    assert np.linalg.eigvalsh(A).min() > 0
    # W2² = ‖ms − mt‖² + E‖(A − I)(x − ms)‖² for the optimal map.
    eye = np.eye(d)
    want = np.sum((ms - mt) ** 2) + np.trace((A - eye) @ Cs @ (A - eye).T)
    assert otto_ot.bures_wasserstein_distance(ms, mt, Cs, Ct) ** 2 == pytest.approx(want, rel=1e-10)
    mean, cov = otto_ot.gaussian.mccann_interpolation(ms, mt, Cs, Ct, 0.25)
    M_t = 0.75 * eye + 0.25 * A
    np.testing.assert_allclose(cov, M_t @ Cs @ M_t, atol=1e-10)
    np.testing.assert_allclose(mean, 0.75 * ms + 0.25 * mt, atol=1e-14)
    mean, cov = otto_ot.gaussian.entropic_plan(ms, mt, Cs, Ct, sigma=0.7)
    np.testing.assert_allclose(cov[:d, :d], Cs, atol=1e-12)
    np.testing.assert_allclose(cov[d:, d:], Ct, atol=1e-10)
    assert np.linalg.eigvalsh(cov).min() > 0
    ot = pytest.importorskip("ot")
    assert otto_ot.bures_wasserstein_distance(ms, mt, Cs, Ct) == pytest.approx(
        float(ot.gaussian.bures_wasserstein_distance(ms, mt, Cs, Ct)), rel=1e-8
    )


def test_entropic_plan_of_gaussians_matches_sinkhorn_on_samples():
    # The closed-form cross-covariance against Sinkhorn at ε = 2σ² on large 1-D samples.
    rng = np.random.default_rng(6)
    n, sigma = 1500, 0.8
    x = np.sort(rng.normal(size=n))
    y = np.sort(rng.normal(size=n) * 1.5 + 1)
    G = otto_ot.sinkhorn([], [], otto_ot.dist(x[:, None], y[:, None]), 2 * sigma**2, stopThr=1e-9)
    cross = (G * np.outer(x - x.mean(), y - y.mean())).sum()
    _, cov = otto_ot.gaussian.entropic_plan([0.0], [1.0], [[1.0]], [[2.25]], sigma)
    assert cross == pytest.approx(cov[0, 1], abs=0.05)
