"""Artifacts a person looks at: the sample grid and the loss curves."""

from __future__ import annotations

from pathlib import Path

import torch


def save_grid(images: torch.Tensor, path: Path, nrow: int = 8) -> Path:
    """images: float NCHW in [0, 1]."""
    from torchvision.utils import save_image

    path.parent.mkdir(parents=True, exist_ok=True)
    save_image(images.float().clamp(0, 1), str(path), nrow=nrow, padding=2, pad_value=1.0)
    return path


def grid_image(images: torch.Tensor, nrow: int = 8):
    """images: float NCHW in [0, 1] -> the same grid as save_grid, as a uint8 HWC array (for mlflow log_image)."""
    from torchvision.utils import make_grid

    grid = make_grid(images.float().clamp(0, 1), nrow=nrow, padding=2, pad_value=1.0)
    return (grid * 255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()


def save_loss_curves(history: list[dict], path: Path, title: str = "") -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=120)
    keys = sorted({k for row in history for k in row if k != "step"})
    for key in keys:
        pts = [(row["step"], row[key]) for row in history if key in row]
        ax.plot([p[0] for p in pts], [p[1] for p in pts], label=key)
    ax.set_xlabel("step")
    ax.set_ylabel("loss (mean per log interval)")
    ax.set_title(title)
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
