"""otto_ot.torchcfm and torch interplay (needs torch and torchcfm; run by bench/peers/run_python.sh,
not in CI, which does not install PyTorch)."""

import numpy as np
import ot
import otto_ot
import pytest
import torch
from otto_ot.torchcfm import OTPlanSampler


def batch(n=128, d=3, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=dtype), torch.randn(
        n, d, generator=g, dtype=dtype
    ) + 1


def test_plan_is_pots_plan_on_the_same_cost():
    x0, x1 = batch()
    M = (torch.cdist(x0, x1) ** 2).numpy()
    want = ot.emd(ot.unif(128), ot.unif(128), M)
    np.testing.assert_array_equal(OTPlanSampler("exact").get_map(x0, x1), want)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_pairs_follow_the_plan_and_keep_dtype(dtype):
    x0, x1 = batch(dtype=dtype)
    sampler = OTPlanSampler("exact")
    np.random.seed(3)
    a, b = sampler.sample_plan(x0, x1)
    assert a.dtype == dtype and b.dtype == dtype and a.shape == x0.shape
    # The same draws as sampling the dense plan of the float64 cost with the same NumPy seed.
    np.random.seed(3)
    M = otto_ot.dist(x0.double().numpy(), x1.double().numpy())
    i, j = sampler.sample_map(otto_ot.emd([], [], M), 128)
    assert torch.equal(a, x0[torch.as_tensor(i)]) and torch.equal(b, x1[torch.as_tensor(j)])


def test_permutation_uses_every_point_once():
    x0, x1 = batch(seed=1)
    a, b = OTPlanSampler("exact").sample_plan(x0, x1, replace=False)
    assert torch.equal(a, x0)  # pairs in source order
    assert sorted(map(tuple, b.tolist())) == sorted(map(tuple, x1.tolist()))
    # The pairing is optimal: its cost equals emd2.
    cost = ((a - b) ** 2).sum(1).mean().item()
    want = ot.emd2(ot.unif(128), ot.unif(128), (torch.cdist(x0, x1) ** 2).numpy())
    assert cost == pytest.approx(want, rel=1e-5)


def test_labels_travel_with_their_points():
    x0, x1 = batch(seed=2)
    y0 = torch.arange(128)
    y1 = torch.arange(128) + 1000
    a, b, ya, yb = OTPlanSampler("exact").sample_plan_with_labels(x0, x1, y0, y1)
    assert torch.equal(x0[ya], a) and torch.equal(x1[yb - 1000], b)


def test_entropic_and_unbalanced_plans_and_a_clear_error_on_underflow():
    x0, x1 = batch(n=64, seed=4)
    pi = OTPlanSampler("sinkhorn", reg=0.5).get_map(x0, x1)
    np.testing.assert_allclose(pi.sum(1), np.full(64, 1 / 64), atol=1e-8)
    assert OTPlanSampler("unbalanced", reg=0.5, reg_m=1.0).get_map(x0, x1).shape == (64, 64)
    trajectory = OTPlanSampler("sinkhorn", reg=0.5).sample_trajectory(torch.stack([x0, x1, x0], 1))
    assert trajectory.shape == (64, 3, 3)
    with pytest.raises(ValueError, match="method"):
        OTPlanSampler("partial")


def _worker_solves(_):
    x = np.random.default_rng(0).normal(size=(64, 2))
    return torch.tensor(otto_ot.emd2([], [], otto_ot.dist(x, x + 1)))


def test_dataloader_workers_after_the_parent_used_otto():
    otto_ot.emd2(
        [], [], otto_ot.dist(np.zeros((3, 2)), np.ones((3, 2)))
    )  # starts the parent's pool
    loader = torch.utils.data.DataLoader(
        list(range(8)),
        batch_size=2,
        num_workers=2,
        collate_fn=_worker_solves,
        multiprocessing_context="fork",
        timeout=60,
    )
    values = [v.item() for v in loader]
    assert len(values) == 4 and len(set(values)) == 1
