import numpy as np
import pytest
import torch

from components.config.schema import Eval
from components.evaluation.inception import inception_metrics


def test_inception_metrics_and_their_cached_real_side(tmp_path):
    """fid_inception through the shipped TorchScript InceptionV3, on tiny images; the real side is cached."""
    rng = np.random.default_rng(0)
    imgs = torch.from_numpy(rng.integers(0, 256, (24, 28, 28, 1), dtype=np.uint8))
    settings = Eval(prc_k=1, prdc_k=1, max_prdc_samples=100, inception_batch_size=8)
    fake = imgs[:8]
    m = inception_metrics(fake, imgs[16:], imgs[:16], settings, tmp_path / "cache", "tiny-abc", 0, torch.device("cpu"))
    assert {"fid_inception", "precision_inception", "floor_fid_inception"} <= set(m)
    assert all(np.isfinite(v) for v in m.values())
    assert len(list((tmp_path / "cache").iterdir())) == 2  # the test split's features and the floor
    again = inception_metrics(fake, imgs[16:], imgs[:16], settings, tmp_path / "cache", "tiny-abc", 0, "cpu")
    assert again == pytest.approx(m)
