"""Images between how they are stored and how networks see them: uint8 NHWC on disk, in metrics and when served;
float NCHW in [0, 1] inside the models. One place, so training, evaluation and serving convert the same way."""

from __future__ import annotations

import torch


def to_float_images(batch_uint8: torch.Tensor) -> torch.Tensor:
    """uint8 NHWC -> float NCHW in [0, 1]; float data (2-D points, data/mixtures.py) keep their values. In torch's
    default float dtype: float32, unless a check sets float64."""
    x = batch_uint8.permute(0, 3, 1, 2).to(torch.get_default_dtype())
    return x if batch_uint8.is_floating_point() else x.div_(255.0)


def to_uint8_images(x: torch.Tensor) -> torch.Tensor:
    """float NCHW in [0, 1] -> uint8 NHWC on the CPU: the inverse, how images are stored, scored and served."""
    return (x.float().clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu()
