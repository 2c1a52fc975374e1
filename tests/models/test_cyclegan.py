"""CycleGAN on tiny networks: the cycle loss, the image pool, one training step, the learning-rate schedule."""

import torch
from torch import nn

from components.models.translation.cyclegan import ImagePool, cycle_loss
from components.training.loop import LoopConfig, fit
from tests.conftest import model_of

TINY = {"gen_width": 4, "disc_width": 4, "blocks": 1, "pool_size": 4, "channels_a": 1}


def build(**hp):
    torch.manual_seed(0)
    return model_of("cyclegan", (2, 28, 28), 10, {**TINY, **hp})


def test_cycle_loss_of_an_identity_pair_is_zero_and_of_a_real_pair_is_not():
    a, b = torch.rand(4, 1, 28, 28), torch.rand(4, 1, 28, 28)
    assert cycle_loss(a, b, nn.Identity(), nn.Identity()).item() == 0.0
    model = build()
    assert cycle_loss(a * 2 - 1, b * 2 - 1, model.g_ab, model.g_ba).item() > 0.01


def test_pool_returns_past_images_with_probability_one_half_once_full():
    pool = ImagePool(50, (1, 2, 2))
    rng = torch.Generator().manual_seed(0)
    first = torch.arange(50, dtype=torch.float).view(50, 1, 1, 1).expand(50, 1, 2, 2)
    assert torch.equal(pool.query(first, rng), first)  # while filling, every image comes straight back
    assert int(pool.count) == 50
    n = 4000
    new = (1000 + torch.arange(n, dtype=torch.float)).view(n, 1, 1, 1).expand(n, 1, 2, 2)
    out = torch.cat([pool.query(new[i:i + 8], rng) for i in range(0, n, 8)])
    from_past = (out[:, 0, 0, 0] != new[:, 0, 0, 0]).float().mean().item()
    assert abs(from_past - 0.5) < 0.04, from_past
    # what came back from the past was stored earlier: an original or an image of an earlier query
    past = out[:, 0, 0, 0][out[:, 0, 0, 0] != new[:, 0, 0, 0]]
    assert ((past < 50) | (past >= 1000)).all()


def test_one_step_changes_both_generators_and_discriminators_and_lr_decays_to_zero(tmp_path):
    model = build()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    images = torch.randint(0, 256, (64, 28, 28, 2), dtype=torch.uint8)
    res = fit(model, images, torch.zeros(64, dtype=torch.long),
              LoopConfig(steps=4, batch_size=8, checkpoint_every=4, log_every=1, progress=False), tmp_path)
    after = model.state_dict()
    for net in ("g_ab", "g_ba", "d_a", "d_b"):
        assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith(net + ".")), net
    assert int(model.pool_a.count) == 4  # pool_size 4: filled by the first step's fakes
    factors = [h["lr_factor"] for h in res.history]
    assert factors == [1.0, 1.0, 1.0, 0.5]  # constant for the first half, then linear to 0
    assert model.lr_factor(4, 4) == 0.0
    assert all(h["identity"] > 0 for h in res.history)  # same channel count: the identity term is on


def test_translate_keeps_shape_and_range_and_differs_per_direction():
    model = build().eval()
    x = torch.rand(3, 1, 28, 28)
    ab, ba = model.translate(x, "AtoB"), model.translate(x, "BtoA")
    assert ab.shape == ba.shape == x.shape
    assert 0 <= ab.min() and ab.max() <= 1
    assert not torch.allclose(ab, ba)
