"""Pixel likelihoods: PixelCNN++'s mixture of discretised logistics is normalised over its bins, agrees with itself
bin by bin, and keeps a gradient where a clamped difference of CDFs would have none."""

import pytest
import torch

from components.models import likelihoods as lik


def _mixture_out(scale: float, k: int = 5, seed: int = 0) -> torch.Tensor:
    """(2, 3k, 1, 3, 3) random mixture numbers: logits, means (through a sigmoid), log scales around log(scale)."""
    g = torch.Generator().manual_seed(seed)
    logit, mean = torch.randn(2, k, 1, 3, 3, generator=g), torch.randn(2, k, 1, 3, 3, generator=g) * 2
    log_scale = torch.log(torch.tensor(scale)) + torch.randn(2, k, 1, 3, 3, generator=g) * 0.5
    return torch.cat([logit, mean, log_scale], 1).double()


@pytest.mark.parametrize("scale", [0.3, 0.05, 1e-3])  # wide, a few bins, well under a bin (the fallback's range)
def test_the_256_bins_of_a_logistic_mixture_sum_to_one(scale):
    mixture = lik.LogisticMixture(256, 5)
    total = mixture.log_probs(_mixture_out(scale)).exp().sum(1)  # over the 256 levels
    assert total.shape == (2, 1, 3, 3)
    # exact where every bin is a difference of CDFs; within TINY_BIN a bin where the mid-bin density stands in
    assert torch.allclose(total, torch.ones_like(total), atol=256 * lik.TINY_BIN)


def test_one_bin_log_prob_is_that_bins_entry_of_every_bins():
    mixture = lik.LogisticMixture(256, 5)
    out = _mixture_out(0.05)
    q = torch.randint(0, 256, (2, 1, 3, 3))
    every = mixture.log_probs(out)
    assert torch.allclose(mixture.log_prob(out, q), every.gather(1, q.unsqueeze(1)).squeeze(1))


@pytest.mark.parametrize("level", [0, 1, 128, 254, 255])
def test_the_gradient_reaches_a_bin_far_from_every_component(level):
    # one narrow component at 0.5: the edge bins take the tails, an inner bin far away has a probability of about
    # 1e-60, where a clamped difference of CDFs has no gradient and the mid-bin density has one
    mixture = lik.LogisticMixture(256, 1)
    mean = torch.tensor([0.0 if level != 128 else 3.0], dtype=torch.float64, requires_grad=True)  # sigmoid: 0.5, 0.95
    log_scale = torch.tensor([-4.0], dtype=torch.float64)
    out = torch.stack([torch.zeros(1, dtype=torch.float64), mean, log_scale]).view(1, 3, 1)
    log_p = mixture.log_prob(out, torch.tensor([[level]]))
    (grad,) = torch.autograd.grad(log_p.sum(), mean)
    assert torch.isfinite(log_p).all() and log_p.item() < -20
    assert grad.abs().item() > 1.0  # pulled towards the observed bin


def test_the_vaes_single_logistic_is_a_one_component_mixture():
    g = torch.Generator().manual_seed(1)
    mean, log_scale = torch.rand(3, 1, 4, 4, generator=g), torch.randn(3, 1, 4, 4, generator=g) - 3
    q = torch.randint(0, 256, (3, 1, 4, 4), generator=g)
    single = lik.discretized_logistic_log_prob(mean, log_scale, q / 255.0)
    out = torch.stack([torch.zeros_like(mean), torch.logit(mean), log_scale], 1).squeeze(2)  # (3, 3, 4, 4)
    mixture = lik.LogisticMixture(256, 1).log_prob(out.unsqueeze(2), q).flatten(1).sum(1)
    assert torch.allclose(single, mixture, atol=1e-3)
