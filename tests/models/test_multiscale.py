"""The multi-scale model: its likelihood is exact (every image's probability sums to 1), the full network reads
the small image whole, and a factor that does not divide the image is refused in one line."""

import itertools

import pytest
import torch

from components.errors import ConfigError
from tests.conftest import model_of


def _toy(**hp):
    torch.manual_seed(0)
    model = model_of("multiscale", (1, 4, 4), 10, {"hidden": 4, "layers": 1, **hp}).double()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn_like(p) * 0.5)  # far from uniform, so a missing or doubled term shows
    return model


def test_probabilities_of_every_binary_image_sum_to_one():
    model = _toy()
    images = torch.tensor(list(itertools.product([0, 1], repeat=16))).view(-1, 1, 4, 4)  # all 65,536
    with torch.no_grad():
        log_p = torch.cat([model.log_prob(images[i:i + 8192], None) for i in range(0, len(images), 8192)])
    assert torch.logsumexp(log_p, 0).item() == pytest.approx(0.0, abs=1e-9)
    assert log_p.std() > 0.5  # not a uniform model, which sums to 1 by construction


def test_log_p_is_the_small_images_plus_the_other_pixels_given_it():
    model = _toy()
    x = torch.randint(0, 2, (5, 1, 4, 4))
    small = x[:, :, ::2, ::2]
    per_pixel = model.full.output.log_prob(model.full.params(model.as_input(x), None, model.upsampled(small)), x)
    by_hand = model.small.log_prob(small, None) + sum(per_pixel[:, 0, r, c] for r, c in
                                                      itertools.product(range(4), range(4)) if r % 2 or c % 2)
    assert torch.allclose(model.log_prob(x, None), by_hand)


def test_the_first_pixel_reads_the_small_image_below_and_right_of_it():
    # the conditioning input is unmasked: pixel (0, 0) of the full image already depends on the small image's pixel
    # (1, 1), which stands for rows and columns 2-3, drawn long after it
    model = _toy()
    x = torch.zeros(1, 1, 4, 4, dtype=torch.double)
    small = torch.rand(1, 1, 2, 2, dtype=torch.double, requires_grad=True)
    up = small.repeat_interleave(2, 2).repeat_interleave(2, 3)
    (g,) = torch.autograd.grad(model.full.logits(x, None, up)[0, 1, 0, 0, 0], small)
    assert g[0, 0, 1, 1] != 0


@pytest.mark.parametrize("shape, factor", [((1, 28, 28), 3), ((1, 28, 28), 1)])
def test_a_factor_that_does_not_divide_the_image_is_refused(shape, factor):
    with pytest.raises(ConfigError, match=rf"^multiscale: factor={factor} must be 2 or more and divide"):
        model_of("multiscale", shape, 10, {"factor": factor})
