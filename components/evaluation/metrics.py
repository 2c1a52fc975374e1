"""Sample-quality metrics on precomputed features, through the libraries that define them.

FID, IS and precision/recall/F1 come from torch-fidelity; density/coverage from prdc. Every name carries its
feature space as a suffix (`fid_classifier`, `fid_inception`) so numbers from different spaces never mix.
"""

from __future__ import annotations

import contextlib
import io
from typing import Callable

import numpy as np
import torch

from components import progress
from components.metric_specs import name


def fid_statistics(features: torch.Tensor) -> dict[str, np.ndarray]:
    from torch_fidelity.metric_fid import fid_features_to_statistics

    return fid_features_to_statistics(features.double().cpu())


def fid(stats_a: dict, stats_b: dict) -> float:
    from torch_fidelity.metric_fid import KEY_METRIC_FID, fid_statistics_to_metric

    return fid_statistics_to_metric(stats_a, stats_b, verbose=False)[KEY_METRIC_FID]


def inception_score(logits: torch.Tensor, splits: int = 10) -> tuple[float, float]:
    from torch_fidelity.metric_isc import KEY_METRIC_ISC_MEAN, KEY_METRIC_ISC_STD, isc_features_to_metric

    out = isc_features_to_metric(logits.double().cpu(), splits=splits)
    return out[KEY_METRIC_ISC_MEAN], out[KEY_METRIC_ISC_STD]


KID_SCALE = 1e3  # KID is reported x10^3, as papers do (metric names say so: kid_x1e3_<space>)


def kid(fake: torch.Tensor, real: torch.Tensor, subset_size: int = 1000, subsets: int = 100, seed: int = 0,
        degree: int = 3, gamma: float | None = None, coef0: float = 1.0) -> dict[str, float]:
    """Unbiased KID (Binkowski et al. 2018), raw (not x10^3): the mean of the polynomial-kernel MMD^2,
    k(x, y) = (gamma x.y + coef0)^degree (gamma None: 1/dim), over random subsets of min(subset_size, both set
    sizes) rows, and the std of those subset estimates (they overlap: not a standard error). Unbiased at any N,
    unlike FID, so it is the number to trust at small N."""
    from torch_fidelity.metric_kid import KEY_METRIC_KID_MEAN, KEY_METRIC_KID_STD, kid_features_to_metric

    size = min(subset_size, len(fake), len(real))
    # torch-fidelity 0.4 reads kid_kernel_poly_*; other names (kid_degree, ...) are silently ignored
    out = kid_features_to_metric(fake.double().cpu(), real.double().cpu(), kid_subsets=subsets, kid_subset_size=size,
                                 kid_kernel="poly", kid_kernel_poly_degree=degree, kid_kernel_poly_gamma=gamma,
                                 kid_kernel_poly_coef0=coef0, rng_seed=seed, verbose=False)
    return {"kid": out[KEY_METRIC_KID_MEAN], "kid_subset_std": out[KEY_METRIC_KID_STD]}


def precision_recall(fake: torch.Tensor, real: torch.Tensor, k: int = 3) -> dict[str, float]:
    from torch_fidelity.metric_prc import (KEY_METRIC_F_SCORE, KEY_METRIC_PRECISION, KEY_METRIC_RECALL,
                                           prc_features_to_metric)

    out = prc_features_to_metric(fake.float().cpu(), real.float().cpu(), prc_neighborhood=k,
                                 prc_batch_size=10000, save_cpu_ram=False, verbose=False)
    return {"precision": out[KEY_METRIC_PRECISION], "recall": out[KEY_METRIC_RECALL],
            "f1": out[KEY_METRIC_F_SCORE]}


def density_coverage(fake: torch.Tensor, real: torch.Tensor, k: int = 5) -> dict[str, float]:
    from prdc import compute_prdc

    with contextlib.redirect_stdout(io.StringIO()):  # prdc prints its sample counts
        out = compute_prdc(real.float().cpu().numpy(), fake.float().cpu().numpy(), nearest_k=k)
    return {"density": float(out["density"]), "coverage": float(out["coverage"])}


@contextlib.contextmanager
def full_fp32():
    """TF32 off for convolutions and matmuls (torch 2.14 leaves cuDNN's on): features are measured in fp32."""
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


@torch.no_grad()
def extract(fn: Callable[[torch.Tensor], torch.Tensor | tuple], images_uint8_nhwc: torch.Tensor,
            batch_size: int, device: torch.device) -> list[torch.Tensor]:
    """Run `fn` over uint8 NHWC images in batches, in fp32 with TF32 off; returns each of its outputs
    concatenated on the CPU."""
    from components.images import to_float_images

    outs: list[list[torch.Tensor]] = []
    with full_fp32():
        for i in progress.bar(range(0, len(images_uint8_nhwc), batch_size), f"features of {len(images_uint8_nhwc)}"):
            res = fn(to_float_images(images_uint8_nhwc[i:i + batch_size]).to(device).float())
            res = res if isinstance(res, tuple) else (res,)
            if not outs:
                outs = [[] for _ in res]
            for acc, r in zip(outs, res):
                acc.append(r.float().cpu())
    return [torch.cat(acc) for acc in outs]


def sample_quality(real_feats: torch.Tensor, fake_feats: torch.Tensor, space: str, *, prc_k: int, prdc_k: int,
                   max_prdc: int, kid_subset_size: int = 1000, kid_subsets: int = 100,
                   real_stats: dict | None = None) -> dict[str, float]:
    """FID + KID (x10^3) + precision/recall/F1 + density/coverage in one feature space, named
    `<metric>_<space>` (components/metric_specs.py says what each is)."""
    real_stats = real_stats or fid_statistics(real_feats)
    k = kid(fake_feats, real_feats, kid_subset_size, kid_subsets)
    m = {name("fid", space): fid(real_stats, fid_statistics(fake_feats)),
         name("kid_x1e3", space): k["kid"] * KID_SCALE,
         name("kid_x1e3", space, spread="subset_std"): k["kid_subset_std"] * KID_SCALE}
    r, f = real_feats[:max_prdc], fake_feats[:max_prdc]
    m.update({name(base, space): v for base, v in precision_recall(f, r, prc_k).items()})
    m.update({name(base, space): v for base, v in density_coverage(f, r, prdc_k).items()})
    return {k: float(v) for k, v in m.items()}
